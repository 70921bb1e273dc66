// Adapts sessions to the HTTP layer's port: the embedded SessionManager (one process), or the shared
// registry of many hosts. Limits and name checks are DomainErrors; here they become catalogue codes (400
// for a bad name, 429 when the tenant or service holds too many). On many hosts a session whose worker
// has stopped heartbeating is answered session_host_gone (410) instead of a run that would wait forever
// on a queue no worker claims from.
import { ApiError } from '../api/errors.js';
import type { SessionPort } from '../api/ports.js';
import { DomainError } from '../domains/errors.js';
import type { SessionInfo, SessionManager, SessionRecord, SessionRegistry } from '../sessions/index.js';

export function sessionPort(sessions: SessionManager): SessionPort {
  return {
    open: (tenant, name) => mapped(() => sessions.open(tenant, name)),
    touch: (tenant, idOrName) => sessions.touch(tenant, idOrName),
    close: (tenant, idOrName) => sessions.close(tenant, idOrName),
  };
}

export interface RegistryPortOptions {
  /** SESSION_TTL_SECONDS in ms (what the API reports as ttl_seconds). */
  ttlMs: number;
  /** Whether a worker is alive (its heartbeat key exists): the cluster wires the worker registry's check. */
  hostAlive(workerId: string): Promise<boolean>;
}

export function registrySessionPort(registry: SessionRegistry, options: RegistryPortOptions): SessionPort {
  /** A session bound to a worker that is gone cannot be served: it is closed (so its name can be opened afresh) and answered 410. */
  const live = async (record: SessionRecord | undefined): Promise<SessionInfo | undefined> => {
    if (!record) return undefined;
    if (record.host !== undefined && !(await options.hostAlive(record.host))) {
      await registry.close(record.tenant, record.id);
      throw new ApiError('session_host_gone', `worker ${record.host} held this session's workspace and stopped; open a new session`);
    }
    return sessionInfo(record, options.ttlMs);
  };
  return {
    async open(tenant, name) {
      const record = await mapped(() => registry.open(tenant, name));
      return (await live(record)) ?? sessionInfo(record, options.ttlMs);
    },
    touch: async (tenant, idOrName) => live(await registry.touch(tenant, idOrName)),
    close: async (tenant, idOrName) => (await registry.close(tenant, idOrName)) !== undefined,
  };
}

/** The API's view of a registry record. */
export function sessionInfo(record: SessionRecord, ttlMs: number): SessionInfo {
  return {
    id: record.id,
    ...(record.name === undefined ? {} : { name: record.name }),
    created_at: new Date(record.createdAtMs).toISOString(),
    expires_at: new Date(record.expiresAtMs).toISOString(),
    ttl_seconds: Math.round(ttlMs / 1000),
  };
}

async function mapped<T>(open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    if (error instanceof DomainError) {
      throw error.type === 'resource_limit' ? new ApiError('too_many_sessions', error.message, 60) : new ApiError('validation_failed', error.message);
    }
    throw error;
  }
}
