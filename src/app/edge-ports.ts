// The HTTP edge of an API node on many hosts (issue 12), in one call for the composition root: sessions
// from the shared registry (a session whose worker stopped answers session_host_gone), the per-tenant rate
// limit counted in Redis, and /ready from Redis and the workers' heartbeats. Embedded mode needs none of
// this (sessionPort(SessionManager), the memory limiter and no readiness are the defaults).
import type { Readiness, SessionPort } from '../api/ports.js';
import { createRateLimit, type RateLimit } from '../api/rate-limit.js';
import type { Config } from '../config/settings.js';
import type { RedisConnection } from '../jobs/redis/connection.js';
import type { RedisWorkerRegistry } from '../jobs/redis/workers.js';
import { RedisSessionRegistry, registryLimits, type SessionRegistry } from '../sessions/index.js';
import { sharedReadiness } from './readiness.js';
import { registrySessionPort } from './sessions-port.js';

export interface EdgePorts {
  /** ApiDeps.sessions */
  sessions: SessionPort;
  /** ApiDeps.rateLimit */
  rateLimit: RateLimit;
  /** ApiDeps.readiness */
  readiness: () => Promise<Readiness>;
  /** The registry itself (routing: sessionHost(registry, tenant, id) names the worker a session's runs go to). */
  registry: SessionRegistry;
  /**
   * The worker a run of this session must go to: its holder, or for a session not yet bound the least busy
   * live worker, bound now (first binder wins) so concurrent first runs from several API nodes agree.
   * undefined for an unknown session or when no worker is alive (the run then waits in the shared queue and
   * the worker that claims it binds the session).
   */
  placeSession(tenant: string, sessionId: string): Promise<string | undefined>;
  /** Releases the registry's subscriptions (the connection is the caller's). */
  close(): Promise<void>;
}

export function redisEdgePorts(connection: RedisConnection, config: Readonly<Config>, workers: Pick<RedisWorkerRegistry, 'alive' | 'isAlive'>): EdgePorts {
  const registry = new RedisSessionRegistry(connection, registryLimits(config));
  return {
    sessions: registrySessionPort(registry, { ttlMs: config.sessionTtlSeconds * 1000, hostAlive: (workerId) => workers.isAlive(workerId) }),
    rateLimit: createRateLimit(config, { client: connection.client, keyPrefix: connection.prefix }),
    readiness: sharedReadiness({ ping: () => connection.client.ping(), workersAlive: async () => (await workers.alive()).length }),
    registry,
    async placeSession(tenant, sessionId) {
      const record = await registry.get(tenant, sessionId);
      if (!record) return undefined;
      if (record.host !== undefined) return record.host;
      const alive = await workers.alive();
      if (alive.length === 0) return undefined;
      // Least busy by share of slots; the oldest registration breaks ties (alive() is sorted that way).
      const chosen = alive.reduce((best, w) => (w.busy / Math.max(1, w.slots) < best.busy / Math.max(1, best.slots) ? w : best));
      return registry.bind(record.id, chosen.id);
    },
    close: () => registry.dispose(),
  };
}
