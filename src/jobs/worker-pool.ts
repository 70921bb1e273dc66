// The worker side of the jobs layer: a fixed pool of slots that claim runs from the queue, move them to
// running in the RunStore, execute them, and finish them. An AbortSignal from cancel (over the CancelBus,
// from any API node), timeout or shutdown reaches the jail; a run whose executor does not return after an
// abort is finished without it (forced), and a slot whose executor never returns is given up after a
// grace (abandoned), not lost. Nothing here knows whether the ports are in memory or in Redis.
import type { Executor, QueuedRun } from './executor-types.js';
import { abortedError, sleep, spread, type AbortReason, type FinalState } from './outcomes.js';
import type { CancelBus, RunStore } from './ports.js';
import type { JobQueue, QueueEntry } from './queue.js';
import type { PoolStats } from './run-desk.js';
import { armRunAbort } from './run-abort.js';
import { internalReporter, RunEvents, type InternalErrorHandler } from './run-events.js';
import { releaseScratch, scratchOf, type ReleaseScratch } from './scratch.js';
import { finishRetrying, startRetrying } from './store-retry.js';
import type { RunRecord, RunRequest } from './types.js';

export interface WorkerPoolOptions {
  /** This worker's id (WORKER_ID): stored in each record it runs, named when it is lost. */
  workerId: string;
  /** Where it claims runs (with many hosts: its own host queue and the shared one, as one JobQueue). */
  queue: JobQueue<QueuedRun>;
  store: RunStore;
  bus: CancelBus;
  executor: Executor;
  slots: number;
  /** Hard wall-clock bound of one run, a backstop behind the domains' own timeouts. */
  runTimeoutMs(request: RunRequest): number;
  /** After an abort, how long the executor gets before the record is finished without it (forced). */
  killGraceMs?: number;
  /** After a forced finish, how much longer before the slot is given up. Default: killGraceMs. */
  abandonGraceMs?: number;
  releaseScratch?: ReleaseScratch;
  /** Where this pool announces the runs it starts and finishes. */
  events?: RunEvents;
  /**
   * Runs still queued when the shutdown grace ends: 'cancel' them (embedded: nobody else will run them)
   * or 'leave' them to other workers (many hosts; the pool only stops claiming). Default 'leave'.
   */
  atShutdown?: 'cancel' | 'leave';
  /** Called at start and every intervalMs with the pool's stats (the worker registry's heartbeat). */
  heartbeat?: { intervalMs: number; beat(stats: PoolStats): Promise<void> };
  onInternalError?: InternalErrorHandler;
  /** How long a start or finish the store refuses (Redis restarting) is retried; default 60 s. */
  storeRetryMs?: number;
  now?: () => number;
}

export interface WorkerPool {
  readonly workerId: string;
  readonly events: RunEvents;
  /** Resolves once the pool listens on the CancelBus and its slots claim. */
  readonly ready: Promise<void>;
  /** Resolves when every slot has stopped (after shutdown, or a closed and empty queue). */
  readonly stopped: Promise<void>;
  stats(): PoolStats;
  /** Ids of the runs executing in this pool now. */
  runningIds(): string[];
  /**
   * Aborts one running run here (its jail is killed at once); false when it is not running here. For
   * what only this process knows, e.g. its own claim lapsed (the queue's onLockLost) and the run may be
   * declared lost elsewhere: it must not go on running unaccounted for.
   */
  abort(id: string, reason: AbortReason): boolean;
  /** Stops claiming, lets running runs finish for graceMs, then aborts them ('shutdown'). Idempotent. */
  shutdown(graceMs: number): Promise<void>;
}

/** How long an aborted run's executor gets before its record is finished without it (forced). */
export const DEFAULT_KILL_GRACE_MS = 5_000;

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  if (!(Number.isInteger(options.slots) && options.slots >= 1)) throw new RangeError('workers must be a positive integer');
  const { queue, store, bus, workerId } = options;
  const now = options.now ?? Date.now;
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const abandonGraceMs = options.abandonGraceMs ?? killGraceMs;
  const report = internalReporter(options.onInternalError);
  const events = options.events ?? new RunEvents(report);
  const aborters = new Map<string, (reason: AbortReason) => void>();
  // Stops waiting claims when leaving (the queue stays open for the other workers).
  const stopClaiming = new AbortController();
  let busy = 0;
  let abandonedSlots = 0;
  let closing = false;
  // Mean run duration (EWMA, seconds) for Retry-After estimates.
  let meanRunSeconds = 1;
  let shutdownPromise: Promise<void> | undefined;

  const stats = (): PoolStats => ({ workers: options.slots, running: busy, abandonedSlots, meanRunSeconds });
  const release = (tenant: string, request: RunRequest): void => releaseScratch(options.releaseScratch, tenant, scratchOf(request), (error) => report(error));

  /** Moves the run to a final state; announces it when this call won (first final wins). */
  const finish = async (id: string, state: FinalState, fields: Partial<RunRecord>): Promise<void> => {
    const final = await finishRetrying(store, id, state, fields, (error) => report(error), options.storeRetryMs);
    if (final) events.finished(final);
  };

  /** `free` releases the slot (idempotent): called as soon as the executor is back, before the record is final. */
  async function runOne(entry: QueueEntry<QueuedRun>, free: () => void): Promise<void> {
    const { id, tenant, payload } = entry;
    try {
      const record = await startRetrying(store, id, { started_at: new Date(now()).toISOString(), worker: workerId }, (error) => report(error), options.storeRetryMs);
      if (!record) return; // cancelled while it was being claimed
      events.started(record);
      await execute(record, payload, free);
    } finally {
      release(tenant, payload.request);
    }
  }

  async function execute(record: RunRecord, payload: QueuedRun, free: () => void): Promise<void> {
    const id = record.id;
    const timeoutMs = options.runTimeoutMs(payload.request);
    const run = armRunAbort({
      timeoutMs,
      killGraceMs,
      abandonGraceMs,
      onForcedFinish: (why) => void finish(id, ...spread(abortedError(why, timeoutMs))),
    });
    aborters.set(id, run.abort);
    const begun = now();
    try {
      const pending = options.executor.execute(payload.request, {
        runId: id,
        tenant: record.tenant,
        ...(payload.sessionId === undefined ? {} : { sessionId: payload.sessionId }),
        signal: run.signal,
      });
      const execution = await Promise.race([pending, run.abandoned]).finally(free);
      if (execution === 'abandoned') {
        abandonedSlots++;
        report(new Error(`run ${id}: the executor did not return ${killGraceMs + abandonGraceMs} ms after its abort; its worker slot is released`), record);
        // A late settle is still reported, never left as an unhandled rejection.
        pending.catch((error: unknown) => report(error, record));
        return;
      }
      const extra = execution.plan_reference === undefined ? {} : { plan_reference: execution.plan_reference };
      if (run.reason) {
        const aborted = abortedError(run.reason, timeoutMs);
        await finish(id, aborted.state, { outcome: execution.outcome, error: aborted.error, ...extra });
      } else {
        const result = execution.outcome.result;
        const ok = result.status === 'succeeded';
        await finish(id, ok ? 'succeeded' : 'failed', {
          outcome: execution.outcome,
          ...(!ok && result.error ? { error: result.error } : {}),
          ...extra,
        });
      }
    } catch (error) {
      if (run.reason) {
        await finish(id, ...spread(abortedError(run.reason, timeoutMs)));
      } else {
        report(error, record);
        await finish(id, 'failed', { error: { type: 'unknown_error', message: 'internal error while executing the run' } });
      }
    } finally {
      run.dispose();
      aborters.delete(id);
      meanRunSeconds = 0.8 * meanRunSeconds + 0.2 * ((now() - begun) / 1000);
    }
  }

  async function slot(): Promise<void> {
    for (;;) {
      if (stopClaiming.signal.aborted) return;
      let entry: QueueEntry<QueuedRun> | undefined;
      try {
        entry = await queue.claim(stopClaiming.signal);
      } catch (error) {
        report(error);
        if (closing) return;
        await sleep(1_000);
        continue;
      }
      if (!entry) return; // closed and empty, or leaving
      busy++;
      let held = true;
      const free = (): void => {
        if (held) busy--;
        held = false;
      };
      try {
        await runOne(entry, free);
      } catch (error) {
        report(error);
      } finally {
        free();
        await queue.ack(entry.id).catch((error: unknown) => report(error));
      }
    }
  }

  // Slots claim only once the pool hears cancels: a run started before that could not be cancelled.
  const subscribed = bus.subscribe((id, reason) => aborters.get(id)?.(reason));
  const ready = subscribed.then(() => undefined);
  const stopped = subscribed.then(
    () => Promise.all(Array.from({ length: options.slots }, () => slot())).then(() => undefined),
    (error: unknown) => report(error),
  );

  let beatTimer: NodeJS.Timeout | undefined;
  if (options.heartbeat) {
    const { intervalMs, beat } = options.heartbeat;
    const send = (): void => void beat(stats()).catch((error: unknown) => report(error));
    send();
    beatTimer = setInterval(send, intervalMs);
    beatTimer.unref();
  }

  return {
    workerId,
    events,
    ready,
    stopped,
    stats,
    runningIds: () => [...aborters.keys()],
    abort(id, reason) {
      const abort = aborters.get(id);
      abort?.(reason);
      return abort !== undefined;
    },

    shutdown(graceMs) {
      shutdownPromise ??= (async () => {
        closing = true;
        if (options.atShutdown === 'cancel') await queue.close(); // slots keep draining what is queued
        else stopClaiming.abort();
        const drainedInTime = await Promise.race([stopped.then(() => true), sleep(graceMs).then(() => false)]);
        if (!drainedInTime) {
          if (options.atShutdown === 'cancel') {
            for (const entry of await queue.drain()) {
              await finish(entry.id, 'cancelled', { error: abortedError('shutdown', 0).error });
              release(entry.tenant, entry.payload.request);
            }
          }
          for (const abort of aborters.values()) abort('shutdown');
          // Aborted jails die at once; a stuck executor is bounded by the forced finish.
          await Promise.race([stopped, sleep(killGraceMs * 2)]);
        }
        clearInterval(beatTimer);
        const unsubscribe = await subscribed.catch(() => undefined);
        await unsubscribe?.().catch((error: unknown) => report(error));
      })();
      return shutdownPromise;
    },
  };
}
