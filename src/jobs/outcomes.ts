// How an aborted run is recorded, and small record helpers shared by the job service.
import type { ClassifiedError } from '../domains/errors.js';
import type { RunRecord, RunState } from './types.js';

/** Why the service aborted a run's signal. */
export type AbortReason = 'cancelled' | 'timeout' | 'shutdown';
export type FinalState = Exclude<RunState, 'queued' | 'running'>;

export const FINAL: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'cancelled']);

/** A timeout is a failed run (execution_timeout); a cancel or a shutdown a cancelled one. */
export function abortedError(reason: AbortReason, timeoutMs: number): { state: FinalState; error: ClassifiedError } {
  if (reason === 'timeout') {
    return { state: 'failed', error: { type: 'execution_timeout', message: `run exceeded its time limit of ${Math.round(timeoutMs / 1000)}s` } };
  }
  const message = reason === 'shutdown' ? 'run cancelled: the service is shutting down' : 'run cancelled';
  return { state: 'cancelled', error: { type: 'unknown_error', message, detail: reason } };
}

export function spread(aborted: { state: FinalState; error: ClassifiedError }): [FinalState, Partial<RunRecord>] {
  return [aborted.state, { error: aborted.error }];
}

/** Callers get copies: nobody outside the service mutates a live record. */
export function snapshot(record: RunRecord): RunRecord {
  return { ...record };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
