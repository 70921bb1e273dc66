// The jobs layer's ports on Redis in one call (issue 12), for the composition root: the shared queue, this
// worker's claim group (its host queue first, then the shared one), the run store, the cancel bus, the
// worker registry, session routing to host queues and capacity from the registry. One connection for
// commands; subscribers and BullMQ's blocking connections are opened by the parts that need them.
import type { QueuedRun } from '../executor-types.js';
import type { JobPorts } from '../layers.js';
import type { RecordBounds } from '../ports.js';
import type { JobQueue, QueueLimits } from '../queue.js';
import type { PoolStats } from '../run-desk.js';
import { RedisCancelBus } from './cancel-bus.js';
import { ClaimGroup } from './claim-group.js';
import { openRedis, type RedisConnection } from './connection.js';
import { hostQueueName, RedisJobQueue, SHARED_QUEUE_NAME, type RedisQueueOptions } from './queue.js';
import { HostReaper } from './host-reaper.js';
import { RedisRunStore } from './run-store.js';
import { RedisWorkerRegistry } from './workers.js';

export interface RedisPortsOptions {
  url: string;
  /** REDIS_KEY_PREFIX */
  prefix: string;
  /** WORKER_ID: recorded with claims; names this process's host queue. */
  workerId: string;
  /** The shared queue's bounds; each host queue has the same. */
  queueLimits: QueueLimits;
  recordBounds: RecordBounds;
  /** RUN_LOCK_SECONDS in ms. */
  lockMs: number;
  /** WORKER_HEARTBEAT_SECONDS in ms. */
  heartbeatMs: number;
  /** QUEUE_SECRET_KEY (32 bytes): payloads sealed in Redis. */
  secretKey?: Buffer;
  /** The worker a session is bound to (undefined: not bound yet, the shared queue takes its run). */
  sessionHost?: (tenant: string, sessionId: string) => Promise<string | undefined>;
  /** A claim whose worker died: finish it failed naming the worker (finishLostRuns). Workers only. */
  onLost?: (runId: string, workerId: string) => void;
  /** This worker's own claim lapsed while its run still runs (see RedisQueueOptions.onLockLost): kill the jail. */
  onLockLost?: (runId: string) => void;
  /** A claimed payload that does not open (QUEUE_SECRET_KEY differs): finish it failed. Workers only. */
  onUndeliverable?: (runId: string, message: string) => void;
  onError?: (error: Error) => void;
  /**
   * Workers: sweep the host queues of workers that are gone every reapIntervalMs (host-reaper.ts); a run
   * waiting there can never run and is passed to onOrphaned (finish it failed: session_host_gone).
   */
  reap?: { intervalMs: number; onOrphaned: (runId: string, workerId: string) => void };
}

export interface RedisPorts extends JobPorts {
  readonly conn: RedisConnection;
  readonly queue: RedisJobQueue<QueuedRun>;
  /** This worker's host queue then the shared one (only claimed from in worker processes). */
  readonly claimQueue: ClaimGroup<QueuedRun>;
  readonly store: RedisRunStore;
  readonly bus: RedisCancelBus;
  readonly workers: RedisWorkerRegistry;
  /** The queue of `workerId`'s host (cached; an API node enqueues a bound session's run there). */
  hostQueue(workerId: string): RedisJobQueue<QueuedRun>;
  /** Sweeping dead workers' host queues (when `reap` was given). */
  readonly reaper: HostReaper | undefined;
  /** Closes every part and the connection (after the desk and the pool have stopped). */
  close(): Promise<void>;
}

/** Host queues an API node keeps open at once; the oldest is let go beyond it (reopened when needed). */
const MAX_HOST_QUEUES = 256;

export function openRedisPorts(options: RedisPortsOptions): RedisPorts {
  const conn = openRedis(options.url, options.prefix);
  const queueOptions = (name: string): RedisQueueOptions => ({
    name,
    workerId: options.workerId,
    lockMs: options.lockMs,
    ...(options.secretKey ? { secretKey: options.secretKey } : {}),
    ...(options.onLost ? { onLost: options.onLost } : {}),
    ...(options.onLockLost ? { onLockLost: options.onLockLost } : {}),
    ...(options.onUndeliverable ? { onUndeliverable: options.onUndeliverable } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  });
  const queue = new RedisJobQueue<QueuedRun>(conn, options.queueLimits, queueOptions(SHARED_QUEUE_NAME));
  const ownHostQueue = new RedisJobQueue<QueuedRun>(conn, options.queueLimits, queueOptions(hostQueueName(options.workerId)));
  const hostQueues = new Map<string, RedisJobQueue<QueuedRun>>([[options.workerId, ownHostQueue]]);
  const retired: Promise<void>[] = [];
  const hostQueue = (workerId: string): RedisJobQueue<QueuedRun> => {
    const known = hostQueues.get(workerId);
    if (known) return known;
    if (hostQueues.size >= MAX_HOST_QUEUES) {
      const [oldest, handle] = hostQueues.entries().next().value!;
      if (oldest !== options.workerId) {
        hostQueues.delete(oldest);
        retired.push(handle.disconnect());
      }
    }
    const made = new RedisJobQueue<QueuedRun>(conn, options.queueLimits, queueOptions(hostQueueName(workerId)));
    hostQueues.set(workerId, made);
    return made;
  };
  const store = new RedisRunStore(conn, options.recordBounds);
  const bus = new RedisCancelBus(conn, (error) => options.onError?.(error instanceof Error ? error : new Error(String(error))));
  const workers = new RedisWorkerRegistry(conn, { heartbeatMs: options.heartbeatMs, ...(options.onError ? { onError: (error: unknown) => options.onError!(error instanceof Error ? error : new Error(String(error))) } : {}) });
  const sessionHost = options.sessionHost;
  const reaper = options.reap
    ? new HostReaper(conn, workers, {
      workerId: options.workerId,
      limits: options.queueLimits,
      lockMs: options.lockMs,
      onLost: options.onLost ?? (() => undefined),
      onOrphaned: options.reap.onOrphaned,
      ...(options.secretKey ? { secretKey: options.secretKey } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    })
    : undefined;
  if (reaper && options.reap) reaper.start(options.reap.intervalMs);

  return {
    conn,
    queue,
    claimQueue: new ClaimGroup(ownHostQueue, queue),
    store,
    bus,
    workers,
    hostQueue,
    reaper,
    async route(tenant: string, sessionId: string | undefined): Promise<JobQueue<QueuedRun>> {
      if (sessionId === undefined || !sessionHost) return queue;
      const host = await sessionHost(tenant, sessionId);
      return host === undefined ? queue : hostQueue(host);
    },
    async capacity(): Promise<PoolStats> {
      const alive = await workers.alive();
      return {
        workers: alive.reduce((sum, w) => sum + w.slots, 0),
        running: alive.reduce((sum, w) => sum + w.busy, 0),
        abandonedSlots: 0,
        meanRunSeconds: 1,
      };
    },
    async close() {
      await reaper?.stop();
      await workers.unregister();
      for (const handle of hostQueues.values()) await handle.disconnect();
      await queue.disconnect();
      await Promise.all(retired);
      await store.close();
      await bus.close();
      await conn.close();
    },
  };
}
