// The job service: a bounded queue in front of a fixed pool of workers. Back-pressure instead of growth
// (QueueFullError with Retry-After), explicit states (queued -> running -> succeeded | failed |
// cancelled), an AbortSignal from cancel/timeout/shutdown down to the jail, and tenant-scoped reads:
// another tenant's id behaves exactly like an unknown one (no existence oracle). Memory is bounded in
// bytes as well as counts: queued payloads against the queue's byte budgets, finished records against
// records.ts's, and a worker slot whose executor never returns is given up after a grace, not lost.
import { randomBytes } from 'node:crypto';
import type { Executor, QueuedRun } from './executor-types.js';
import { abortedError, FINAL, sleep, snapshot, spread, type AbortReason, type FinalState } from './outcomes.js';
import { armRunAbort } from './run-abort.js';
import { ScratchRefs } from './scratch.js';
import { FinishWaiters } from './waiters.js';
import { payloadBytes } from './payload-size.js';
import type { JobQueue } from './queue.js';
import { RunRecordStore, type RecordLimits } from './records.js';
import {
  PayloadTooLargeError,
  QueueFullError,
  ShuttingDownError,
  type JobService,
  type JobStats,
  type RunListener,
  type RunRecord,
  type RunRequest,
  type SubmitOptions,
} from './types.js';

export interface JobServiceOptions {
  queue: JobQueue<QueuedRun>;
  workers: number;
  executor: Executor;
  /** Hard wall-clock bound of one run, a backstop behind the domains' own timeouts. */
  runTimeoutMs(request: RunRequest): number;
  /** After an abort, how long the executor gets before the record is finished without it (forced). */
  killGraceMs?: number;
  /**
   * After a forced finish, how much longer the worker waits for the executor before it gives the slot up
   * (reported as an internal error, counted in stats().abandonedSlots). Default: killGraceMs.
   */
  abandonGraceMs?: number;
  /**
   * Called once when a run that named a scratch archive (a per-run copy, `scratch: true`) reaches a final
   * state by any path (ran, cancelled while queued, refused by the queue, drained at shutdown).
   */
  releaseScratch?(tenant: string, reference: string): Promise<void>;
  records?: RecordLimits;
  /** Internal failures (an executor that threw, a listener that threw): the API logs them. */
  onInternalError?: (error: unknown, record?: RunRecord) => void;
  now?: () => number;
}

export interface JobServiceHandle extends JobService {
  /** Resolves when every worker has stopped (after shutdown). */
  readonly stopped: Promise<void>;
}


const DEFAULT_RECORDS: RecordLimits = { maxFinished: 1000, finishedTtlMs: 3_600_000 };

/** 128 bits from the CSPRNG: ids are capabilities-by-obscurity only on top of the tenant check. */
export function newRunId(): string {
  return randomBytes(16).toString('hex');
}

export function createJobService(options: JobServiceOptions): JobServiceHandle {
  if (!(Number.isInteger(options.workers) && options.workers >= 1)) throw new RangeError('workers must be a positive integer');
  const now = options.now ?? Date.now;
  const killGraceMs = options.killGraceMs ?? 5_000;
  const abandonGraceMs = options.abandonGraceMs ?? killGraceMs;
  const queue = options.queue;
  const records = new RunRecordStore(options.records ?? DEFAULT_RECORDS, now);
  const aborters = new Map<string, (reason: AbortReason) => void>();
  const waiters = new FinishWaiters();
  const started = new Set<RunListener>();
  const finished = new Set<RunListener>();
  const totals = { succeeded: 0, failed: 0, cancelled: 0 };
  // Bytes of each waiting run's payload (stats only: the queue itself enforces the budgets).
  const queuedBytes = new Map<string, number>();
  let abandonedSlots = 0;
  let queued = 0;
  let busy = 0;
  let closing = false;
  let shutdownPromise: Promise<void> | undefined;
  // Mean run duration (EWMA, seconds) for Retry-After estimates.
  let meanRunSeconds = 1;

  const reportInternal = (error: unknown, record?: RunRecord): void => {
    if (options.onInternalError) options.onInternalError(error, record);
    // Never swallowed: without a handler it goes to stderr (crashing the service would kill every run).
    else process.stderr.write(`confine jobs: internal error${record ? ` in run ${record.id}` : ''}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  };

  const scratch = new ScratchRefs(options.releaseScratch?.bind(options), (error) => reportInternal(error));

  const emit = (listeners: Set<RunListener>, record: RunRecord): void => {
    for (const listener of listeners) {
      try {
        listener(snapshot(record));
      } catch (error) {
        reportInternal(error, record);
      }
    }
  };

  const finish = (record: RunRecord, state: FinalState, fields: Partial<RunRecord> = {}): void => {
    if (FINAL.has(record.state)) return; // a forced finish and a late executor return: first one wins
    if (record.state === 'queued') queued--;
    queuedBytes.delete(record.id);
    scratch.releaseFor(record.id);
    Object.assign(record, fields, { state, finished_at: new Date(now()).toISOString() });
    totals[state]++;
    records.markFinished(record.id);
    waiters.wake(record.id, snapshot(record));
    emit(finished, record);
  };

  async function runOne(id: string, payload: QueuedRun): Promise<void> {
    const record = records.get(id);
    if (!record || record.state !== 'queued') return; // cancelled while it was being claimed
    queued--;
    queuedBytes.delete(id);
    record.state = 'running';
    record.started_at = new Date(now()).toISOString();
    emit(started, record);
    const timeoutMs = options.runTimeoutMs(payload.request);
    const run = armRunAbort({
      timeoutMs,
      killGraceMs,
      abandonGraceMs,
      onForcedFinish: (why) => finish(record, ...spread(abortedError(why, timeoutMs))),
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
      const execution = await Promise.race([pending, run.abandoned]);
      if (execution === 'abandoned') {
        abandonedSlots++;
        reportInternal(new Error(`run ${id}: the executor did not return ${killGraceMs + abandonGraceMs} ms after its abort; its worker slot is released`), record);
        // A late settle is still reported, never left as an unhandled rejection.
        pending.catch((error: unknown) => reportInternal(error, record));
        return;
      }
      const extra = execution.plan_reference === undefined ? {} : { plan_reference: execution.plan_reference };
      if (run.reason) {
        const aborted = abortedError(run.reason, timeoutMs);
        finish(record, aborted.state, { outcome: execution.outcome, error: aborted.error, ...extra });
      } else {
        const result = execution.outcome.result;
        const ok = result.status === 'succeeded';
        finish(record, ok ? 'succeeded' : 'failed', {
          outcome: execution.outcome,
          ...(!ok && result.error ? { error: result.error } : {}),
          ...extra,
        });
      }
    } catch (error) {
      if (run.reason) {
        finish(record, ...spread(abortedError(run.reason, timeoutMs)));
      } else {
        reportInternal(error, record);
        finish(record, 'failed', { error: { type: 'unknown_error', message: 'internal error while executing the run' } });
      }
    } finally {
      run.dispose();
      aborters.delete(id);
      meanRunSeconds = 0.8 * meanRunSeconds + 0.2 * ((now() - begun) / 1000);
    }
  }

  async function worker(): Promise<void> {
    for (;;) {
      let entry;
      try {
        entry = await queue.claim();
      } catch (error) {
        reportInternal(error);
        if (closing) return;
        await sleep(1_000);
        continue;
      }
      if (!entry) return; // closed and empty
      busy++;
      try {
        await runOne(entry.id, entry.payload);
      } finally {
        busy--;
        await queue.ack(entry.id).catch((error: unknown) => reportInternal(error));
      }
    }
  }

  const retryAfter = (ahead: number): number =>
    Math.min(300, Math.max(1, Math.ceil(((ahead + busy) / options.workers) * meanRunSeconds)));

  const owned = (tenant: string, id: string): RunRecord | undefined => {
    const record = records.get(id);
    return record && record.tenant === tenant ? record : undefined;
  };

  const workers = Array.from({ length: options.workers }, () => worker());
  const stopped = Promise.all(workers).then(() => undefined);

  return {
    stopped,

    async submit(tenant: string, request: RunRequest, submitOptions: SubmitOptions = {}): Promise<RunRecord> {
      if (closing) throw new ShuttingDownError();
      const bytes = payloadBytes(request);
      // Bigger than a whole budget: a 429/503 "retry later" would be a lie, it can never fit.
      const largest = Math.min(queue.limits.maxBytes ?? Infinity, queue.limits.perTenantBytes ?? Infinity);
      if (bytes > largest) throw new PayloadTooLargeError(bytes, largest);
      const id = newRunId();
      const record: RunRecord = {
        id,
        tenant,
        kind: request.kind,
        state: 'queued',
        ...(submitOptions.sessionId === undefined ? {} : { session_id: submitOptions.sessionId }),
        created_at: new Date(now()).toISOString(),
      };
      // Registered before enqueue: a worker may claim the entry before enqueue's promise settles.
      records.add(record);
      queued++;
      scratch.hold(id, tenant, request);
      const payload: QueuedRun = { request, ...(submitOptions.sessionId === undefined ? {} : { sessionId: submitOptions.sessionId }) };
      queuedBytes.set(id, bytes);
      const refused = (): void => {
        queued--;
        queuedBytes.delete(id);
        scratch.releaseFor(id);
        records.delete(id);
      };
      const result = await queue.enqueue({ id, tenant, payload, bytes }).catch((error: unknown) => {
        refused();
        throw error;
      });
      if (!result.accepted) {
        refused();
        if (result.reason === 'closed') throw new ShuttingDownError();
        const ahead = result.reason === 'tenant' ? await queue.sizeFor(tenant) : await queue.size();
        throw new QueueFullError(result.reason, retryAfter(ahead));
      }
      return snapshot(record);
    },

    async wait(tenant, id, timeoutMs) {
      const record = owned(tenant, id);
      if (!record) return undefined;
      return FINAL.has(record.state) ? snapshot(record) : waiters.wait(id, timeoutMs, () => snapshot(record));
    },

    get(tenant, id) {
      const record = owned(tenant, id);
      return record ? snapshot(record) : undefined;
    },

    async cancel(tenant, id) {
      const record = owned(tenant, id);
      if (!record) return undefined;
      if (record.state === 'queued') await queue.remove(id);
      if (record.state === 'queued') {
        // Removed, or claimed but not started yet: runOne sees the final state and skips it.
        finish(record, 'cancelled', { error: abortedError('cancelled', 0).error });
      } else if (record.state === 'running') {
        aborters.get(id)?.('cancelled');
        return waiters.wait(id, killGraceMs + 1_000, () => snapshot(record));
      }
      return snapshot(record);
    },

    recent(limit) {
      return records.recent(limit).map(snapshot);
    },

    recentFor(tenant, limit) {
      return records.recent(limit, tenant).map(snapshot);
    },

    onRunStarted(listener) {
      started.add(listener);
      return () => started.delete(listener);
    },

    onRunFinished(listener) {
      finished.add(listener);
      return () => finished.delete(listener);
    },

    stats(): JobStats {
      return {
        queued,
        running: busy,
        workers: options.workers,
        queueCapacity: queue.limits.capacity,
        queueTenantShare: queue.limits.perTenant,
        finished: { ...totals },
        records: records.size,
        recordBytes: records.bytes,
        queuedBytes: [...queuedBytes.values()].reduce((sum, bytes) => sum + bytes, 0),
        abandonedSlots,
      };
    },

    shutdown(graceMs) {
      shutdownPromise ??= (async () => {
        closing = true;
        await queue.close(); // stop accepting; workers keep draining what is queued
        const drainedInTime = await Promise.race([stopped.then(() => true), sleep(graceMs).then(() => false)]);
        if (drainedInTime) return;
        for (const entry of await queue.drain()) {
          const record = records.get(entry.id);
          if (record) finish(record, 'cancelled', { error: abortedError('shutdown', 0).error });
        }
        for (const abort of aborters.values()) abort('shutdown');
        // Aborted jails die at once; a stuck executor is bounded by the forced finish above.
        await Promise.race([stopped, sleep(killGraceMs * 2)]);
      })();
      return shutdownPromise;
    },
  };
}

