// Delivery semantics with many workers: at most once. A worker that dies mid-run (kill -9, host gone) is
// found by the queue's stalled check (its lock was not renewed); its runs are NOT retried (tenant code
// could have had effects, and a run that kills its worker would kill the next one too): each is finished
// failed, naming the lost worker, so a client polling it gets a clear final state instead of `running`
// forever. Its jails are swept when that worker starts again (JailHost.open sweeps dead owners).
import type { RunEvents } from './run-events.js';
import type { RunStore } from './ports.js';
import type { RunRecord } from './types.js';

export function lostWorkerMessage(workerId: string): string {
  return `worker ${workerId} stopped while running this run; it was not retried: submit it again`;
}

/**
 * Finishes each run as failed `unknown_error` naming the worker; runs already final are left alone (the
 * worker finished them before it died, or a cancel won). Returns the records this call finished, each
 * announced on `events` once.
 */
export async function finishLostRuns(store: RunStore, workerId: string, runIds: readonly string[], events?: RunEvents): Promise<RunRecord[]> {
  const finished: RunRecord[] = [];
  for (const id of runIds) {
    const final = await store.finish(id, 'failed', {
      error: { type: 'unknown_error', message: lostWorkerMessage(workerId), detail: `worker_lost: ${workerId}` },
    });
    if (!final) continue;
    finished.push(final);
    events?.finished(final);
  }
  return finished;
}

/**
 * A claimed run whose queued payload could not be opened (sealed under another QUEUE_SECRET_KEY, or
 * altered in Redis): it is never run; its record ends failed so nobody polls a `queued` run forever.
 */
export async function finishUndeliverableRun(store: RunStore, runId: string, reason: string, events?: RunEvents): Promise<RunRecord | undefined> {
  const final = await store.finish(runId, 'failed', {
    error: { type: 'unknown_error', message: 'the run could not be read from the queue; it was not run: submit it again', detail: reason },
  });
  if (final) events?.finished(final);
  return final;
}
