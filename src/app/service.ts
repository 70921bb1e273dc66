// The composition root: config -> JailHost -> domain runners -> executor -> job service -> sessions ->
// artifacts -> HTTP app. The one place where things are constructed; nothing here is module-level
// state, so tests start several services side by side.
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { configuredSecrets, createAuditLog } from '../api/logging.js';
import { ApiMetrics } from '../api/metrics.js';
import type { ApiDeps } from '../api/ports.js';
import type { Config } from '../config/settings.js';
import { JailHost } from '../jail/host.js';
import { createJobLayer } from '../jobs/index.js';
import type { JobService } from '../jobs/types.js';
import { readyApp, serviceInfo } from './api-app.js';
import { artifactPort } from './artifacts-port.js';
import { buildAuth } from './auth.js';
import { createClusterService } from './cluster-service.js';
import { observeRuns } from './observe.js';
import type { Role } from './roles.js';
import { sessionPort } from './sessions-port.js';

const VERSION = '0.1.0';

export interface ServiceOptions {
  /** Which parts this process runs (src/app/roles.ts); default embedded (one process, memory ports). */
  role?: Role;
  /** A JailHost opened by the caller (tests use their own uid range); default: opened from config. */
  host?: JailHost;
  logStream?: DestinationStream;
  logger?: boolean;
}

export interface Service {
  app: FastifyInstance;
  jobs: JobService;
  /** Absent on an API node (`--role api`): it runs no jail. */
  host?: JailHost;
  /** Set when no API_KEYS/JWT were configured: a random key valid for this process (tenant "dev"). */
  devKey?: string;
  /** Stop accepting, drain for SHUTDOWN_GRACE_SECONDS, cancel the rest, release sessions, flush audit. */
  close(): Promise<void>;
}

export async function createService(config: Readonly<Config>, options: ServiceOptions = {}): Promise<Service> {
  const role = options.role ?? 'embedded';
  if (role === 'worker') throw new RangeError('a worker serves no HTTP: start it with createWorkerNode (`confine worker`)');
  if (role !== 'embedded') return createClusterService(config, role, options, VERSION);
  const { auth, devKey } = await buildAuth(config);
  // Opening the host sweeps what a crashed predecessor left (cgroups, workspaces, uid leases).
  const ownHost = options.host === undefined;
  const host = options.host ?? (await JailHost.open({
    stateDir: config.stateDir,
    uidBase: config.uidBase,
    uidCount: config.uidCount,
    workspacePool: config.workspacePool,
    launcherPool: config.launcherPool,
    asyncCleanup: config.asyncCleanup,
  }));
  let app: FastifyInstance | undefined;
  const layer = await createJobLayer({
    host,
    config,
    onInternalError: (error, record) => {
      if (app) app.log.error({ err: error, run_id: record?.id, tenant: record?.tenant }, 'internal error in a run');
      else process.stderr.write(`confine: internal error: ${String(error)}\n`);
    },
  });
  const jobs = layer.jobs;
  const metrics = new ApiMetrics(() => jobs.stats());
  const audit = createAuditLog(config.auditLogPath, configuredSecrets(config));
  const stopObserving = observeRuns(jobs, metrics, audit, () => app?.log);
  let ready = false;
  const deps: ApiDeps = {
    config,
    jobs,
    sessions: sessionPort(layer.sessions),
    artifacts: artifactPort(layer.artifacts),
    auth,
    audit,
    metrics,
    info: await serviceInfo(config, VERSION, `v${host.cgroups.version}`),
    ready: () => ready,
  };
  app = await readyApp(deps, options);
  ready = true;
  const server = app;
  let closing: Promise<void> | undefined;
  return {
    app: server,
    jobs,
    host,
    ...(devKey === undefined ? {} : { devKey }),
    close() {
      closing ??= (async () => {
        ready = false;
        // In-flight synchronous requests finish as their runs drain; new connections are refused.
        await Promise.all([server.close(), layer.close(config.shutdownGraceSeconds * 1000)]);
        if (ownHost) await host.close(); // unmounts pooled workspaces
        stopObserving();
        await audit.close();
      })();
      return closing;
    },
  };
}
