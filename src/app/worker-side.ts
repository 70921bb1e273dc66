// The worker side of many hosts (issue 12), shared by `confine worker` and `confine serve --role all`:
// session workspaces over the shared registry, the worker pool (JailHost, domain runners, executor) on the
// Redis ports, and this worker's registration (id, host, slots, busy) kept alive by its heartbeat.
import type { Config } from '../config/settings.js';
import type { JailHost } from '../jail/host.js';
import { createWorkerLayer, finishLostRuns, type RunEvents, type WorkerPool } from '../jobs/index.js';
import type { RedisPorts } from '../jobs/redis/open-ports.js';
import type { InternalErrorHandler } from '../jobs/run-events.js';
import { createWorkerSessions, RedisSessionRegistry, registryLimits } from '../sessions/index.js';
import type { ClusterPortsHooks } from './redis-ports.js';

/** Filled in as the parts come up: the hooks below are handed to openRedisPorts before the pool exists. */
export interface LostRunSink {
  ports?: RedisPorts;
  events?: RunEvents;
  pool?: WorkerPool;
  report: InternalErrorHandler;
}

export function hostGoneMessage(workerId: string): string {
  return `worker ${workerId} stopped before running this run (it held this session's workspace); open a new session and submit it again`;
}

/**
 * What a claiming process does with runs it cannot run: a dead worker's run (its lock lapsed) is failed
 * naming that worker (at-most-once: never retried); a payload that does not open here (another
 * QUEUE_SECRET_KEY) is failed saying so. Either is announced once, by the process that finished it.
 */
export function workerPortHooks(sink: LostRunSink, workerId: string, heartbeatMs: number): Pick<ClusterPortsHooks, 'onLost' | 'onUndeliverable' | 'onLockLost' | 'reap'> {
  const announce = (final: Awaited<ReturnType<RedisPorts['store']['finish']>>): void => {
    if (final) sink.events?.finished(final);
  };
  return {
    onLost: (runId, lostWorker) => {
      if (!sink.ports) return;
      finishLostRuns(sink.ports.store, lostWorker, [runId], sink.events).catch((error: unknown) => sink.report(error));
    },
    // This worker's own claim lapsed (Redis away longer than RUN_LOCK_SECONDS): the run is being reported
    // lost elsewhere, so it is failed as lost here too (first final wins) and its jail killed at once: a run
    // already answered "failed" must not go on having effects.
    onLockLost: (runId) => {
      const kill = (): void => {
        sink.pool?.abort(runId, 'shutdown');
      };
      if (!sink.ports) return kill();
      finishLostRuns(sink.ports.store, workerId, [runId], sink.events).then(kill, (error: unknown) => {
        sink.report(error);
        kill();
      });
    },
    // Runs waiting in the host queue of a worker that is gone (its sessions' runs, accepted in the moments
    // before its heartbeat lapsed) can never run: every live worker sweeps such queues (host-reaper.ts).
    reap: {
      intervalMs: heartbeatMs,
      onOrphaned: (runId, goneWorker) => {
        if (!sink.ports) return;
        sink.ports.store
          .finish(runId, 'failed', { error: { type: 'unknown_error', message: hostGoneMessage(goneWorker), detail: `worker_lost: ${goneWorker}` } })
          .then(announce, (error: unknown) => sink.report(error));
      },
    },
    onUndeliverable: (runId, message) => {
      if (!sink.ports) return;
      sink.ports.store
        .finish(runId, 'failed', { error: { type: 'unknown_error', message: `worker ${workerId} could not open this run's queued payload (is QUEUE_SECRET_KEY the same on every node?): submit it again`, detail: message } })
        .then(announce, (error: unknown) => sink.report(error));
    },
  };
}

export interface WorkerSide {
  pool: WorkerPool;
  /** Stop claiming, drain for graceMs, abort the rest; then drop session workspaces and unregister. */
  close(graceMs?: number): Promise<void>;
}

export async function startWorkerSide(host: JailHost, config: Readonly<Config>, ports: RedisPorts, report: InternalErrorHandler): Promise<WorkerSide> {
  const workerId = config.redis.workerId;
  const registry = new RedisSessionRegistry(ports.conn, registryLimits(config));
  const workspaces = createWorkerSessions(host, config, registry, workerId, (error) => report(error));
  // Closes the sessions a killed predecessor with this id held (JailHost.open swept their workspaces).
  await workspaces.start();
  const layer = await createWorkerLayer({ host, config, ports, workerId, workspaces, onInternalError: report });
  // Registered only once it claims: an API node's /ready must not count a worker that cannot run yet.
  await ports.workers.register({ id: workerId, slots: config.workers }, () => layer.pool.stats().running);
  return {
    pool: layer.pool,
    async close(graceMs = config.shutdownGraceSeconds * 1000) {
      await layer.close(graceMs);
      await ports.workers.unregister();
      await workspaces.closeAll();
      await registry.dispose();
    },
  };
}
