// `confine worker` composition (issue 12): JailHost + the worker side on the Redis ports + the audit
// stream; no HTTP, no API keys. Its runs' run_finished entries are written here (the process that
// finished them); API nodes write run_submitted. Likewise its service log (pino JSON on stdout, the same
// redaction as an API node's) has the 'run finished' line an embedded service writes.
import pino from 'pino';
import { configuredSecrets, createAuditLog, createLogger } from '../api/logging.js';
import { ApiMetrics } from '../api/metrics.js';
import type { Config } from '../config/settings.js';
import { JailHost } from '../jail/host.js';
import type { InternalErrorHandler } from '../jobs/run-events.js';
import { observeRuns } from './observe.js';
import { openClusterPorts } from './redis-ports.js';
import { serveWorkerMetrics, workerStats } from './worker-metrics.js';
import { startWorkerSide, workerPortHooks, type LostRunSink } from './worker-side.js';

export interface WorkerNode {
  readonly id: string;
  readonly slots: number;
  /** Where GET /metrics is served (WORKER_METRICS_PORT), if it is. */
  readonly metricsUrl?: string;
  /** Stop claiming, drain for SHUTDOWN_GRACE_SECONDS, abort the rest, unregister, close the JailHost. */
  close(): Promise<void>;
}

export async function createWorkerNode(config: Readonly<Config>): Promise<WorkerNode> {
  const id = config.redis.workerId;
  // Never swallowed, never a crash (that would kill every run on this worker): one line on stderr each.
  const report: InternalErrorHandler = (error, record) =>
    process.stderr.write(`confine worker ${id}: internal error${record ? ` in run ${record.id}` : ''}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  // Opening the host sweeps what a killed predecessor left (cgroups, workspaces, uid leases, processes).
  const host = await JailHost.open({
    stateDir: config.stateDir,
    uidBase: config.uidBase,
    uidCount: config.uidCount,
    workspacePool: config.workspacePool,
    launcherPool: config.launcherPool,
    asyncCleanup: config.asyncCleanup,
  });
  const sink: LostRunSink = { report };
  const ports = openClusterPorts(config, { ...workerPortHooks(sink, id, config.redis.heartbeatMs), onError: (error) => report(error) });
  sink.ports = ports;
  const audit = createAuditLog(config.auditLogPath, configuredSecrets(config));
  let side;
  try {
    side = await startWorkerSide(host, config, ports, report);
  } catch (error) {
    await ports.close().catch((closeError: unknown) => report(closeError));
    await host.close();
    await audit.close();
    throw error;
  }
  sink.events = side.pool.events;
  sink.pool = side.pool;
  const metrics = new ApiMetrics(workerStats(side.pool, ports.queue));
  metrics.watchWorkers(async () => (await ports.workers.alive()).length);
  const log = createLogger(config.logLevel, configuredSecrets(config), pino.destination({ dest: 1, sync: false }));
  const stopObserving = observeRuns(side.pool.events, metrics, audit, () => log);
  const worker = side;
  const stopAll = async (): Promise<void> => {
    await worker.close();
    await ports.close();
    await host.close(); // unmounts pooled workspaces
    stopObserving();
    log.flush();
    await audit.close();
  };
  let metricsServer;
  try {
    metricsServer = config.redis.workerMetricsPort > 0 ? await serveWorkerMetrics(metrics, id, config.host, config.redis.workerMetricsPort) : undefined;
  } catch (error) {
    await stopAll(); // a port already taken: nothing of this worker may stay registered or mounted
    throw error;
  }
  const served = metricsServer;
  let closing: Promise<void> | undefined;
  return {
    id,
    slots: config.workers,
    ...(served ? { metricsUrl: served.url } : {}),
    close() {
      closing ??= (async () => {
        await served?.close();
        await stopAll();
      })();
      return closing;
    },
  };
}
