// Time bounds derived from the settings, shared by every role that runs or queues runs.
import type { Config } from '../config/settings.js';
import type { RunRequest } from './types.js';

/** Slack on top of a domain's own timeout before the service aborts the run itself (a backstop). */
const BACKSTOP_MS = 15_000;

/** The service-level bound of one run, from the same settings the domains use for their own timeouts. */
export function runTimeoutMs(config: Readonly<Pick<Config, 'maxExecutionTimeSeconds' | 'defaultExecTimeoutSeconds' | 'maxExecTimeoutSeconds'>>): (request: RunRequest) => number {
  return (request) => {
    if (request.kind === 'terraform') return config.maxExecutionTimeSeconds * 1000 + BACKSTOP_MS;
    const asked = request.request.timeout_seconds;
    const seconds = typeof asked === 'number' && asked > 0 ? Math.min(asked, config.maxExecTimeoutSeconds) : config.defaultExecTimeoutSeconds;
    // Input-file injection runs in its own jail before the command (bounded at 30 s there).
    return seconds * 1000 + 30_000 + BACKSTOP_MS;
  };
}

/**
 * How long a per-run archive copy can legitimately exist: the longest a run may wait in a full queue and
 * then run, with a wide margin. Older copies belong to runs a crashed service never finished.
 */
export function scratchTtlMs(config: Readonly<Pick<Config, 'maxExecutionTimeSeconds' | 'queueSize' | 'workers' | 'shutdownGraceSeconds'>>): number {
  const oneRunMs = config.maxExecutionTimeSeconds * 1000 + BACKSTOP_MS;
  const worstWaitMs = Math.ceil(config.queueSize / config.workers) * oneRunMs;
  return 2 * (worstWaitMs + oneRunMs) + config.shutdownGraceSeconds * 1000;
}
