// The API side of the jobs layer: submit, get, wait, cancel, recent, stats — on the ports only (queue,
// RunStore, CancelBus), no executor, so any API node answers for a run executed on any worker. Back-pressure
// instead of growth (QueueFullError with Retry-After), tenant-scoped reads (another tenant's id behaves
// exactly like an unknown one: no existence oracle), and a cancel that reaches the process running the
// jail over the CancelBus.
import { randomBytes } from 'node:crypto';
import type { QueuedRun } from './executor-types.js';
import { finishLostRuns } from './lost.js';
import { abortedError } from './outcomes.js';
import { payloadBytes } from './payload-size.js';
import type { CancelBus, RunStore } from './ports.js';
import type { JobQueue } from './queue.js';
import { internalReporter, RunEvents, type InternalErrorHandler } from './run-events.js';
import { releaseScratch, scratchOf, type ReleaseScratch } from './scratch.js';
import {
  PayloadTooLargeError,
  QueueFullError,
  ShuttingDownError,
  type JobService,
  type JobStats,
  type RunRecord,
  type RunRequest,
  type SubmitOptions,
} from './types.js';

/** What the desk knows of the workers: the local pool (embedded) or the worker registry (many hosts). */
export interface PoolStats {
  /** Worker slots, all workers together. */
  workers: number;
  /** Slots busy now. */
  running: number;
  /** Slots given up on (an executor that never returned); monotonic. */
  abandonedSlots: number;
  /** Mean run duration in seconds (for Retry-After estimates). */
  meanRunSeconds: number;
}

export interface RunDeskOptions {
  /** The shared queue (every worker claims from it). */
  queue: JobQueue<QueuedRun>;
  store: RunStore;
  bus: CancelBus;
  /**
   * The queue a run goes to; default `queue`. With many hosts a session's later runs go to the queue of
   * the worker holding its workspace; this may throw (e.g. that worker is gone) and submit throws it on.
   */
  route?(tenant: string, sessionId: string | undefined): Promise<JobQueue<QueuedRun>>;
  /** Worker capacity for stats and Retry-After; default: nothing known (one slot, none busy). */
  capacity?(): Promise<PoolStats> | PoolStats;
  /** How long a cancel of a running run waits for its final record (the worker's kill grace + margin). */
  cancelWaitMs?: number;
  releaseScratch?: ReleaseScratch;
  /** Where this desk announces the runs it finishes (cancels while queued, lost workers). */
  events?: RunEvents;
  onInternalError?: InternalErrorHandler;
  now?: () => number;
}

export interface RunDesk extends JobService {
  /**
   * The Redis queue's stalled handler calls this: each run the dead worker held is finished failed
   * `unknown_error` naming it (see lost.ts). Returns the records finished by this call.
   */
  lost(workerId: string, runIds: readonly string[]): Promise<RunRecord[]>;
  readonly events: RunEvents;
}

/** 128 bits from the CSPRNG: ids are capabilities-by-obscurity only on top of the tenant check. */
export function newRunId(): string {
  return randomBytes(16).toString('hex');
}

const NOTHING_KNOWN: PoolStats = { workers: 1, running: 0, abandonedSlots: 0, meanRunSeconds: 1 };

export function createRunDesk(options: RunDeskOptions): RunDesk {
  const { queue, store, bus } = options;
  const now = options.now ?? Date.now;
  const report = internalReporter(options.onInternalError);
  const events = options.events ?? new RunEvents(report);
  const route = options.route ?? (async () => queue);
  const capacity = async (): Promise<PoolStats> => (options.capacity ? options.capacity() : NOTHING_KNOWN);
  const cancelWaitMs = options.cancelWaitMs ?? 6_000;
  let closing = false;

  const release = (tenant: string, reference: string | undefined): void =>
    releaseScratch(options.releaseScratch, tenant, reference, (error) => report(error));

  const retryAfter = async (ahead: number): Promise<number> => {
    const pool = await capacity();
    return Math.min(300, Math.max(1, Math.ceil(((ahead + pool.running) / Math.max(1, pool.workers)) * pool.meanRunSeconds)));
  };

  const owned = async (tenant: string, id: string): Promise<RunRecord | undefined> => {
    const record = await store.get(id);
    return record && record.tenant === tenant ? record : undefined;
  };

  /** The queue a queued record waits in (its session's worker queue, or the shared one). */
  const queueOf = async (record: RunRecord): Promise<JobQueue<QueuedRun>> => {
    if (record.session_id === undefined) return queue;
    // The session's worker may be gone by now: its queue is then the wrong place to look, not an error.
    return route(record.tenant, record.session_id).catch(() => queue);
  };

  return {
    events,
    onRunStarted: (listener) => events.onRunStarted(listener),
    onRunFinished: (listener) => events.onRunFinished(listener),

    async submit(tenant: string, request: RunRequest, submitOptions: SubmitOptions = {}): Promise<RunRecord> {
      if (closing) throw new ShuttingDownError();
      const target = await route(tenant, submitOptions.sessionId);
      const bytes = payloadBytes(request);
      // Bigger than a whole budget: a 429/503 "retry later" would be a lie, it can never fit.
      const largest = Math.min(target.limits.maxBytes ?? Infinity, target.limits.perTenantBytes ?? Infinity);
      if (bytes > largest) throw new PayloadTooLargeError(bytes, largest);
      const id = newRunId();
      const scratch = scratchOf(request);
      const record: RunRecord = {
        id,
        tenant,
        kind: request.kind,
        state: 'queued',
        ...(submitOptions.sessionId === undefined ? {} : { session_id: submitOptions.sessionId }),
        created_at: new Date(now()).toISOString(),
        ...(scratch === undefined ? {} : { scratch_reference: scratch }),
      };
      // Stored before enqueue: a worker may claim the entry before enqueue's promise settles.
      await store.create(record);
      const refused = async (): Promise<void> => {
        release(tenant, scratch);
        await store.delete(id);
      };
      const payload: QueuedRun = { request, ...(submitOptions.sessionId === undefined ? {} : { sessionId: submitOptions.sessionId }) };
      const result = await target.enqueue({ id, tenant, payload, bytes }).catch(async (error: unknown) => {
        await refused();
        throw error;
      });
      if (!result.accepted) {
        await refused();
        if (result.reason === 'closed') throw new ShuttingDownError();
        const ahead = result.reason === 'tenant' ? await target.sizeFor(tenant) : await target.size();
        throw new QueueFullError(result.reason, await retryAfter(ahead));
      }
      return { ...record };
    },

    async wait(tenant, id, timeoutMs) {
      if (!(await owned(tenant, id))) return undefined;
      return store.waitFinal(id, timeoutMs);
    },

    get: owned,

    async cancel(tenant, id) {
      const record = await owned(tenant, id);
      if (!record) return undefined;
      if (record.state === 'queued') {
        const removed = await (await queueOf(record)).remove(id).catch((error: unknown) => {
          report(error, record);
          return false;
        });
        const final = await store.finish(id, 'cancelled', { error: abortedError('cancelled', 0).error });
        if (final) events.finished(final);
        // Removed: nobody else holds the run, its scratch copy is this desk's to release. Not removed: a
        // worker claimed it; its start is refused now (final), or it started a moment ago and is told here.
        if (removed) release(tenant, record.scratch_reference);
        else await bus.publish(id, 'cancelled');
        return final ?? store.get(id);
      }
      if (record.state === 'running') {
        await bus.publish(id, 'cancelled');
        return store.waitFinal(id, cancelWaitMs);
      }
      return record;
    },

    recent: (limit) => store.recent(limit),

    recentFor: (tenant, limit) => store.recent(limit, tenant),

    async stats(): Promise<JobStats> {
      const [queued, queuedBytes, held, pool] = await Promise.all([queue.size(), queue.bytes(), store.size(), capacity()]);
      return {
        queued,
        running: pool.running,
        workers: pool.workers,
        queueCapacity: queue.limits.capacity,
        queueTenantShare: queue.limits.perTenant,
        finished: { ...events.totals },
        records: held.records,
        recordBytes: held.bytes,
        queuedBytes,
        abandonedSlots: pool.abandonedSlots,
      };
    },

    lost: (workerId, runIds) => finishLostRuns(store, workerId, runIds, events),

    async shutdown() {
      // The API side only stops accepting; draining queued runs is the workers' business (worker-pool.ts).
      closing = true;
    },
  };
}
