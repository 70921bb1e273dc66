// /ready on an API node of many hosts: ready only while Redis answers and a worker heartbeats; a Redis
// that is down is reported within the probe's deadline (the shared connection itself would wait through
// the outage), and readiness returns when Redis does. Real redis-server, real worker registry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedReadiness } from '../../src/app/readiness.js';
import { openRedis, type RedisConnection } from '../../src/jobs/redis/connection.js';
import { RedisWorkerRegistry } from '../../src/jobs/redis/workers.js';
import { startRedis, type TestRedis } from '../support/redis.js';

let redis: TestRedis;
const connections: RedisConnection[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const connection of connections) await connection.close();
  await redis?.stop();
});

function connect(): RedisConnection {
  const connection = openRedis(redis.url, `ready-${Math.random().toString(36).slice(2, 8)}`);
  connections.push(connection);
  return connection;
}

describe('readiness of an API node', () => {
  it('redisUpAndAWorkerBeating_isReady_withoutAWorker_isNotReadyNamingWhy', async () => {
    const api = connect();
    const workers = new RedisWorkerRegistry(api, { heartbeatMs: 200 });
    const readiness = sharedReadiness({ ping: () => api.client.ping(), workersAlive: async () => (await workers.alive()).length });
    const none = await readiness();
    expect(none).toMatchObject({ ready: false, redis: 'up', workers_alive: 0 });
    expect(none.reason).toContain('no worker alive');
    // A worker process on the same Redis and prefix.
    const workerSide = openRedis(redis.url, api.prefix);
    connections.push(workerSide);
    const worker = new RedisWorkerRegistry(workerSide, { heartbeatMs: 200 });
    await worker.register({ id: 'w1', slots: 2 }, () => 0);
    expect(await readiness()).toEqual({ ready: true, redis: 'up', workers_alive: 1 });
    // A worker that stops beating (kill -9) is not counted once its heartbeat lapses.
    worker.stopBeating();
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await readiness()).toMatchObject({ ready: false, workers_alive: 0 });
  });

  it('redisDown_isNotReadyWithinTheDeadline_andReadyAgainWhenItReturns', async () => {
    const api = connect();
    const workers = new RedisWorkerRegistry(api, { heartbeatMs: 5_000 });
    await workers.register({ id: 'w-down', slots: 1 }, () => 0);
    const readiness = sharedReadiness({ ping: () => api.client.ping(), workersAlive: async () => (await workers.alive()).length, timeoutMs: 500 });
    expect((await readiness()).ready).toBe(true);
    await redis.kill();
    try {
      const started = Date.now();
      const down = await readiness();
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(down).toMatchObject({ ready: false, redis: 'down', workers_alive: 0 });
      expect(down.reason).toContain('redis');
    } finally {
      await redis.start();
    }
    // The connection reconnects by itself; the worker beats again.
    const deadline = Date.now() + 10_000;
    let again = await readiness();
    while (!again.ready && Date.now() < deadline) {
      // A beat while the connection is still coming back fails; the next round tries again.
      await workers.beat().catch(() => undefined);
      again = await readiness();
    }
    expect(again).toEqual({ ready: true, redis: 'up', workers_alive: 1 });
    await workers.unregister();
  });
});
