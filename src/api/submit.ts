// One submit path for every route (v1 and seed-compatible): session check, queue back-pressure mapped
// to 429/503 with Retry-After, optional synchronous wait, and an audit record of who asked for what.
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { PayloadTooLargeError, QueueFullError, ShuttingDownError, type RunRecord, type RunRequest } from '../jobs/types.js';
import type { Principal } from './auth/index.js';
import { ApiError } from './errors.js';
import type { ApiDeps } from './ports.js';

export interface SubmitInput {
  principal: Principal;
  requestId: string;
  run: RunRequest;
  sessionId?: string;
  wait: boolean;
  log?: FastifyBaseLogger;
}

export interface Submitted {
  record: RunRecord;
  finished: boolean;
}

export async function submitRun(deps: ApiDeps, input: SubmitInput): Promise<Submitted> {
  const { principal, run } = input;
  let sessionId: string | undefined;
  if (input.sessionId !== undefined) {
    const session = await deps.sessions.touch(principal.tenant, input.sessionId);
    if (!session) throw new ApiError('session_not_found');
    sessionId = session.id;
  }
  let record: RunRecord;
  try {
    record = await deps.jobs.submit(principal.tenant, run, sessionId === undefined ? {} : { sessionId });
  } catch (error) {
    if (error instanceof QueueFullError) {
      throw new ApiError(error.scope === 'tenant' ? 'tenant_queue_full' : 'service_queue_full', undefined, error.retryAfterSeconds);
    }
    if (error instanceof ShuttingDownError) throw new ApiError('shutting_down', undefined, 5);
    if (error instanceof PayloadTooLargeError) throw new ApiError('payload_too_large', error.message);
    throw error;
  }
  input.log?.info({ run_id: record.id, kind: run.kind }, 'run submitted');
  deps.audit.record({
    event: 'run_submitted',
    tenant: principal.tenant,
    auth: principal.method,
    request_id: input.requestId,
    run_id: record.id,
    kind: run.kind,
    what: describe(run),
    ...(sessionId === undefined ? {} : { session_id: sessionId }),
  });
  if (!input.wait) return { record, finished: false };
  const waited = await deps.jobs.wait(principal.tenant, record.id, deps.config.syncWaitSeconds * 1000);
  const latest = waited ?? record;
  return { record: latest, finished: ['succeeded', 'failed', 'cancelled'].includes(latest.state) };
}

/** What the audit log says was asked for: commands verbatim, scripts and files by digest (they may be large or carry data). */
function describe(run: RunRequest): Record<string, unknown> {
  switch (run.kind) {
    case 'command':
      return { command: run.request.command, files: Object.keys(run.request.files ?? {}).length };
    case 'script':
      return { script_sha256: digest(run.request.script), script_bytes: Buffer.byteLength(run.request.script), files: Object.keys(run.request.files ?? {}).length };
    case 'terraform': {
      const input = run.request.input;
      return {
        mode: run.request.mode,
        input: input.kind,
        ...(input.kind === 'files' ? { files: Object.keys(input.files).length } : {}),
        // Archives travel by reference; a multipart archive's digest was taken as it was stored.
        ...(input.kind === 'reference' ? { reference: input.reference } : {}),
        ...(input.kind === 'reference' && input.sha256 !== undefined ? { archive_sha256: input.sha256, archive_bytes: input.bytes } : {}),
        credentials: run.request.credentials ? 'supplied' : 'none',
      };
    }
  }
}

function digest(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
