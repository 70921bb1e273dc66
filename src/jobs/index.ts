// The jobs layer wired from the configuration table: queue + worker pool + executor + sessions +
// artifacts, and the start-up cleanup of what a crashed predecessor left. The composition root
// (src/app) calls createJobLayer once; nothing here is module-level state.
import { Artifacts, createArtifactStore } from '../artifacts/index.js';
import type { Config } from '../config/settings.js';
import { createCommandRunner, type CommandRunner } from '../domains/commands/index.js';
import { createTerraformRunner, type TerraformRunner } from '../domains/terraform/index.js';
import type { TerraformProgress } from '../domains/terraform/types.js';
import type { JailHost } from '../jail/host.js';
import { MiB } from '../jail/limits.js';
import { createSessionManager, type SessionManager } from '../sessions/index.js';
import type { QueuedRun, RunContext } from './executor-types.js';
import { createExecutor } from './executor.js';
import { MemoryJobQueue, type JobQueue } from './queue.js';
import { createJobService, type JobServiceHandle } from './service.js';
import type { RunRecord, RunRequest } from './types.js';

export { createExecutor, DEFAULT_INLINE_PLAN_MAX_BYTES, type ExecutorDeps } from './executor.js';
export type { Execution, Executor, QueuedRun, RunContext } from './executor-types.js';
export { MemoryJobQueue, type EnqueueResult, type JobQueue, type QueueEntry, type QueueLimits } from './queue.js';
export { createJobService, newRunId, type JobServiceHandle, type JobServiceOptions } from './service.js';
export type { ArchiveReference, QueuedTerraformInput, TerraformRunRequest } from './types.js';

/** Slack on top of a domain's own timeout before the service aborts the run itself (a backstop). */
const BACKSTOP_MS = 15_000;

/** The service-level bound of one run, from the same settings the domains use for their own timeouts. */
export function runTimeoutMs(config: Readonly<Pick<Config, 'maxExecutionTimeSeconds' | 'defaultExecTimeoutSeconds' | 'maxExecTimeoutSeconds'>>): (request: RunRequest) => number {
  return (request) => {
    if (request.kind === 'terraform') return config.maxExecutionTimeSeconds * 1000 + BACKSTOP_MS;
    const asked = request.request.timeout_seconds;
    const seconds = typeof asked === 'number' && asked > 0 ? Math.min(asked, config.maxExecTimeoutSeconds) : config.defaultExecTimeoutSeconds;
    // Input-file injection runs in its own jail before the command (bounded at 30 s there).
    return seconds * 1000 + 30_000 + BACKSTOP_MS;
  };
}

/**
 * How long a per-run archive copy can legitimately exist: the longest a run may wait in a full queue and
 * then run, with a wide margin. Older copies belong to runs a crashed service never finished.
 */
export function scratchTtlMs(config: Readonly<Pick<Config, 'maxExecutionTimeSeconds' | 'queueSize' | 'workers' | 'shutdownGraceSeconds'>>): number {
  const oneRunMs = config.maxExecutionTimeSeconds * 1000 + BACKSTOP_MS;
  const worstWaitMs = Math.ceil(config.queueSize / config.workers) * oneRunMs;
  return 2 * (worstWaitMs + oneRunMs) + config.shutdownGraceSeconds * 1000;
}

export interface JobLayerOptions {
  host: JailHost;
  config: Readonly<Config>;
  /** Defaults to the real domain runners built from host and config. */
  terraform?: Pick<TerraformRunner, 'run'>;
  commands?: Pick<CommandRunner, 'run'>;
  /** Defaults to the in-memory queue bounded by QUEUE_SIZE / QUEUE_TENANT_SHARE. */
  queue?: JobQueue<QueuedRun>;
  onInternalError?: (error: unknown, record?: RunRecord) => void;
  onTerraformProgress?: (context: RunContext, progress: TerraformProgress) => void;
}

export interface StartupCleanup {
  /** Half-written artifact temp files of dead owners removed. */
  artifactTempFiles: number;
  /** Artifacts older than ARTIFACT_TTL_SECONDS removed (uploads and plans survive restarts until then). */
  expiredArtifacts: number;
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
  const store = createArtifactStore(config);
  // JailHost.open already swept dead owners' jails, cgroups and workspaces (session workspaces are
  // ordinary host workspaces, so that includes them); this removes the artifact store's own leftovers.
  const artifacts = new Artifacts(store, {
    maxWorkspaceBytes: Math.ceil(config.uploadLimitMiB * MiB),
    quotaBytes: Math.ceil(config.artifactTenantQuotaMiB * MiB),
    ttlMs: config.artifactTtlSeconds * 1000,
    scratchTtlMs: scratchTtlMs(config),
  });
  const reportError = (error: unknown): void => {
    if (options.onInternalError) options.onInternalError(error);
    else process.stderr.write(`confine jobs: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  };
  // An unreachable store must not keep the service from starting (it answers storage_unavailable per
  // request instead); the failure is reported and the periodic sweep tries again.
  const expiredArtifacts = await artifacts.sweepExpired().catch((error: unknown) => {
    reportError(error);
    return 0;
  });
  const cleaned: StartupCleanup = { artifactTempFiles: await store.sweep(), expiredArtifacts };
  const stopSweeper = artifacts.startSweeper(config.artifactSweepIntervalSeconds * 1000, reportError);
  const sessions = createSessionManager(host, config, options.onInternalError ? (error) => options.onInternalError?.(error) : undefined);
  const executor = createExecutor({
    terraform: options.terraform ?? createTerraformRunner(host, config),
    commands: options.commands ?? createCommandRunner(host, config),
    artifacts,
    sessions,
    inlinePlanMaxBytes: config.tfPlanInlineMaxBytes,
    ...(options.onTerraformProgress ? { onTerraformProgress: options.onTerraformProgress } : {}),
  });
  const jobs = createJobService({
    queue: options.queue ?? new MemoryJobQueue<QueuedRun>({
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
