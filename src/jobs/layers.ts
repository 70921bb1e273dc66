// The jobs layer per role with many hosts (issue 12). An API node holds the run desk (submit, get, wait,
// cancel: ports only, no JailHost, no root); a worker holds the worker pool (JailHost, domain runners,
// executor). Both open the shared artifact store. `--role all` and embedded mode use createJobLayer
// (index.ts), which wires both sides in one process.
import type { Artifacts } from '../artifacts/index.js';
import type { Config } from '../config/settings.js';
import { createCommandRunner, type CommandRunner } from '../domains/commands/index.js';
import { createTerraformRunner, type TerraformRunner } from '../domains/terraform/index.js';
import type { TerraformProgress } from '../domains/terraform/types.js';
import type { JailHost } from '../jail/host.js';
import type { SessionManager } from '../sessions/manager.js';
import { openArtifacts, type StartupCleanup } from './artifact-setup.js';
import type { QueuedRun, RunContext } from './executor-types.js';
import { createExecutor } from './executor.js';
import type { CancelBus, RunStore } from './ports.js';
import type { JobQueue } from './queue.js';
import { createRunDesk, type RunDesk, type RunDeskOptions } from './run-desk.js';
import { internalReporter, type InternalErrorHandler } from './run-events.js';
import { createWorkerPool, DEFAULT_KILL_GRACE_MS, type WorkerPool, type WorkerPoolOptions } from './worker-pool.js';
import { runTimeoutMs, scratchTtlMs } from './timeouts.js';

/** The shared state of the jobs layer (the Redis implementations with many hosts). */
export interface JobPorts {
  /** The shared queue: submits go here (unless `route` says otherwise). */
  queue: JobQueue<QueuedRun>;
  /** What this process's worker slots claim from (its host queue, then the shared one); default `queue`. */
  claimQueue?: JobQueue<QueuedRun>;
  store: RunStore;
  bus: CancelBus;
  /** Where a session's runs go (its worker's host queue); may throw (that worker is gone). */
  route?: RunDeskOptions['route'];
  /** Worker slots alive, busy (the worker registry), for stats and Retry-After. */
  capacity?: RunDeskOptions['capacity'];
}

function reporterFor(handler: InternalErrorHandler | undefined): (error: unknown) => void {
  const report = internalReporter(handler);
  return (error) => report(error);
}

export interface ApiJobsOptions {
  config: Readonly<Config>;
  ports: JobPorts;
  onInternalError?: InternalErrorHandler;
}

export interface ApiJobs {
  jobs: RunDesk;
  artifacts: Artifacts;
  cleaned: StartupCleanup;
  /** Stops accepting runs and the artifact sweeper (the ports are the caller's to close). */
  close(): Promise<void>;
}

/** `confine serve --role api`: the run desk on the shared ports, and the shared artifact store. */
export async function createApiJobs(options: ApiJobsOptions): Promise<ApiJobs> {
  const { config, ports } = options;
  const { artifacts, cleaned, stopSweeper } = await openArtifacts(config, scratchTtlMs(config), reporterFor(options.onInternalError));
  const jobs = createRunDesk({
    queue: ports.queue,
    store: ports.store,
    bus: ports.bus,
    ...(ports.route ? { route: ports.route } : {}),
    ...(ports.capacity ? { capacity: ports.capacity } : {}),
    // The workers' kill grace (forced finish) plus a margin: a cancelled jail dies at once.
    cancelWaitMs: DEFAULT_KILL_GRACE_MS + 1_000,
    releaseScratch: (tenant, reference) => artifacts.discardScratch(tenant, reference),
    ...(options.onInternalError ? { onInternalError: options.onInternalError } : {}),
  });
  return {
    jobs,
    artifacts,
    cleaned,
    async close() {
      stopSweeper();
      await jobs.shutdown(0);
    },
  };
}

export interface WorkerLayerOptions {
  host: JailHost;
  config: Readonly<Config>;
  /** `claimQueue` (its host queue + the shared one) is what the slots claim from; default `queue`. */
  ports: Pick<JobPorts, 'queue' | 'claimQueue' | 'store' | 'bus'>;
  workerId: string;
  /** The worker registry's heartbeat. */
  heartbeat?: WorkerPoolOptions['heartbeat'];
  /** Session workspaces (WorkerSessions over the shared registry); without it session runs are refused. */
  workspaces?: Pick<SessionManager, 'withWorkspace'>;
  terraform?: Pick<TerraformRunner, 'run'>;
  commands?: Pick<CommandRunner, 'run'>;
  onInternalError?: InternalErrorHandler;
  onTerraformProgress?: (context: RunContext, progress: TerraformProgress) => void;
}

export interface WorkerLayer {
  pool: WorkerPool;
  artifacts: Artifacts;
  cleaned: StartupCleanup;
  /** Stops claiming, lets running runs finish for graceMs (default SHUTDOWN_GRACE_SECONDS), then aborts them. */
  close(graceMs?: number): Promise<void>;
}

/** `confine worker`: the worker pool on the shared ports; queued runs are left to other workers at stop. */
export async function createWorkerLayer(options: WorkerLayerOptions): Promise<WorkerLayer> {
  const { host, config, ports } = options;
  const reportError = reporterFor(options.onInternalError);
  const { artifacts, cleaned, stopSweeper } = await openArtifacts(config, scratchTtlMs(config), reportError);
  const executor = createExecutor({
    // A door or proxy that failed to close may have left a process or socket behind: the log must say so.
    terraform: options.terraform ?? createTerraformRunner(host, config, { onCleanupError: (what, error) => reportError(new Error(`closing ${what} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error })) }),
    commands: options.commands ?? createCommandRunner(host, config),
    artifacts,
    ...(options.workspaces ? { sessions: options.workspaces } : {}),
    inlinePlanMaxBytes: config.tfPlanInlineMaxBytes,
    ...(options.onTerraformProgress ? { onTerraformProgress: options.onTerraformProgress } : {}),
  });
  const pool = createWorkerPool({
    workerId: options.workerId,
    queue: ports.claimQueue ?? ports.queue,
    store: ports.store,
    bus: ports.bus,
    executor,
    slots: config.workers,
    runTimeoutMs: runTimeoutMs(config),
    atShutdown: 'leave',
    releaseScratch: (tenant, reference) => artifacts.discardScratch(tenant, reference),
    ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}),
    ...(options.onInternalError ? { onInternalError: options.onInternalError } : {}),
  });
  await pool.ready;
  return {
    pool,
    artifacts,
    cleaned,
    async close(graceMs = config.shutdownGraceSeconds * 1000) {
      stopSweeper();
      await pool.shutdown(graceMs);
    },
  };
}
