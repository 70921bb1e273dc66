// What the job service needs from whatever executes a run: the real one dispatches to the domain
// runners (executor.ts); tests may pass one that runs a real jail directly.
import type { RunOutcome, RunRequest } from './types.js';

export interface RunContext {
  runId: string;
  tenant: string;
  sessionId?: string;
  /** Aborted on cancel, timeout or shutdown; it must reach the jail (which then dies at once). */
  signal: AbortSignal;
}

export interface Execution {
  outcome: RunOutcome;
  /** Where the plan JSON was stored (Terraform plan runs). */
  plan_reference?: string;
}

export interface Executor {
  /** Returns results for tenant errors; throws only on internal failure. */
  execute(request: RunRequest, context: RunContext): Promise<Execution>;
}

/** What travels through the queue: plain, serializable data. */
export interface QueuedRun {
  request: RunRequest;
  sessionId?: string;
}
