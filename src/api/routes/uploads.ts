// Stores an archive for later runs (`workspace_reference` / seed 001's `upload_id`), owned by the tenant,
// and deletes it again. The upload is streamed into the store (capped by UPLOAD_LIMIT_MB and the tenant's
// ARTIFACT_TENANT_QUOTA_MB), never buffered whole; uploads expire after ARTIFACT_TTL_SECONDS anyway.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { principalOf } from '../app.js';
import { ApiError } from '../errors.js';
import { errorResponses, SECURED } from '../openapi-responses.js';
import type { ApiDeps } from '../ports.js';
import { UploadView } from '../schemas.js';
import { storeFilePart } from './archive-form.js';

const UploadParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 1024, description: 'The `upload_id` returned at upload (URL-encoded), or just its last segment (`<hex>.zip`).' }),
});
type UploadParams = Static<typeof UploadParams>;

export function registerUploadRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post('/api/v1/uploads', {
    validatorCompiler: ({ httpPart }) => (httpPart === 'body' ? () => true : undefined) as never,
    schema: {
      tags: ['runs'], summary: 'Store a .zip or .tar.gz for later runs (multipart part "archive")', security: SECURED, consumes: ['multipart/form-data'],
      body: Type.Object({ archive: Type.String({ format: 'binary' }) }, { required: ['archive'] }),
      response: { 201: UploadView, ...errorResponses(['invalid_multipart', 'payload_too_large', 'artifact_quota_exceeded', 'storage_unavailable']) },
    },
  }, async (request, reply) => {
    const principal = principalOf(request);
    if (!request.isMultipart()) throw new ApiError('invalid_multipart', 'expected multipart/form-data');
    const part = await request.file();
    if (!part || part.fieldname !== 'archive') throw new ApiError('invalid_multipart', 'missing the "archive" file part');
    const stored = await storeFilePart(deps.artifacts, principal.tenant, part, 'upload');
    deps.audit.record({ event: 'upload_stored', tenant: principal.tenant, auth: principal.method, request_id: request.id, what: { bytes: stored.bytes, kind: stored.kind, sha256: stored.sha256, reference: stored.reference } });
    return reply.code(201).send({ upload_id: stored.reference, workspace_reference: stored.reference });
  });

  app.delete<{ Params: UploadParams }>('/api/v1/uploads/:id', {
    schema: {
      tags: ['runs'], summary: 'Delete one of your uploads (another tenant\'s is 404, like an unknown one)', security: SECURED, params: UploadParams,
      response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(['artifact_not_found', 'storage_unavailable']) },
    },
  }, async (request, reply) => {
    const principal = principalOf(request);
    const reference = uploadReference(request.params.id);
    if (!(await deps.artifacts.deleteUpload(principal.tenant, reference))) throw new ApiError('artifact_not_found');
    deps.audit.record({ event: 'upload_deleted', tenant: principal.tenant, auth: principal.method, request_id: request.id, what: { reference } });
    return reply.code(204).send();
  });
}

/** The full reference (as returned at upload) or its last segment, which names `artifact://uploads/<it>`. */
function uploadReference(id: string): string {
  return id.includes('://') ? id : `artifact://uploads/${id}`;
}
