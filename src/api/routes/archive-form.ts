// Reads a multipart Terraform submission: one archive part (.zip or .tar.gz, told apart by magic
// bytes, not by the client's filename or content-type) plus a few small text fields. The archive is
// streamed into the artifact store as the request arrives (a per-run scratch object), never held whole
// in memory; sizes are capped by @fastify/multipart's limits and the tenant's quota; anything else is
// invalid_multipart. If the form turns out bad after the archive was stored, the object is deleted.
import { finished } from 'node:stream/promises';
import type { MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { checkCredentials } from '../../domains/terraform/credentials.js';
import type { AwsCredentials, TerraformMode } from '../../domains/terraform/types.js';
import { ApiError } from '../errors.js';
import type { ArtifactPort, StoredArchiveView } from '../ports.js';

export interface ArchiveForm {
  /** The stored scratch copy of the archive; the caller owns it (discard it if the run is not queued). */
  archive: StoredArchiveView;
  mode?: TerraformMode;
  workingDir?: string;
  credentials?: AwsCredentials;
}

export async function readArchiveForm(request: FastifyRequest, artifacts: ArtifactPort, tenant: string): Promise<ArchiveForm> {
  if (!request.isMultipart()) throw new ApiError('invalid_multipart', 'expected multipart/form-data');
  let archive: StoredArchiveView | undefined;
  try {
    const fields: Record<string, string> = {};
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'archive' || archive) throw new ApiError('invalid_multipart', 'exactly one file part named "archive" is expected');
        archive = await storeFilePart(artifacts, tenant, part, 'scratch');
      } else {
        if (!['mode', 'working_dir', 'credentials'].includes(part.fieldname)) throw new ApiError('invalid_multipart', `unknown field "${part.fieldname}"`);
        fields[part.fieldname] = String(part.value);
      }
    }
    if (!archive) throw new ApiError('invalid_multipart', 'missing the "archive" file part');
    return {
      archive,
      ...(fields['mode'] === undefined ? {} : { mode: parseMode(fields['mode']) }),
      ...(fields['working_dir'] === undefined ? {} : { workingDir: fields['working_dir'] }),
      ...(fields['credentials'] === undefined ? {} : { credentials: parseCredentials(fields['credentials']) }),
    };
  } catch (error) {
    if (archive) await artifacts.discardScratch(tenant, archive.reference);
    throw error;
  }
}

/**
 * Streams a multipart file part into the store. busboy ends a part cut at the size limit quietly (only
 * `truncated` says so): that is payload_too_large here. If the store refuses the part midway (quota,
 * not an archive), the rest of it is drained (bounded by the multipart size limit) so the request ends
 * normally and the client reads the error instead of a hung or reset connection.
 */
export async function storeFilePart(artifacts: ArtifactPort, tenant: string, part: MultipartFile, purpose: 'upload' | 'scratch'): Promise<StoredArchiveView> {
  const file = part.file;
  let requestError: unknown;
  async function* bytes(): AsyncGenerator<Buffer> {
    try {
      // destroyOnReturn false: a refused part must stay drainable (a destroyed part stalls the request).
      for await (const chunk of file.iterator({ destroyOnReturn: false })) yield chunk as Buffer;
    } catch (error) {
      requestError = error;
      throw error;
    }
    if (file.truncated) throw new ApiError('payload_too_large', 'the archive exceeds UPLOAD_LIMIT_MB');
  }
  const source = bytes();
  try {
    return await artifacts.storeArchive(tenant, source, purpose);
  } catch (error) {
    // Ends the iteration (removing its 'readable' listener, which would make resume() a no-op).
    await source.return(undefined);
    if (!file.destroyed && !file.readableEnded) {
      file.resume();
      // The drain's own outcome does not matter: the client gets the refusal above either way.
      await finished(file).catch(() => undefined);
    }
    // The request's own stream failed while the store read it (a body cut short or malformed: busboy's
    // "Unexpected end of multipart data", a client gone): that error, classified by the app as the
    // client's (invalid_multipart, ...), not the store's storage_unavailable it was wrapped in. Which of the
    // two reads fails first depends only on how the body's packets arrive.
    throw requestError ?? error;
  }
}

function parseMode(value: string): TerraformMode {
  if (value === 'plan' || value === 'validate') return value;
  throw new ApiError('validation_failed', 'mode must be "validate" or "plan"');
}

function parseCredentials(value: string): AwsCredentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    // The value is a secret: never echo it back in the error.
    throw new ApiError('validation_failed', 'credentials must be a JSON object');
  }
  // The same rule as the JSON body's schema and the domain entry (domains/terraform/credentials.ts).
  const checked = checkCredentials(parsed);
  if (!checked.ok) throw new ApiError('validation_failed', checked.message);
  return checked.credentials;
}
