// The per-tenant rate limit on rate-limiter-flexible: the memory limiter (one process) and the Redis one
// (many API nodes, against a real redis-server) pass one conformance suite; API nodes on one Redis share a
// tenant's budget; a Redis that is away is a 503-class refusal, never an unmetered admission.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimit, memoryRateLimit, RateLimitUnavailableError, redisRateLimit } from '../../src/api/rate-limit.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { rateLimitConformance } from './rate-limit-conformance.js';

let redis: TestRedis;
const clients: Redis[] = [];

function client(): Redis {
  // Like the service's connections: no offline queue, so a command while disconnected fails at once.
  const connection = new Redis(redis.url, { lazyConnect: false, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  clients.push(connection);
  return connection;
}

async function connected(connection: Redis): Promise<Redis> {
  if (connection.status !== 'ready') await new Promise((resolve) => connection.once('ready', resolve));
  return connection;
}

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const connection of clients) connection.disconnect();
  await redis?.stop();
});

rateLimitConformance('memory', async (options) => {
  const limiter = memoryRateLimit(options);
  return { limiter, peer: async () => limiter, close: async () => {} };
});

rateLimitConformance('redis', async (options) => {
  const prefix = `conf-${Math.random().toString(36).slice(2, 8)}`;
  const limiter = redisRateLimit(await connected(client()), { ...options, keyPrefix: prefix });
  return { limiter, peer: async () => redisRateLimit(await connected(client()), { ...options, keyPrefix: prefix }), close: async () => {} };
});

describe('rate limit across API nodes', () => {
  it('twoApiNodesOnOneRedis_shareOneTenantsBudget_admitExactlyTheLimit', async () => {
    const config = { rateLimitRequests: 40, rateLimitWindowSeconds: 60 };
    // What two API processes build from the same settings: each its own connection, one key prefix.
    const nodes = [createRateLimit(config, { client: await connected(client()), keyPrefix: 'nodes' }), createRateLimit(config, { client: await connected(client()), keyPrefix: 'nodes' })];
    const decisions = await Promise.all(Array.from({ length: 300 }, (_, i) => nodes[i % 2]!.hit('tenant-a')));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(40);
    // Each node admitted some: the budget really is shared, not two budgets of 40 (which would admit 80).
    expect(decisions.filter((d, i) => d.allowed && i % 2 === 0).length).toBeGreaterThan(0);
    expect(decisions.filter((d, i) => d.allowed && i % 2 === 1).length).toBeGreaterThan(0);
    // Another tenant on the same nodes is untouched.
    expect(await nodes[1]!.hit('tenant-b')).toMatchObject({ allowed: true, remaining: 39 });
    // Keys carry the prefix and a TTL no longer than the window: nothing outlives a window in Redis.
    const admin = await connected(client());
    const keys = await admin.keys('nodes:ratelimit:*');
    expect(keys.sort()).toEqual(['nodes:ratelimit:tenant-a', 'nodes:ratelimit:tenant-b']);
    for (const key of keys) {
      const ttl = await admin.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
  });

  it('redisAway_hitIsRefusedAsUnavailable_notAdmitted', async () => {
    const away = await startRedis();
    try {
      const connection = new Redis(away.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
      clients.push(connection);
      await connected(connection);
      const limiter = redisRateLimit(connection, { limit: 5, windowSeconds: 60, keyPrefix: 'away' });
      expect((await limiter.hit('t')).allowed).toBe(true);
      await away.kill();
      await expect(limiter.hit('t')).rejects.toBeInstanceOf(RateLimitUnavailableError);
      // Back again: the same limiter counts on (ioredis reconnects by itself).
      await away.start();
      await connected(connection);
      const after = await limiter.hit('t');
      expect(after.allowed).toBe(true);
    } finally {
      await away.stop();
    }
  });
});
