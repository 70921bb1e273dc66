// The Redis/BullMQ JobQueue against a real redis-server: the same conformance suite as the memory queue.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedis, type RedisConnection } from '../../src/jobs/redis/connection.js';
import { RedisJobQueue } from '../../src/jobs/redis/queue.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { queueConformance } from './queue-conformance.js';

let redis: TestRedis;
let conn: RedisConnection;
let made = 0;

beforeAll(async () => {
  redis = await startRedis();
  conn = openRedis(redis.url, 'confine-test');
});

afterAll(async () => {
  await conn.close();
  await redis.stop();
});

queueConformance('redis', {
  // A fresh queue name per test: an empty queue without flushing another test's keys.
  create: async (limits) => new RedisJobQueue<{ n: number }>(conn, limits, { name: `q${++made}`, workerId: 'w1', lockMs: 5_000, pollMs: 200 }),
  dispose: async (queue) => (queue as RedisJobQueue<{ n: number }>).disconnect(),
});

// The same contract with every payload sealed under QUEUE_SECRET_KEY.
const key = randomBytes(32);
queueConformance('redis, sealed payloads', {
  create: async (limits) => new RedisJobQueue<{ n: number }>(conn, limits, { name: `s${++made}`, workerId: 'w1', lockMs: 5_000, pollMs: 200, secretKey: key }),
  dispose: async (queue) => (queue as RedisJobQueue<{ n: number }>).disconnect(),
});

describe('RedisJobQueue across API nodes', () => {
  it('enqueue_burstFromTwoApiNodes_neverExceedsServiceOrTenantBoundsInEntriesOrBytes', async () => {
    const name = `nodes${++made}`;
    const limits = { capacity: 9, perTenant: 4, maxBytes: 5_000, perTenantBytes: 2_000 };
    // Two API processes: their own connections, the same queue.
    const nodes = [openRedis(redis.url, 'confine-test'), openRedis(redis.url, 'confine-test')];
    const queues = nodes.map((node) => new RedisJobQueue<{ n: number }>(node, limits, { name, workerId: 'api', lockMs: 5_000 }));
    try {
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) => queues[i % 2]!.enqueue({ id: `b${i}`, tenant: `t${i % 3}`, payload: { n: i }, bytes: 300 + (i % 5) * 100 })),
      );
      const accepted = results.filter((r) => r.accepted).length;
      expect(accepted).toBeGreaterThan(0);
      expect(results.every((r) => r.accepted || r.reason === 'service' || r.reason === 'tenant')).toBe(true);
      expect(await queues[0]!.size()).toBe(accepted);
      expect(accepted).toBeLessThanOrEqual(9);
      expect(await queues[1]!.bytes()).toBeLessThanOrEqual(5_000);
      for (let t = 0; t < 3; t++) {
        expect(await queues[0]!.sizeFor(`t${t}`)).toBeLessThanOrEqual(4);
        expect(await queues[1]!.bytesFor(`t${t}`)).toBeLessThanOrEqual(2_000);
      }
      // What the counters say is what BullMQ holds.
      const drained = await queues[1]!.drain();
      expect(drained).toHaveLength(accepted);
      expect(await queues[0]!.size()).toBe(0);
      expect(await queues[0]!.bytes()).toBe(0);
    } finally {
      for (const queue of queues) await queue.disconnect();
      for (const node of nodes) await node.close();
    }
  });
});
