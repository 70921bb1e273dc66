// The jobs layer wired from the configuration table: queue + worker pool + executor + sessions +
// artifacts, and the start-up cleanup of what a crashed predecessor left. The composition root
// (src/app) calls createJobLayer once; nothing here is module-level state.
import type { Artifacts } from '../artifacts/index.js';
import type { Config } from '../config/settings.js';
import { createCommandRunner, type CommandRunner } from '../domains/commands/index.js';
import { createTerraformRunner, type TerraformRunner } from '../domains/terraform/index.js';
import type { TerraformProgress } from '../domains/terraform/types.js';
import type { JailHost } from '../jail/host.js';
import { createSessionManager, type SessionManager } from '../sessions/index.js';
import type { QueuedRun, RunContext } from './executor-types.js';
import { openArtifacts, type StartupCleanup } from './artifact-setup.js';
import { runTimeoutMs, scratchTtlMs } from './timeouts.js';
import { createExecutor } from './executor.js';
import type { JobPorts } from './layers.js';
import { MemoryJobQueue, type JobQueue } from './queue.js';
import { createJobService, type JobServiceHandle } from './service.js';
import type { RunRecord } from './types.js';
import type { WorkerPoolOptions } from './worker-pool.js';

export { createExecutor, DEFAULT_INLINE_PLAN_MAX_BYTES, type ExecutorDeps } from './executor.js';
export type { Execution, Executor, QueuedRun, RunContext } from './executor-types.js';
export { MemoryJobQueue, type EnqueueResult, type JobQueue, type QueueEntry, type QueueLimits } from './queue.js';
export { createJobService, defaultWorkerId, newRunId, type JobServiceHandle, type JobServiceOptions } from './service.js';
export { createRunDesk, type PoolStats, type RunDesk, type RunDeskOptions } from './run-desk.js';
export { createWorkerPool, type WorkerPool, type WorkerPoolOptions } from './worker-pool.js';
export { createApiJobs, createWorkerLayer, type ApiJobs, type ApiJobsOptions, type JobPorts, type WorkerLayer, type WorkerLayerOptions } from './layers.js';
export { finishLostRuns, finishUndeliverableRun, lostWorkerMessage } from './lost.js';
export { MemoryCancelBus } from './memory-cancel-bus.js';
export { DEFAULT_RECORD_BOUNDS, MemoryRunStore } from './records.js';
export { RunEvents } from './run-events.js';
export type { CancelBus, RecordBounds, RunStore } from './ports.js';
export type { StartupCleanup } from './artifact-setup.js';
export type { ArchiveReference, QueuedTerraformInput, TerraformRunRequest } from './types.js';

export { runTimeoutMs, scratchTtlMs } from './timeouts.js';

export interface JobLayerOptions {
  host: JailHost;
  config: Readonly<Config>;
  /** Defaults to the real domain runners built from host and config. */
  terraform?: Pick<TerraformRunner, 'run'>;
  commands?: Pick<CommandRunner, 'run'>;
  /** Defaults to the in-memory queue bounded by QUEUE_SIZE / QUEUE_TENANT_SHARE. */
  queue?: JobQueue<QueuedRun>;
  /**
   * `--role all`: the shared ports (Redis) instead of memory ones; `queue` above is then ignored. Queued
   * runs are left to other workers at shutdown instead of being cancelled.
   */
  ports?: JobPorts;
  /** This process's worker id (default hostname-pid); stored in each record it runs. */
  workerId?: string;
  /** The worker registry's heartbeat (many hosts). */
  heartbeat?: WorkerPoolOptions['heartbeat'];
  /** The executor's session workspaces (many hosts: WorkerSessions); default the layer's SessionManager. */
  workspaces?: Pick<SessionManager, 'withWorkspace'>;
  onInternalError?: (error: unknown, record?: RunRecord) => void;
  onTerraformProgress?: (context: RunContext, progress: TerraformProgress) => void;
}

export interface JobLayer {
  jobs: JobServiceHandle;
  sessions: SessionManager;
  artifacts: Artifacts;
  cleaned: StartupCleanup;
  /** Graceful stop: drain jobs for graceMs (default SHUTDOWN_GRACE_SECONDS), then remove every session. */
  close(graceMs?: number): Promise<void>;
}

export async function createJobLayer(options: JobLayerOptions): Promise<JobLayer> {
  const { host, config } = options;
  const reportError = (error: unknown): void => {
    if (options.onInternalError) options.onInternalError(error);
    else process.stderr.write(`confine jobs: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  };
  // JailHost.open already swept dead owners' jails, cgroups and workspaces (session workspaces are
  // ordinary host workspaces, so that includes them); this removes the artifact store's own leftovers.
  const { artifacts, cleaned, stopSweeper } = await openArtifacts(config, scratchTtlMs(config), reportError);
  const sessions = createSessionManager(host, config, options.onInternalError ? (error) => options.onInternalError?.(error) : undefined);
  const executor = createExecutor({
    // A door or proxy that failed to close may have left a process or socket behind: the log must say so.
    terraform: options.terraform ?? createTerraformRunner(host, config, { onCleanupError: (what, error) => reportError(new Error(`closing ${what} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error })) }),
    commands: options.commands ?? createCommandRunner(host, config),
    artifacts,
    sessions: options.workspaces ?? sessions,
    inlinePlanMaxBytes: config.tfPlanInlineMaxBytes,
    ...(options.onTerraformProgress ? { onTerraformProgress: options.onTerraformProgress } : {}),
  });
  const ports = options.ports;
  const jobs = createJobService({
    ...(ports
      ? {
          store: ports.store,
          bus: ports.bus,
          ...(ports.claimQueue ? { claimQueue: ports.claimQueue } : {}),
          ...(ports.route ? { route: ports.route } : {}),
          ...(ports.capacity ? { capacity: ports.capacity } : {}),
          atShutdown: 'leave' as const,
        }
      : {}),
    ...(options.workerId === undefined ? {} : { workerId: options.workerId }),
    ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}),
    queue: ports?.queue ?? options.queue ?? new MemoryJobQueue<QueuedRun>({
      capacity: config.queueSize,
      perTenant: config.queueTenantShare,
      maxBytes: config.queueMaxBytes,
      perTenantBytes: config.queueTenantMaxBytes,
    }),
    workers: config.workers,
    executor,
    runTimeoutMs: runTimeoutMs(config),
    records: {
      maxFinished: config.runRecordsMax,
      finishedTtlMs: config.runRecordsTtlSeconds * 1000,
      maxRecordBytes: config.runRecordMaxBytes,
      maxTotalBytes: config.runRecordsMaxBytes,
    },
    releaseScratch: (tenant, reference) => artifacts.discardScratch(tenant, reference),
    ...(options.onInternalError ? { onInternalError: options.onInternalError } : {}),
  });
  sessions.start();
  return {
    jobs,
    sessions,
    artifacts,
    cleaned,
    async close(graceMs = config.shutdownGraceSeconds * 1000) {
      stopSweeper();
      await jobs.shutdown(graceMs);
      await sessions.closeAll();
    },
  };
}
