// Seed-compatible routes with the request and response shapes the seed services document:
// POST /internal/execute (seed 000), POST /api/v1/execute (seed 001), POST /execute (seed 004),
// GET /status with recent executions (seed 003). They call the same submit path as API v1.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RunRecord } from '../../jobs/types.js';
import type { RunResult } from '../../jail/spec.js';
import { principalOf } from '../app.js';
import { errorResponses, SECURED } from '../openapi-responses.js';
import type { ApiDeps } from '../ports.js';
import { runPath } from '../present.js';
import { stepsOf } from '../metrics.js';
import { ExecuteBody, InternalExecuteBody, V1ExecuteBody } from '../schemas.js';
import { submitRun } from '../submit.js';
import { terraformInput, terraformRun } from './runs.js';

const submitErrors = ['validation_failed', 'invalid_json', 'payload_too_large', 'artifact_not_found', 'session_not_found', 'session_host_gone', 'too_many_sessions', 'tenant_queue_full', 'service_queue_full', 'shutting_down'] as const;
const Err = Type.Union([Type.Object({ type: Type.String(), message: Type.String(), detail: Type.Optional(Type.String()) }), Type.Null()]);

export function registerSeedRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Body: InternalExecuteBody }>('/internal/execute', {
    schema: {
      tags: ['seed'], summary: 'Execute a Terraform plan and store plan.json (seed 000)', security: SECURED, body: InternalExecuteBody,
      response: {
        202: Type.Object({
          success: Type.Boolean(), job_id: Type.String(), run_id: Type.String(), status: Type.String(),
          plan_reference: Type.Union([Type.String(), Type.Null()]), error: Err,
          metadata: Type.Object({ duration_ms: Type.Number(), cpu_usage: Type.Number(), memory_mb: Type.Number() }),
        }),
        ...errorResponses([...submitErrors, 'storage_unavailable']),
      },
    },
  }, async (request, reply) => {
    const principal = principalOf(request);
    const body = request.body;
    const input = await terraformInput(deps, principal.tenant, body.files, body.workspace_reference);
    const { record, finished } = await submitRun(deps, { principal, requestId: request.id, log: request.log, run: terraformRun(input, body.mode ?? 'plan', body.working_dir, body.credentials), wait: true });
    const outcome = record.outcome;
    const plan = outcome?.kind === 'terraform' ? outcome.result.plan_json : null;
    // The jobs layer stores plans as artifacts; store here only if it did not.
    const planReference = record.plan_reference ?? (plan === null || plan === undefined ? null : await deps.artifacts.storePlan(principal.tenant, record.id, plan));
    if (!finished) void reply.header('location', runPath(record.id));
    return reply.code(202).send({
      success: record.state === 'succeeded',
      job_id: body.job_id,
      run_id: record.id,
      status: record.state,
      plan_reference: planReference,
      error: errorOf(record),
      metadata: usage(record),
    });
  });

  app.post<{ Body: V1ExecuteBody }>('/api/v1/execute', {
    schema: {
      tags: ['seed'], summary: 'Execute Terraform and return the plan JSON (seed 001)', security: SECURED, body: V1ExecuteBody,
      response: {
        200: Type.Object({
          job_id: Type.String(), run_id: Type.String(), status: Type.String({ enum: ['SUCCESS', 'FAILED', 'TIMEOUT', 'RUNNING'] }),
          plan_json: Type.Unknown(), execution_time_seconds: Type.Number(),
          plan_reference: Type.Optional(Type.String({ description: 'Where the plan JSON is stored; set whenever a plan was produced (plan_json is null when it is larger than TF_PLAN_INLINE_MAX_BYTES).' })),
          plan_url: Type.Optional(Type.String({ description: 'GET this (same credentials) for the stored plan JSON.' })),
          error_type: Type.Optional(Type.String()), error_message: Type.Optional(Type.String()),
        }),
        ...errorResponses([...submitErrors]),
      },
    },
  }, async (request) => {
    const principal = principalOf(request);
    const body = request.body;
    const input = await terraformInput(deps, principal.tenant, body.files, body.upload_id);
    const { record, finished } = await submitRun(deps, { principal, requestId: request.id, log: request.log, run: terraformRun(input, body.mode ?? 'plan', body.working_dir, body.credentials), wait: true });
    const outcome = record.outcome;
    const error = errorOf(record);
    const status = !finished ? 'RUNNING' : record.state === 'succeeded' ? 'SUCCESS' : error?.type === 'execution_timeout' ? 'TIMEOUT' : 'FAILED';
    return {
      job_id: body.job_id,
      run_id: record.id,
      status,
      plan_json: outcome?.kind === 'terraform' ? outcome.result.plan_json : null,
      // A plan too large to inline is still the client's: by reference and by URL, never silently lost.
      ...(record.plan_reference === undefined ? {} : { plan_reference: record.plan_reference, plan_url: `${runPath(record.id)}/plan` }),
      execution_time_seconds: usage(record).duration_ms / 1000,
      ...(error ? { error_type: error.type, error_message: error.message } : {}),
    };
  });

  app.post<{ Body: ExecuteBody }>('/execute', {
    schema: {
      tags: ['seed'], summary: 'Execute a command, optionally in a session (seed 004)', security: SECURED, body: ExecuteBody,
      response: {
        200: Type.Object({
          run_id: Type.String(), session_id: Type.Union([Type.String(), Type.Null()]), command: Type.String(), status: Type.String(),
          exit_code: Type.Union([Type.Integer(), Type.Null()]), stdout: Type.String(), stderr: Type.String(),
          execution_time: Type.Number(), exit_reason: Type.Union([Type.String(), Type.Null()]), error: Err,
        }),
        ...errorResponses([...submitErrors]),
      },
    },
  }, async (request) => {
    const principal = principalOf(request);
    const body = request.body;
    // Seed 004 creates the session on first use ("get-or-create").
    const session = body.session_id === undefined ? undefined : await deps.sessions.open(principal.tenant, body.session_id);
    const { record } = await submitRun(deps, {
      principal,
      requestId: request.id, log: request.log,
      run: {
        kind: 'command',
        request: {
          kind: 'command',
          command: body.command,
          ...(body.timeout === undefined ? {} : { timeout_seconds: body.timeout }),
          ...(body.working_dir === undefined ? {} : { cwd: body.working_dir }),
        },
      },
      wait: true,
      ...(session === undefined ? {} : { sessionId: session.id }),
    });
    const run = record.outcome?.kind === 'command' ? record.outcome.result.run : null;
    return {
      run_id: record.id,
      session_id: body.session_id ?? null,
      command: body.command,
      status: record.state,
      exit_code: run?.exit_code ?? null,
      stdout: run?.stdout ?? '',
      stderr: run?.stderr ?? '',
      execution_time: (run?.wall_ms ?? 0) / 1000,
      exit_reason: run?.exit_reason ?? null,
      error: errorOf(record),
    };
  });

  app.get('/status', {
    schema: {
      tags: ['seed'], summary: 'Service status with the caller\'s recent executions (seed 003)', security: SECURED,
      response: {
        200: Type.Object({
          status: Type.String(), version: Type.String(), uptime_seconds: Type.Number(),
          queue: Type.Object({ queued: Type.Integer(), running: Type.Integer(), workers: Type.Integer(), capacity: Type.Integer() }),
          recent_executions: Type.Array(Type.Object({
            run_id: Type.String(), kind: Type.String(), state: Type.String(), created_at: Type.String(), finished_at: Type.Union([Type.String(), Type.Null()]),
            duration_ms: Type.Number(), error_type: Type.Union([Type.String(), Type.Null()]), exit_reason: Type.Union([Type.String(), Type.Null()]),
          })),
        }),
        ...errorResponses([]),
      },
    },
  }, async (request) => {
    const tenant = principalOf(request).tenant;
    // Recent runs of the caller only: another tenant's activity is not theirs to see.
    const [stats, recent] = await Promise.all([deps.jobs.stats(), deps.jobs.recentFor(tenant, 20)]);
    return {
      status: deps.ready() ? 'running' : 'draining',
      version: deps.info.version,
      uptime_seconds: Math.round((Date.now() - deps.info.startedAt.getTime()) / 1000),
      queue: { queued: stats.queued, running: stats.running, workers: stats.workers, capacity: stats.queueCapacity },
      recent_executions: recent.map((r) => ({
        run_id: r.id, kind: r.kind, state: r.state, created_at: r.created_at, finished_at: r.finished_at ?? null,
        duration_ms: usage(r).duration_ms, error_type: errorOf(r)?.type ?? null, exit_reason: stepsOf(r).at(-1)?.result.exit_reason ?? null,
      })),
    };
  });
}

function errorOf(record: RunRecord): { type: string; message: string; detail?: string } | null {
  return record.error ?? record.outcome?.result.error ?? null;
}

/** Seed 000's metadata: wall time of the run, CPU seconds used, peak memory (MiB) of its largest step. */
function usage(record: RunRecord): { duration_ms: number; cpu_usage: number; memory_mb: number } {
  const results: RunResult[] = stepsOf(record).map((s) => s.result);
  const started = record.started_at ? Date.parse(record.started_at) : NaN;
  const finished = record.finished_at ? Date.parse(record.finished_at) : NaN;
  const duration = Number.isFinite(started) && Number.isFinite(finished) ? finished - started : results.reduce((sum, r) => sum + r.wall_ms, 0);
  return {
    duration_ms: duration,
    cpu_usage: Math.round(results.reduce((sum, r) => sum + r.cpu_ms, 0)) / 1000,
    memory_mb: Math.round((Math.max(0, ...results.map((r) => r.peak_memory_bytes)) / (1024 * 1024)) * 10) / 10,
  };
}
