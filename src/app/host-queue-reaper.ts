// A worker that dies leaves its host queue behind (issue 12): runs of its sessions that an API node
// accepted in the moments before its heartbeat lapsed (until then it counts as alive). No other worker
// claims from that queue, so without this those runs would stay `queued` forever. Every live worker
// watches the registry: a worker id that was alive and no longer is has its host queue drained for a
// while (a submit that passed the liveness check just before the lapse lands a moment later), each run
// failed naming the worker. Drains race safely: a waiting entry is removed by exactly one drainer.
import type { RunEvents } from '../jobs/index.js';
import type { RedisPorts } from '../jobs/redis/open-ports.js';
import type { InternalErrorHandler } from '../jobs/run-events.js';

export interface HostQueueReaperOptions {
  ports: Pick<RedisPorts, 'workers' | 'hostQueue' | 'store'>;
  /** This worker (never reaped by itself). */
  workerId: string;
  /** How often the registry is read (WORKER_HEARTBEAT_SECONDS). */
  intervalMs: number;
  /** How long a gone worker's queue keeps being drained after it was first seen gone. */
  watchMs: number;
  events?: () => RunEvents | undefined;
  report: InternalErrorHandler;
  now?: () => number;
}

export function hostGoneMessage(workerId: string): string {
  return `worker ${workerId} stopped before running this run (it held this session's workspace); open a new session and submit it again`;
}

/** Starts the watch; returns the stop function. */
export function startHostQueueReaper(options: HostQueueReaperOptions): () => void {
  const now = options.now ?? Date.now;
  const { ports } = options;
  let seen = new Set<string>();
  /** Gone worker id -> when it was first seen gone. */
  const gone = new Map<string, number>();
  let running = false;

  const reapOne = async (workerId: string): Promise<void> => {
    for (const entry of await ports.hostQueue(workerId).drain()) {
      const final = await ports.store.finish(entry.id, 'failed', { error: { type: 'unknown_error', message: hostGoneMessage(workerId), detail: `worker_lost: ${workerId}` } });
      if (final) options.events?.()?.finished(final);
    }
  };

  const tick = async (): Promise<void> => {
    const alive = new Set((await ports.workers.alive()).map((w) => w.id));
    for (const id of seen) if (!alive.has(id) && id !== options.workerId && !gone.has(id)) gone.set(id, now());
    for (const id of alive) gone.delete(id); // back (restarted under its id): it claims its own queue again
    seen = alive;
    for (const [id, since] of gone) {
      await reapOne(id);
      if (now() - since > options.watchMs) gone.delete(id);
    }
  };

  const timer = setInterval(() => {
    if (running) return; // a slow tick (Redis restarting) is not stacked
    running = true;
    tick()
      .catch((error: unknown) => options.report(error))
      .finally(() => (running = false));
  }, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
