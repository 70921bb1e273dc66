// A worker's writes to the RunStore outlive a short store outage (a Redis restart): a run whose result
// could not be written would stay `running` for every client forever. Both moves are safe to repeat: a
// finish that was applied before its reply was lost answers "already final" the second time; a start
// that was applied is recognised by the record being running under this worker's id.
import { sleep, type FinalState } from './outcomes.js';
import type { RunStore } from './ports.js';
import type { RunRecord } from './types.js';

/** How long a worker keeps trying before it reports the failure and moves on. */
export const STORE_RETRY_MS = 60_000;

async function retrying<T>(attempt: () => Promise<T>, onError: (error: unknown) => void, deadlineMs: number): Promise<T | undefined> {
  const deadline = Date.now() + deadlineMs;
  for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      return await attempt();
    } catch (error) {
      onError(error);
      if (Date.now() + wait > deadline) return undefined;
      await sleep(wait);
    }
  }
}

export async function startRetrying(store: RunStore, id: string, fields: Pick<RunRecord, 'started_at' | 'worker'>, onError: (error: unknown) => void, deadlineMs = STORE_RETRY_MS): Promise<RunRecord | undefined> {
  let failed = false;
  const started = await retrying(() => store.start(id, fields), (error) => {
    failed = true;
    onError(error);
  }, deadlineMs);
  if (started || !failed) return started;
  // An earlier attempt may have been applied before its reply was lost.
  const now = await retrying(() => store.get(id), onError, deadlineMs);
  return now?.state === 'running' && now.worker === fields.worker && now.started_at === fields.started_at ? now : undefined;
}

export function finishRetrying(store: RunStore, id: string, state: FinalState, fields: Partial<RunRecord>, onError: (error: unknown) => void, deadlineMs = STORE_RETRY_MS): Promise<RunRecord | undefined> {
  return retrying(() => store.finish(id, state, fields), onError, deadlineMs);
}
