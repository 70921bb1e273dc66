// Contract of the jobs layer: runs are queued, executed by a fixed worker pool, and observed by the API.
// The CLI and the HTTP API build the same RunRequest and call the same submit().
import type { ClassifiedError } from '../domains/errors.js';
import type { CommandRequest, CommandResult, ScriptRequest } from '../domains/commands/types.js';
import type { TerraformRequest, TerraformResult } from '../domains/terraform/types.js';

export type RunRequest =
  | { kind: 'terraform'; request: TerraformRequest }
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
  outcome?: RunOutcome;
  /** Set for failed and cancelled runs. */
  error?: ClassifiedError;
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

export class ShuttingDownError extends Error {
  override readonly name = 'ShuttingDownError';
  constructor() {
    super('the service is shutting down');
  }
}

export interface JobStats {
  queued: number;
  running: number;
  workers: number;
  queueCapacity: number;
}

export interface JobService {
  /** Throws QueueFullError or ShuttingDownError; never grows without bound. */
  submit(tenant: string, request: RunRequest, options?: SubmitOptions): Promise<RunRecord>;
  /** Resolves when the run reaches a final state (or the timeout passes, with the record as it is). */
  wait(tenant: string, id: string, timeoutMs: number): Promise<RunRecord | undefined>;
  /** undefined for unknown ids and for other tenants' runs alike (the API answers 404 for both). */
  get(tenant: string, id: string): RunRecord | undefined;
  /** Kills the run's jail at once if it is running. */
  cancel(tenant: string, id: string): Promise<RunRecord | undefined>;
  recent(limit: number): RunRecord[];
  stats(): JobStats;
  /** Stops accepting, drains for graceMs, then cancels what is left and records it. */
  shutdown(graceMs: number): Promise<void>;
}
