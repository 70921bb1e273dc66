// The Redis/BullMQ JobQueue against a real redis-server: the same conformance suite as the memory queue.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
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
