// `confine serve --role api|all` (issue 12): the HTTP service on the shared ports. An API node holds the
// run desk (submit, get, wait, cancel on Redis), the session registry, the Redis rate limit and /ready
// from Redis and the workers' heartbeats; it opens no JailHost and starts no jail agent, so it runs as
// any user. `all` adds this process's own worker side (JailHost, pool, registration) on the same ports.
import type { FastifyInstance } from 'fastify';
import { configuredSecrets, createAuditLog } from '../api/logging.js';
import { ApiMetrics } from '../api/metrics.js';
import type { ApiDeps } from '../api/ports.js';
import type { Config } from '../config/settings.js';
import { JailHost } from '../jail/host.js';
import { createApiJobs } from '../jobs/index.js';
import type { InternalErrorHandler } from '../jobs/run-events.js';
import { readyApp, serviceInfo } from './api-app.js';
import { artifactPort } from './artifacts-port.js';
import { buildAuth } from './auth.js';
import { redisEdgePorts, type EdgePorts } from './edge-ports.js';
import { observeRuns } from './observe.js';
import { openClusterPorts } from './redis-ports.js';
import type { Service, ServiceOptions } from './service.js';
import { startWorkerSide, workerPortHooks, type LostRunSink, type WorkerSide } from './worker-side.js';

export async function createClusterService(config: Readonly<Config>, role: 'api' | 'all', options: ServiceOptions, version: string): Promise<Service> {
  const { auth, devKey } = await buildAuth(config);
  let app: FastifyInstance | undefined;
  const report: InternalErrorHandler = (error, record) => {
    if (app) app.log.error({ err: error, run_id: record?.id, tenant: record?.tenant }, 'internal error in a run');
    else process.stderr.write(`confine: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
  };
  const sink: LostRunSink = { report };
  // The registry comes with the edge ports, which need the connection: routing looks it up when a run is submitted.
  let edge: EdgePorts | undefined;
  const ports = openClusterPorts(config, {
    // Placed at submit (bound to the least busy live worker, first binder wins): concurrent first runs of a
    // new session from several API nodes then all go to one worker instead of racing to two.
    sessionHost: async (tenant, id) => (edge ? edge.placeSession(tenant, id) : undefined),
    // Only a process that claims (role all) meets dead workers' runs and payloads it cannot open.
    ...(role === 'all' ? workerPortHooks(sink, config.redis.workerId, config.redis.heartbeatMs) : {}),
    onError: (error) => report(error),
  }, role === 'all' ? 'worker' : 'api');
  sink.ports = ports;
  edge = redisEdgePorts(ports.conn, config, ports.workers);
  const apiJobs = await createApiJobs({ config, ports, onInternalError: report });
  const jobs = apiJobs.jobs;
  const audit = createAuditLog(config.auditLogPath, configuredSecrets(config));
  const metrics = new ApiMetrics(() => jobs.stats());
  metrics.watchWorkers(async () => (await ports.workers.alive()).length);
  // Runs this node finishes itself (cancelled while queued, a lost worker's runs found here).
  const stopObserving = [observeRuns(jobs, metrics, audit, () => app?.log)];

  let host: JailHost | undefined;
  let worker: WorkerSide | undefined;
  if (role === 'all') {
    host = options.host ?? (await JailHost.open({
      stateDir: config.stateDir,
      uidBase: config.uidBase,
      uidCount: config.uidCount,
      workspacePool: config.workspacePool,
      launcherPool: config.launcherPool,
      asyncCleanup: config.asyncCleanup,
    }));
    worker = await startWorkerSide(host, config, ports, report);
    sink.events = worker.pool.events;
    sink.pool = worker.pool;
    stopObserving.push(observeRuns(worker.pool.events, metrics, audit, () => app?.log));
  }

  let ready = false;
  const deps: ApiDeps = {
    config,
    jobs,
    sessions: edge.sessions,
    artifacts: artifactPort(apiJobs.artifacts),
    auth,
    audit,
    metrics,
    rateLimit: edge.rateLimit,
    readiness: edge.readiness,
    // An API node runs no jail: it reports no cgroup version of its own.
    info: await serviceInfo(config, version, host ? `v${host.cgroups.version}` : 'none (api role)'),
    ready: () => ready,
  };
  app = await readyApp(deps, options);
  ready = true;
  const server = app;
  const ownHost = options.host === undefined;
  const edgePorts = edge;
  let closing: Promise<void> | undefined;
  return {
    app: server,
    jobs,
    ...(host ? { host } : {}),
    ...(devKey === undefined ? {} : { devKey }),
    close() {
      closing ??= (async () => {
        ready = false;
        // Runs queued here stay in Redis for the other workers; this node's own jails drain (role all).
        await Promise.all([closeHttp(server, config.shutdownGraceSeconds * 1000), apiJobs.close(), worker?.close(config.shutdownGraceSeconds * 1000)]);
        await edgePorts.close();
        await ports.close();
        if (host && ownHost) await host.close();
        for (const stop of stopObserving) stop();
        await audit.close();
      })();
      return closing;
    },
  };
}

/**
 * Stops listening and lets in-flight requests finish for the grace; then closes the connections still
 * open. On an API node those are synchronous waits (`?wait=true`) on runs that live on in a worker: the
 * run is not touched, and its record stays readable on any other node (nothing a client can poll is lost),
 * while this node's restart is no longer held up to SYNC_WAIT_SECONDS by one long run.
 */
async function closeHttp(server: FastifyInstance, graceMs: number): Promise<void> {
  const timer = setTimeout(() => server.server.closeAllConnections(), graceMs);
  try {
    await server.close();
  } finally {
    clearTimeout(timer);
  }
}
