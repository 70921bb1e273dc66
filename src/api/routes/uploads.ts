// Stores an archive for later runs (`workspace_reference` / seed 001's `upload_id`), owned by the tenant.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { principalOf } from '../app.js';
import { ApiError } from '../errors.js';
import { errorResponses, SECURED } from '../openapi-responses.js';
import type { ApiDeps } from '../ports.js';
import { UploadView } from '../schemas.js';
import { archiveKind } from './archive-form.js';

export function registerUploadRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post('/api/v1/uploads', {
    validatorCompiler: ({ httpPart }) => (httpPart === 'body' ? () => true : undefined) as never,
    schema: {
      tags: ['runs'], summary: 'Store a .zip or .tar.gz for later runs (multipart part "archive")', security: SECURED, consumes: ['multipart/form-data'],
      body: Type.Object({ archive: Type.String({ format: 'binary' }) }, { required: ['archive'] }),
      response: { 201: UploadView, ...errorResponses(['invalid_multipart', 'payload_too_large', 'storage_unavailable']) },
    },
  }, async (request, reply) => {
    const principal = principalOf(request);
    if (!request.isMultipart()) throw new ApiError('invalid_multipart', 'expected multipart/form-data');
    const part = await request.file();
    if (!part || part.fieldname !== 'archive') throw new ApiError('invalid_multipart', 'missing the "archive" file part');
    const data = await part.toBuffer();
    const reference = await deps.artifacts.storeUpload(principal.tenant, data, archiveKind(data));
    deps.audit.record({ event: 'upload_stored', tenant: principal.tenant, auth: principal.method, request_id: request.id, what: { bytes: data.length, reference } });
    return reply.code(201).send({ upload_id: reference, workspace_reference: reference });
  });
}
