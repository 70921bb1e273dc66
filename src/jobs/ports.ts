// The shared state of the jobs layer, as ports (issue 12). One process (embedded) uses the memory
// implementations; many hosts use the Redis ones. Each port has a conformance suite under tests/jobs/ that
// every implementation passes, so "works in memory" and "works across hosts" mean the same thing.
// Everything crossing a port is plain JSON (a RunRecord, ids, reasons): no Buffers, no functions, no paths
// that only mean something on one host.
import type { AbortReason, FinalState } from './outcomes.js';
import type { RunRecord } from './types.js';

export interface RecordBounds {
  /** Finished records kept, all tenants together; the oldest finished go first. */
  maxFinished: number;
  /** A finished record is forgotten this long after it finished. */
  finishedTtlMs: number;
  /** Text bytes (outputs, diagnostics, inline plan) one finished record keeps (trim.ts cuts it). */
  maxRecordBytes?: number;
  /** Text bytes all finished records keep together. */
  maxTotalBytes?: number;
}

/**
 * Run records: what any API node answers GET /runs/{id}, `?wait=true`, /status and the seed routes from,
 * whichever worker ran the run. State moves only forward (queued -> running -> final) and every move is
 * atomic: when a cancel, a forced finish and the worker's own result race, the first final state wins and
 * the others get `undefined`.
 */
export interface RunStore {
  /** Stores a new record in state `queued`. */
  create(record: RunRecord): Promise<void>;
  /** The record as it is now; undefined when unknown or expired. Tenant checks are the caller's. */
  get(id: string): Promise<RunRecord | undefined>;
  /** queued -> running; undefined when the record is no longer queued (cancelled while being claimed). */
  start(id: string, fields: Pick<RunRecord, 'started_at'> & Partial<RunRecord>): Promise<RunRecord | undefined>;
  /**
   * Any non-final state -> `state`, with `fields` merged and the text trimmed to maxRecordBytes; returns
   * the final record, or undefined when it was already final (someone else won) or is unknown.
   */
  finish(id: string, state: FinalState, fields: Partial<RunRecord>): Promise<RunRecord | undefined>;
  /** Forgets a record that never entered the queue (refused by it). */
  delete(id: string): Promise<void>;
  /** Newest first (creation order); one tenant's only when `tenant` is given. */
  recent(limit: number, tenant?: string): Promise<RunRecord[]>;
  /**
   * Resolves with the final record as soon as the run is final (from any process), or with the record as
   * it is when timeoutMs passes; undefined when unknown.
   */
  waitFinal(id: string, timeoutMs: number): Promise<RunRecord | undefined>;
  /** Records held and text bytes of finished ones (metrics). */
  size(): Promise<{ records: number; bytes: number }>;
  close(): Promise<void>;
}

/**
 * Cancel and deletion reaching the process that runs the jail. `publish` returns once every subscribed
 * process has been told (or could be); the worker running `id` aborts its signal at once.
 */
export interface CancelBus {
  publish(id: string, reason: AbortReason): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(handler: (id: string, reason: AbortReason) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
