// The artifact store as every role opens it (embedded, API node, worker): bounded by the upload limit,
// the tenant quota and the TTL, a crashed predecessor's half-written files removed, expired artifacts
// swept at start and periodically. Any node may sweep: removing an expired artifact twice is harmless.
import { Artifacts, createArtifactStore } from '../artifacts/index.js';
import type { Config } from '../config/settings.js';
import { MiB } from '../jail/limits.js';

export interface StartupCleanup {
  /** Half-written artifact temp files of dead owners removed. */
  artifactTempFiles: number;
  /** Artifacts older than ARTIFACT_TTL_SECONDS removed (uploads and plans survive restarts until then). */
  expiredArtifacts: number;
}

export interface OpenedArtifacts {
  artifacts: Artifacts;
  cleaned: StartupCleanup;
  stopSweeper(): void;
}

export async function openArtifacts(config: Readonly<Config>, scratchTtlMs: number, reportError: (error: unknown) => void): Promise<OpenedArtifacts> {
  const store = createArtifactStore(config);
  const artifacts = new Artifacts(store, {
    maxWorkspaceBytes: Math.ceil(config.uploadLimitMiB * MiB),
    quotaBytes: Math.ceil(config.artifactTenantQuotaMiB * MiB),
    ttlMs: config.artifactTtlSeconds * 1000,
    scratchTtlMs,
  });
  // An unreachable store must not keep the service from starting (it answers storage_unavailable per
  // request instead); the failure is reported and the periodic sweep tries again.
  const expiredArtifacts = await artifacts.sweepExpired().catch((error: unknown) => {
    reportError(error);
    return 0;
  });
  const cleaned: StartupCleanup = { artifactTempFiles: await store.sweep(), expiredArtifacts };
  const stopSweeper = artifacts.startSweeper(config.artifactSweepIntervalSeconds * 1000, reportError);
  return { artifacts, cleaned, stopSweeper };
}
