// Every finished run, whoever waited for it, is counted in metrics and written to the audit stream
// once (the jobs layer calls onRunFinished exactly once per run, in the process that finished it: with
// many hosts, pass the worker pool's events on a worker and the run desk's on an API node).
import type { FastifyBaseLogger } from 'fastify';
import type { AuditLog } from '../api/logging.js';
import type { ApiMetrics } from '../api/metrics.js';
import { stepsOf } from '../api/metrics.js';
import type { RunEventSource } from '../jobs/types.js';

/** `metrics` is absent on a worker process (no HTTP, no /metrics): it still writes the audit stream. */
export function observeRuns(jobs: RunEventSource, metrics: ApiMetrics | undefined, audit: AuditLog, log: () => Pick<FastifyBaseLogger, 'info'> | undefined): () => void {
  return jobs.onRunFinished((record) => {
    metrics?.observeRun(record);
    const steps = stepsOf(record).map((s) => s.result);
    const started = record.started_at ? Date.parse(record.started_at) : Date.parse(record.created_at);
    const error = record.error ?? record.outcome?.result.error ?? null;
    log()?.info({ run_id: record.id, tenant: record.tenant, kind: record.kind, state: record.state, error_class: error?.type ?? null }, 'run finished');
    audit.record({
      event: 'run_finished',
      tenant: record.tenant,
      run_id: record.id,
      kind: record.kind,
      state: record.state,
      ...(record.session_id === undefined ? {} : { session_id: record.session_id }),
      ...(error ? { error_class: error.type } : {}),
      ...(steps.length > 0 ? { exit_reason: steps.at(-1)!.exit_reason } : {}),
      // Issue 11: the cloud calls a plan made through the egress proxy (bounded by TF_EGRESS_MAX_REQUESTS).
      ...(record.outcome?.kind === 'terraform' && record.outcome.result.egress !== undefined ? { egress: record.outcome.result.egress } : {}),
      duration_ms: record.finished_at ? Date.parse(record.finished_at) - started : 0,
      resources: {
        wall_ms: steps.reduce((sum, r) => sum + r.wall_ms, 0),
        cpu_ms: steps.reduce((sum, r) => sum + r.cpu_ms, 0),
        peak_memory_bytes: Math.max(0, ...steps.map((r) => r.peak_memory_bytes)),
      },
    });
  });
}
