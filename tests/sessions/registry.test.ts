// The session registry's two implementations pass one conformance suite: memory (one process) and Redis
// (many hosts, a real redis-server); and the Redis one keeps every key bounded by a TTL.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySessionRegistry } from '../../src/sessions/memory-registry.js';
import { RedisSessionRegistry, type RedisLink } from '../../src/sessions/redis-registry.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { sessionRegistryConformance } from './registry-conformance.js';

let redis: TestRedis;
const clients: Redis[] = [];

function link(prefix: string): RedisLink {
  const open = (): Redis => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    clients.push(client);
    return client;
  };
  return { client: open(), key: (...parts) => [prefix, ...parts].join(':'), duplicate: open };
}

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await redis?.stop();
});

sessionRegistryConformance('memory', async (limits, now) => {
  const registry = new MemorySessionRegistry(limits, now);
  return { registry, peer: async () => registry };
});

sessionRegistryConformance('redis', async (limits, now) => {
  // A prefix per test: the suite's tests share the server, never their keys.
  const prefix = `reg-${Math.random().toString(36).slice(2, 10)}`;
  return { registry: new RedisSessionRegistry(link(prefix), limits, now), peer: async () => new RedisSessionRegistry(link(prefix), limits, now) };
});

describe('redis session registry', () => {
  it('everyKey_hasATtl_noLongerThanTheSessionsLife', async () => {
    const registry = new RedisSessionRegistry(link('ttl'), { ttlMs: 30_000, maxAgeMs: 0, maxSessions: 8, maxPerTenant: 8 });
    const named = await registry.open('alice', 'named');
    await registry.open('bob');
    await registry.bind(named.id, 'w1');
    await registry.touch('alice', 'named');
    const admin = clients[0]!;
    const keys = await admin.keys('ttl:*');
    // record x2, name key, service zset, two tenant zsets
    expect(keys).toHaveLength(6);
    for (const key of keys) {
      const ttl = await admin.pttl(key);
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(30_000);
    }
    await registry.close('alice', 'named');
    expect((await admin.keys('ttl:*')).sort()).toEqual(['ttl:session:' + (await registry.list('bob'))[0]!.id, 'ttl:sessions', `ttl:sessions:tenant:${(await admin.keys('ttl:sessions:tenant:*'))[0]!.split(':').pop()}`].sort());
    await registry.dispose();
  });
});
