// RunRecord -> what the API returns. `result` is the domain result unchanged (the CLI's --json).
import type { RunRecord } from '../jobs/types.js';

export interface RunViewData {
  id: string;
  kind: string;
  state: string;
  session_id?: string;
  created_at: string;
  started_at?: string;
  finished_at?: string;
  worker?: string;
  error: { type: string; message: string; detail?: string } | null;
  result: unknown;
  plan_reference?: string;
  /** The record's outputs were cut to RUN_RECORD_MAX_BYTES (bytes kept and dropped). */
  output_trimmed?: { kept_bytes: number; dropped_bytes: number };
  links: { self: string; cancel: string; plan?: string };
}

export const FINAL_STATES = new Set(['succeeded', 'failed', 'cancelled']);

export function runPath(id: string): string {
  return `/api/v1/runs/${encodeURIComponent(id)}`;
}

export function presentRun(record: RunRecord): RunViewData {
  const self = runPath(record.id);
  const error = record.error ?? record.outcome?.result.error ?? null;
  return {
    id: record.id,
    kind: record.kind,
    state: record.state,
    ...(record.session_id === undefined ? {} : { session_id: record.session_id }),
    created_at: record.created_at,
    ...(record.started_at === undefined ? {} : { started_at: record.started_at }),
    ...(record.finished_at === undefined ? {} : { finished_at: record.finished_at }),
    ...(record.worker === undefined ? {} : { worker: record.worker }),
    error,
    result: record.outcome?.result ?? null,
    ...(record.plan_reference === undefined ? {} : { plan_reference: record.plan_reference }),
    ...(record.output_trimmed === undefined ? {} : { output_trimmed: record.output_trimmed }),
    links: { self, cancel: `${self}/cancel`, ...(record.kind === 'terraform' ? { plan: `${self}/plan` } : {}) },
  };
}

export function isFinal(record: RunRecord): boolean {
  return FINAL_STATES.has(record.state);
}
