// Contract of the jobs layer: runs are queued, executed by a fixed worker pool, and observed by the API.
// The CLI and the HTTP API build the same RunRequest and call the same submit().
import type { ClassifiedError } from '../domains/errors.js';
import type { CommandRequest, CommandResult, ScriptRequest } from '../domains/commands/types.js';
import type { TerraformInput, TerraformRequest, TerraformResult } from '../domains/terraform/types.js';

/**
 * A stored archive named by reference (`artifact://...` or `s3://...`), read by the executor when the run
 * starts. Queued payloads hold this instead of the archive's bytes: 16 queued runs naming one 49 MiB upload
 * used to pin 1.5 GB; now queued memory is a few hundred bytes per run and archive memory is bounded by
 * WORKERS x the upload limit. `scratch`: a per-run copy (multipart archive runs), deleted when the run ends.
 */
export interface ArchiveReference {
  kind: 'reference';
  reference: string;
  scratch?: boolean;
  /** What the submitter measured when it stored the archive (audit only; the executor re-reads it). */
  sha256?: string;
  bytes?: number;
}

/** What a Terraform run may name in the queue: plain JSON only (no Buffers), so it fits any queue backend. */
export type QueuedTerraformInput = Exclude<TerraformInput, { kind: 'zip' | 'tar.gz' }> | ArchiveReference;

export type TerraformRunRequest = Omit<TerraformRequest, 'input'> & { input: QueuedTerraformInput };

export type RunRequest =
  | { kind: 'terraform'; request: TerraformRunRequest }
  | { kind: 'command'; request: CommandRequest }
  | { kind: 'script'; request: ScriptRequest };

export type RunKind = RunRequest['kind'];

/** queued -> running -> succeeded | failed | cancelled */
export type RunState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export type RunOutcome =
  | { kind: 'terraform'; result: TerraformResult }
  | { kind: 'command' | 'script'; result: CommandResult };

export interface RunRecord {
  /** Unguessable (128 bits of randomness). */
  id: string;
  tenant: string;
  kind: RunKind;
  state: RunState;
  session_id?: string;
  created_at: string;
  started_at?: string;
  finished_at?: string;
  /** The id of the worker that ran (or is running) it (WORKER_ID): which host to look at. */
  worker?: string;
  outcome?: RunOutcome;
  /** Set for failed and cancelled runs. */
  error?: ClassifiedError;
  /**
   * Added by the jobs layer: where the Terraform plan JSON is stored (artifact store reference,
   * `artifact://...` or `s3://bucket/key`), readable only by this run's tenant.
   */
  plan_reference?: string;
  /**
   * Set when the record's stdout/stderr/diagnostics were cut to the per-record byte budget
   * (RUN_RECORD_MAX_BYTES): how many bytes of text were kept and how many were dropped.
   */
  output_trimmed?: { kept_bytes: number; dropped_bytes: number };
  /**
   * Internal, never shown by the API: the run's per-run archive copy (`scratch: true` reference), so the
   * process that removes the run from the queue (a cancel on any API node) can release it.
   */
  scratch_reference?: string;
}

export interface SubmitOptions {
  sessionId?: string;
}

/** The queue is full: the API answers 429 (per tenant) or 503 (service-wide) with Retry-After. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  constructor(readonly scope: 'tenant' | 'service', readonly retryAfterSeconds: number) {
    super(scope === 'tenant' ? 'too many queued runs for this tenant' : 'the service queue is full');
  }
}

/** One run's payload is larger than a queue byte budget: no amount of waiting would let it in (413). */
export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
  constructor(readonly bytes: number, readonly limit: number) {
    super(`the run's inputs are ${bytes} bytes; the queue takes at most ${limit} per run (QUEUE_TENANT_MAX_BYTES / QUEUE_MAX_BYTES)`);
  }
}

export class ShuttingDownError extends Error {
  override readonly name = 'ShuttingDownError';
  constructor() {
    super('the service is shutting down');
  }
}

export interface JobStats {
  queued: number;
  /** Worker slots busy (a slot stays busy until its jail is gone, even after a forced finish). */
  running: number;
  workers: number;
  queueCapacity: number;
  /** Added: queued runs one tenant may have. */
  queueTenantShare: number;
  /** Added: finished runs since start, by final state (monotonic counters for metrics). */
  finished: { succeeded: number; failed: number; cancelled: number };
  /** Added: run records held in memory (bounded: queue + workers + finished-record limit). */
  records: number;
  /** Bytes of text (outputs, diagnostics) the finished records hold; bounded by RUN_RECORDS_MAX_BYTES. */
  recordBytes: number;
  /** Bytes of queued payloads (files maps, scripts); bounded by QUEUE_MAX_BYTES. */
  queuedBytes: number;
  /**
   * Worker slots given up on: the executor had not returned long after a forced finish (a hung domain
   * call), so the slot was released and the event reported as an internal error. Monotonic.
   */
  abandonedSlots: number;
}

export type RunListener = (record: RunRecord) => void;

/** Where runs started and finished by this process are announced (audit log, metrics). */
export interface RunEventSource {
  /** Called once per run when it starts running (in the process running it); returns an unsubscribe function. */
  onRunStarted(listener: RunListener): () => void;
  /** Called once per run when it reaches a final state (in the process that finished it); returns an unsubscribe function. */
  onRunFinished(listener: RunListener): () => void;
}

export interface JobService extends RunEventSource {
  /** Throws QueueFullError or ShuttingDownError; never grows without bound. */
  submit(tenant: string, request: RunRequest, options?: SubmitOptions): Promise<RunRecord>;
  /** Resolves when the run reaches a final state (or the timeout passes, with the record as it is). */
  wait(tenant: string, id: string, timeoutMs: number): Promise<RunRecord | undefined>;
  /** undefined for unknown ids and for other tenants' runs alike (the API answers 404 for both). */
  get(tenant: string, id: string): Promise<RunRecord | undefined>;
  /** Kills the run's jail at once if it is running. */
  cancel(tenant: string, id: string): Promise<RunRecord | undefined>;
  /** Newest first, all tenants (GET /status). */
  recent(limit: number): Promise<RunRecord[]>;
  /** Added: newest first, one tenant's runs only. */
  recentFor(tenant: string, limit: number): Promise<RunRecord[]>;
  stats(): Promise<JobStats>;
  /** Stops accepting, drains for graceMs, then cancels what is left and records it. */
  shutdown(graceMs: number): Promise<void>;
}
