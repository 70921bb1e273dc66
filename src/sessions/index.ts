// Wiring of the session manager from the configuration table.
import type { Config } from '../config/settings.js';
import { DEFAULT_WORKSPACE_INODES, type JailHost } from '../jail/host.js';
import { MiB } from '../jail/limits.js';
import { SessionManager } from './manager.js';

export { SessionManager, SessionNotFoundError, type SessionInfo, type SessionManagerOptions } from './manager.js';

export function createSessionManager(
  host: Pick<JailHost, 'createWorkspace'>,
  config: Readonly<Pick<Config, 'sessionTtlSeconds' | 'sessionMaxAgeSeconds' | 'sessionDiskQuotaMiB' | 'sessionMaxCount' | 'sessionMaxPerTenant' | 'cleanupIntervalSeconds'>>,
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
