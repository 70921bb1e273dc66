// API v1 runs: submit a command, a script or a Terraform run (JSON files map, stored archive, or
// multipart upload); sync (?wait=true -> 200) or async (202 + Location); get; plan JSON; cancel.
// Inline inputs are bounded here, before enqueue; archives are queued by reference, never by value.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AwsCredentials, TerraformMode } from '../../domains/terraform/types.js';
import type { QueuedTerraformInput, RunRequest } from '../../jobs/types.js';
import { principalOf } from '../app.js';
import { ApiError, DOMAIN_ERROR_CODES } from '../errors.js';
import { errorResponses, SECURED } from '../openapi-responses.js';
import type { ApiDeps } from '../ports.js';
import { isFinal, presentRun, runPath } from '../present.js';
import { AnyObject, ArchiveForm, CommandBody, IdParams, RunView, ScriptBody, TerraformBody, WaitQuery } from '../schemas.js';
import { submitRun } from '../submit.js';
import { readArchiveForm } from './archive-form.js';
import { checkCommandInputs, checkTerraformFiles } from './input-bounds.js';

const submitResponses = {
  200: { ...RunView, description: 'The run finished (?wait=true).' },
  202: { ...RunView, description: 'Accepted; poll the Location.' },
  ...errorResponses(['validation_failed', 'invalid_json', 'payload_too_large', 'unsupported_media_type', 'session_not_found', 'session_host_gone', 'tenant_queue_full', 'service_queue_full', 'shutting_down']),
};

export function registerRunRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const reply = async (request: FastifyRequest, res: FastifyReply, run: RunRequest, wait: boolean, sessionId?: string) => {
    const submitted = await submitRun(deps, {
      principal: principalOf(request),
      requestId: request.id, log: request.log,
      run,
      wait,
      ...(sessionId === undefined ? {} : { sessionId }),
    });
    if (!submitted.finished) void res.code(202).header('location', runPath(submitted.record.id));
    return presentRun(submitted.record);
  };

  app.post<{ Body: CommandBody; Querystring: WaitQuery }>('/api/v1/runs/commands', {
    schema: { tags: ['runs'], summary: 'Run one allowlisted command line', security: SECURED, body: CommandBody, querystring: WaitQuery, response: submitResponses },
  }, async (request, res) => {
    const { session_id, ...rest } = request.body;
    checkCommandInputs(deps.config, rest.files, rest.stdin);
    return reply(request, res, { kind: 'command', request: { kind: 'command', ...rest } }, request.query.wait === true, session_id);
  });

  app.post<{ Body: ScriptBody; Querystring: WaitQuery }>('/api/v1/runs/scripts', {
    schema: { tags: ['runs'], summary: 'Run a script under sh (only allowlisted programs exist in the jail)', security: SECURED, body: ScriptBody, querystring: WaitQuery, response: submitResponses },
  }, async (request, res) => {
    const { session_id, ...rest } = request.body;
    checkCommandInputs(deps.config, rest.files, rest.stdin);
    return reply(request, res, { kind: 'script', request: { kind: 'script', ...rest } }, request.query.wait === true, session_id);
  });

  app.post<{ Body: TerraformBody; Querystring: WaitQuery }>('/api/v1/runs/terraform', {
    schema: {
      tags: ['runs'], summary: 'Run terraform validate or plan on a files map or a stored archive', security: SECURED, body: TerraformBody, querystring: WaitQuery,
      response: { ...submitResponses, ...errorResponses(['validation_failed', 'artifact_not_found', 'tenant_queue_full', 'service_queue_full', 'shutting_down']) },
    },
  }, async (request, res) => {
    const body = request.body;
    const input = await terraformInput(deps, principalOf(request).tenant, body.files, body.workspace_reference);
    return reply(request, res, terraformRun(input, body.mode, body.working_dir, body.credentials), request.query.wait === true);
  });

  app.post<{ Querystring: WaitQuery }>('/api/v1/runs/terraform/archive', {
    // The multipart body is parsed by the handler (streamed, size-capped); the schema documents it.
    validatorCompiler: ({ httpPart }) => (httpPart === 'body' ? () => true : undefined) as never,
    schema: {
      tags: ['runs'], summary: 'Run terraform on an uploaded .zip or .tar.gz (multipart/form-data)', security: SECURED, consumes: ['multipart/form-data'],
      body: ArchiveForm, querystring: WaitQuery,
      response: { ...submitResponses, ...errorResponses(['invalid_multipart', 'payload_too_large', 'artifact_quota_exceeded', 'tenant_queue_full', 'service_queue_full', 'shutting_down']) },
    },
  }, async (request, res) => {
    // This route's validator is off (multipart body), so the query arrives as text.
    const wait = String((request.query as Record<string, unknown>)['wait'] ?? 'false');
    if (!['true', 'false'].includes(wait)) throw new ApiError('validation_failed', 'querystring/wait must be true or false');
    const tenant = principalOf(request).tenant;
    // Streamed into the store as a per-run scratch object; the queue holds only its reference, and the
    // job service deletes it when the run ends (whichever way it ends).
    const form = await readArchiveForm(request, deps.artifacts, tenant);
    const { reference, sha256, bytes } = form.archive;
    const input: QueuedTerraformInput = { kind: 'reference', reference, scratch: true, sha256, bytes };
    try {
      return await reply(request, res, terraformRun(input, form.mode, form.workingDir, form.credentials), wait === 'true');
    } catch (error) {
      // Not queued (queue full, shutting down): nothing else will delete it. Deleting twice is harmless.
      await deps.artifacts.discardScratch(tenant, form.archive.reference);
      throw error;
    }
  });

  app.get<{ Params: IdParams }>('/api/v1/runs/:id', {
    schema: { tags: ['runs'], summary: 'Get a run', security: SECURED, params: IdParams, response: { 200: RunView, ...errorResponses(['run_not_found']) } },
  }, async (request) => {
    const record = await deps.jobs.get(principalOf(request).tenant, request.params.id);
    if (!record) throw new ApiError('run_not_found');
    return presentRun(record);
  });

  app.get<{ Params: IdParams }>('/api/v1/runs/:id/plan', {
    schema: {
      tags: ['runs'], summary: 'The plan JSON (`terraform show -json`) of a finished plan run, streamed from the artifact store', security: SECURED, params: IdParams,
      response: { 200: AnyObject, ...errorResponses(['run_not_found', 'plan_not_available', 'run_not_finished', 'storage_unavailable', 'validation_error', 'security_violation', 'provider_error', 'resource_limit', 'execution_timeout', 'unknown_error']) },
    },
  }, async (request, res) => {
    const tenant = principalOf(request).tenant;
    const record = await deps.jobs.get(tenant, request.params.id);
    if (!record) throw new ApiError('run_not_found');
    if (!isFinal(record)) throw new ApiError('run_not_finished');
    // The stored bytes are sent as they are read: a plan of up to TF_MAX_PLAN_JSON_SIZE is never parsed
    // and re-serialized on the main thread (that stalled every other request for its duration).
    if (record.plan_reference !== undefined) {
      const stream = await deps.artifacts.openPlan(tenant, record.plan_reference);
      if (stream !== undefined) return res.type('application/json').send(stream);
    }
    const outcome = record.outcome;
    if (outcome?.kind === 'terraform' && outcome.result.plan_json !== null && outcome.result.plan_json !== undefined) return outcome.result.plan_json;
    const error = record.error ?? outcome?.result.error;
    if (error) throw new ApiError(DOMAIN_ERROR_CODES[error.type], error.message);
    throw new ApiError('plan_not_available');
  });

  app.post<{ Params: IdParams }>('/api/v1/runs/:id/cancel', {
    schema: { tags: ['runs'], summary: 'Cancel a run (its jail is killed at once)', security: SECURED, params: IdParams, response: { 200: RunView, ...errorResponses(['run_not_found']) } },
  }, async (request) => {
    const principal = principalOf(request);
    const record = await deps.jobs.cancel(principal.tenant, request.params.id);
    if (!record) throw new ApiError('run_not_found');
    deps.audit.record({ event: 'run_cancel', tenant: principal.tenant, auth: principal.method, request_id: request.id, run_id: record.id, state: record.state });
    return presentRun(record);
  });
}

/**
 * A Terraform run's input as queued: a files map checked against TF_MAX_FILES / TF_MAX_UPLOAD_SIZE /
 * TF_MAX_FILE_SIZE, or a stored archive the tenant owns, checked to exist (not read: the executor reads
 * it when the run starts).
 */
export async function terraformInput(deps: ApiDeps, tenant: string, files?: Record<string, string>, reference?: string): Promise<QueuedTerraformInput> {
  if (files !== undefined && reference === undefined) {
    checkTerraformFiles(deps.config, files);
    return { kind: 'files', files };
  }
  if (reference === undefined || files !== undefined) throw new ApiError('validation_failed', 'give exactly one of files or workspace_reference');
  if (!(await deps.artifacts.checkWorkspace(tenant, reference))) throw new ApiError('artifact_not_found');
  return { kind: 'reference', reference };
}

export function terraformRun(input: QueuedTerraformInput, mode: TerraformMode | undefined, workingDir: string | undefined, credentials: AwsCredentials | undefined): RunRequest {
  return {
    kind: 'terraform',
    request: {
      input,
      mode: mode ?? 'plan',
      ...(workingDir === undefined ? {} : { working_dir: workingDir }),
      ...(credentials === undefined ? {} : { credentials }),
    },
  };
}
