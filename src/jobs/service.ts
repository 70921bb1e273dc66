// The job service of one process (embedded mode, and --role all): the API side (run-desk.ts) and the
// worker pool (worker-pool.ts) wired on the same ports. By default the ports are the memory ones, so
// `confine serve` without Redis behaves as it always did; given Redis ports it is one node of many.
import { hostname } from 'node:os';
import type { Executor, QueuedRun } from './executor-types.js';
import { MemoryCancelBus } from './memory-cancel-bus.js';
import type { CancelBus, RunStore } from './ports.js';
import type { JobQueue } from './queue.js';
import { DEFAULT_RECORD_BOUNDS, MemoryRunStore, type RecordLimits } from './records.js';
import { createRunDesk, type RunDesk, type RunDeskOptions } from './run-desk.js';
import { internalReporter, RunEvents } from './run-events.js';
import type { ReleaseScratch } from './scratch.js';
import type { JobService, RunRecord, RunRequest } from './types.js';
import { createWorkerPool, DEFAULT_KILL_GRACE_MS, type WorkerPool, type WorkerPoolOptions } from './worker-pool.js';

export { newRunId } from './run-desk.js';

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
  releaseScratch?: ReleaseScratch;
  /** Bounds of the memory RunStore (ignored when `store` is given: that store has its own). */
  records?: RecordLimits;
  /** Default: a MemoryRunStore bounded by `records`. */
  store?: RunStore;
  /** Default: a MemoryCancelBus. */
  bus?: CancelBus;
  /** Default: hostname-pid. */
  workerId?: string;
  /** What the worker slots claim from (many hosts: this worker's host queue and the shared one); default `queue`. */
  claimQueue?: JobQueue<QueuedRun>;
  /** Where a session's runs go (many hosts; see RunDeskOptions.route); default `queue`. */
  route?: RunDeskOptions['route'];
  /** Worker capacity for stats and Retry-After (many hosts: the worker registry); default this pool's. */
  capacity?: RunDeskOptions['capacity'];
  /** Default 'cancel' (nobody else will run what this process queued); 'leave' when other workers share the queue. */
  atShutdown?: WorkerPoolOptions['atShutdown'];
  heartbeat?: WorkerPoolOptions['heartbeat'];
  /** Internal failures (an executor that threw, a listener that threw): the API logs them. */
  onInternalError?: (error: unknown, record?: RunRecord) => void;
  now?: () => number;
}

export interface JobServiceHandle extends JobService {
  /** Resolves when every worker has stopped (after shutdown). */
  readonly stopped: Promise<void>;
  readonly desk: RunDesk;
  readonly pool: WorkerPool;
}

export function defaultWorkerId(): string {
  return `${hostname()}-${process.pid}`;
}

export function createJobService(options: JobServiceOptions): JobServiceHandle {
  const report = internalReporter(options.onInternalError);
  // One event source: a run finished by a cancel on the API side and one finished by a worker are
  // announced to the same listeners, each once.
  const events = new RunEvents(report);
  const store = options.store ?? new MemoryRunStore(options.records ?? DEFAULT_RECORD_BOUNDS, options.now);
  const bus = options.bus ?? new MemoryCancelBus((error) => report(error));
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const common = {
    store,
    bus,
    events,
    ...(options.releaseScratch ? { releaseScratch: options.releaseScratch } : {}),
    ...(options.onInternalError ? { onInternalError: options.onInternalError } : {}),
    ...(options.now ? { now: options.now } : {}),
  };
  const pool = createWorkerPool({
    ...common,
    workerId: options.workerId ?? defaultWorkerId(),
    queue: options.claimQueue ?? options.queue,
    executor: options.executor,
    slots: options.workers,
    runTimeoutMs: options.runTimeoutMs,
    killGraceMs,
    ...(options.abandonGraceMs === undefined ? {} : { abandonGraceMs: options.abandonGraceMs }),
    atShutdown: options.atShutdown ?? 'cancel',
    ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}),
  });
  const desk = createRunDesk({
    ...common,
    queue: options.queue,
    capacity: options.capacity ?? (() => pool.stats()),
    ...(options.route ? { route: options.route } : {}),
    // A cancelled jail dies at once; a stuck executor is finished (forced) after killGraceMs.
    cancelWaitMs: killGraceMs + 1_000,
  });
  return {
    ...desk,
    desk,
    pool,
    stopped: pool.stopped,
    async shutdown(graceMs) {
      await desk.shutdown(graceMs);
      await pool.shutdown(graceMs);
    },
  };
}
