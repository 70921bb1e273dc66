// Adapts the artifacts facade to the HTTP layer's port. The client's mistakes get their own codes: not an
// archive is invalid_multipart, over the upload limit payload_too_large, over the tenant's quota
// artifact_quota_exceeded (413), any other DomainError (malformed reference, too large to run)
// validation_failed (400), never a 500; any other failure of the store (disk, S3 endpoint) is
// storage_unavailable (503), logged with its cause.
import { ArtifactQuotaError, ArtifactTooLargeError, NotAnArchiveError, type Artifacts } from '../artifacts/index.js';
import { ApiError } from '../api/errors.js';
import type { ArtifactPort } from '../api/ports.js';
import { DomainError } from '../domains/errors.js';

export function artifactPort(artifacts: Artifacts): ArtifactPort {
  return {
    storeArchive: (tenant, source, purpose) => clientErrors(() => artifacts.storeArchiveStream(tenant, source, purpose)),
    checkWorkspace: (tenant, reference) => clientErrors(() => artifacts.checkWorkspace(tenant, reference)),
    deleteUpload: (tenant, reference) => clientErrors(() => artifacts.deleteUpload(tenant, reference)),
    discardScratch: (tenant, reference) => clientErrors(() => artifacts.discardScratch(tenant, reference)),
    storePlan: (tenant, runId, plan) => clientErrors(() => artifacts.storePlan(tenant, runId, plan)),
    openPlan: (tenant, reference) => clientErrors(() => artifacts.openPlan(tenant, reference)),
  };
}

async function clientErrors<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof ApiError) throw error;
    const code = clientCode(error);
    if (code) throw new ApiError(code, error instanceof Error ? error.message : undefined);
    // Errors from the request stream itself (multipart limits, a client that went away) keep their own
    // identity: the app's error handler classifies them (payload_too_large, invalid_multipart, ...).
    if (isRequestStreamError(error)) throw error;
    throw new ApiError('storage_unavailable', undefined, 30, error);
  }
}

function clientCode(error: unknown): 'artifact_quota_exceeded' | 'payload_too_large' | 'invalid_multipart' | 'validation_failed' | undefined {
  if (error instanceof ArtifactQuotaError) return 'artifact_quota_exceeded';
  if (error instanceof ArtifactTooLargeError) return 'payload_too_large';
  if (error instanceof NotAnArchiveError) return 'invalid_multipart';
  if (error instanceof DomainError) return 'validation_failed';
  return undefined;
}

/** @fastify/multipart and busboy errors carry a FST_ code or a statusCode; store failures do not. */
function isRequestStreamError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const named = error as { code?: unknown; statusCode?: unknown };
  return (typeof named.code === 'string' && named.code.startsWith('FST_')) || (typeof named.statusCode === 'number' && named.statusCode < 500);
}
