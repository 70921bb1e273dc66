// Wiring of sessions from the configuration table: the embedded SessionManager (one process), and for many
// hosts the registry limits (API nodes and workers share a RedisSessionRegistry) and a worker's WorkerSessions.
import type { Config } from '../config/settings.js';
import { DEFAULT_WORKSPACE_INODES, type JailHost } from '../jail/host.js';
import { MiB } from '../jail/limits.js';
import { SessionManager } from './manager.js';
import type { SessionRegistry, SessionRegistryLimits } from './registry.js';
import { WorkerSessions } from './worker-sessions.js';

export { SessionManager, SessionNotFoundError, type SessionInfo, type SessionManagerOptions } from './manager.js';
export { MemorySessionRegistry } from './memory-registry.js';
export { RedisSessionRegistry, type RedisLink } from './redis-registry.js';
export { sessionHost, type SessionClosed, type SessionRecord, type SessionRegistry, type SessionRegistryLimits } from './registry.js';
export { SessionElsewhereError, WorkerSessions, type WorkerSessionsOptions } from './worker-sessions.js';

type SessionSettings = Pick<Config, 'sessionTtlSeconds' | 'sessionMaxAgeSeconds' | 'sessionDiskQuotaMiB' | 'sessionMaxCount' | 'sessionMaxPerTenant' | 'cleanupIntervalSeconds'>;

/** The registry's bounds from SESSION_* settings (the same numbers the embedded manager enforces). */
export function registryLimits(config: Readonly<SessionSettings>): SessionRegistryLimits {
  return {
    ttlMs: config.sessionTtlSeconds * 1000,
    maxAgeMs: config.sessionMaxAgeSeconds * 1000,
    maxSessions: config.sessionMaxCount,
    maxPerTenant: config.sessionMaxPerTenant,
  };
}

/**
 * A worker's sessions over the shared registry. The caller awaits start() (closes the sessions a previous
 * process of this worker id held, listens for deletions) and closeAll() at shutdown; the executor takes it
 * as `sessions` (same withWorkspace as SessionManager).
 */
export function createWorkerSessions(
  host: Pick<JailHost, 'createWorkspace'>,
  config: Readonly<SessionSettings>,
  registry: SessionRegistry,
  workerId: string,
  onError?: (error: unknown) => void,
): WorkerSessions {
  return new WorkerSessions({
    registry,
    workerId,
    createWorkspace: (options) => host.createWorkspace(options),
    quotaBytes: config.sessionDiskQuotaMiB * MiB,
    maxInodes: DEFAULT_WORKSPACE_INODES,
    sweepIntervalMs: config.cleanupIntervalSeconds * 1000,
    // A third of the TTL: two refreshes can be lost (a Redis restart) before a running session could expire.
    keepAliveMs: Math.max(1_000, Math.floor((config.sessionTtlSeconds * 1000) / 3)),
    ...(onError ? { onError } : {}),
  });
}

export function createSessionManager(
  host: Pick<JailHost, 'createWorkspace'>,
  config: Readonly<SessionSettings>,
  onError?: (error: unknown) => void,
): SessionManager {
  return new SessionManager({
    createWorkspace: (options) => host.createWorkspace(options),
    ttlMs: config.sessionTtlSeconds * 1000,
    maxAgeMs: config.sessionMaxAgeSeconds * 1000,
    quotaBytes: config.sessionDiskQuotaMiB * MiB,
    maxInodes: DEFAULT_WORKSPACE_INODES,
    maxSessions: config.sessionMaxCount,
    maxPerTenant: config.sessionMaxPerTenant,
    cleanupIntervalMs: config.cleanupIntervalSeconds * 1000,
    ...(onError ? { onError } : {}),
  });
}
