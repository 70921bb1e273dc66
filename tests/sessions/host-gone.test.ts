// An API node's edge on many hosts (redisEdgePorts on a real redis-server): a session bound to a worker
// whose heartbeat is gone answers session_host_gone (410, "open a new session") at once instead of a run
// that would wait on a queue nobody claims; it is closed, so opening its name again starts afresh. While
// the worker beats, the session is served as usual; the edge's limiter and readiness use the same Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, ERROR_CATALOGUE } from '../../src/api/errors.js';
import { redisEdgePorts } from '../../src/app/edge-ports.js';
import { loadConfig } from '../../src/config/settings.js';
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

function connect(prefix: string): RedisConnection {
  const connection = openRedis(redis.url, prefix);
  connections.push(connection);
  return connection;
}

describe('sessions whose host is gone', () => {
  it('sessionOfAStoppedWorker_answersSessionHostGone_andItsNameOpensAfresh', async () => {
    const config = loadConfig({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'gone', RATE_LIMIT_REQUESTS: '3' });
    const api = connect('gone');
    const edge = redisEdgePorts(api, config, new RedisWorkerRegistry(api, { heartbeatMs: config.redis.heartbeatMs }));
    const workerSide = connect('gone');
    const worker = new RedisWorkerRegistry(workerSide, { heartbeatMs: 200 });
    await worker.register({ id: 'w-gone', slots: 1 }, () => 0);

    const session = await edge.sessions.open('alice', 'pr-7');
    // The worker's first run bound it (what WorkerSessions does at claim).
    expect(await edge.registry.bind(session.id, 'w-gone')).toBe('w-gone');
    expect((await edge.sessions.touch('alice', 'pr-7'))?.id).toBe(session.id);
    expect((await edge.readiness()).ready).toBe(true);

    await worker.unregister(); // a clean stop; a kill -9 is the same once the heartbeat lapses
    const gone = await edge.sessions.touch('alice', 'pr-7').then(() => undefined, (error: unknown) => error);
    expect(gone).toBeInstanceOf(ApiError);
    expect((gone as ApiError).code).toBe('session_host_gone');
    expect((gone as ApiError).status).toBe(410);
    expect((gone as ApiError).detail).toContain('w-gone');
    expect(ERROR_CATALOGUE.session_host_gone.message).toContain('open a new session');
    // Closed with its host: the name is free again, and the new session is unbound.
    expect(await edge.sessions.touch('alice', session.id)).toBeUndefined();
    const fresh = await edge.sessions.open('alice', 'pr-7');
    expect(fresh.id).not.toBe(session.id);
    expect((await edge.registry.get('alice', fresh.id))?.host).toBeUndefined();
    expect(await edge.readiness()).toMatchObject({ ready: false, workers_alive: 0 });

    // The same edge's rate limit counts in Redis under the prefix.
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await edge.rateLimit.hit('alice'));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(await api.client.exists('gone:ratelimit:alice')).toBe(1);
    await edge.close();
  });

  it('sessionOfAWorkerKilledMidLife_isGoneOnceItsHeartbeatLapses', async () => {
    const config = loadConfig({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'lapse' });
    const api = connect('lapse');
    const edge = redisEdgePorts(api, config, new RedisWorkerRegistry(api, { heartbeatMs: 200 }));
    const worker = new RedisWorkerRegistry(connect('lapse'), { heartbeatMs: 200 });
    await worker.register({ id: 'w-killed', slots: 1 }, () => 0);
    const session = await edge.sessions.open('bob');
    await edge.registry.bind(session.id, 'w-killed');
    worker.stopBeating(); // kill -9: the key stays until its TTL (3 beats)
    const deadline = Date.now() + 5_000;
    let answer: unknown;
    while (Date.now() < deadline) {
      answer = await edge.sessions.touch('bob', session.id).then(() => 'served', (error: unknown) => error);
      if (answer !== 'served') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((answer as ApiError).code).toBe('session_host_gone');
    await edge.close();
  });

  it('placeSession_concurrentFirstRunsFromTwoApiNodes_agreeOnTheLeastBusyWorker', async () => {
    const config = loadConfig({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'place' });
    const [apiA, apiB] = [connect('place'), connect('place')];
    const edgeA = redisEdgePorts(apiA, config, new RedisWorkerRegistry(apiA, { heartbeatMs: 1_000 }));
    const edgeB = redisEdgePorts(apiB, config, new RedisWorkerRegistry(apiB, { heartbeatMs: 1_000 }));
    const session = await edgeA.sessions.open('carol');
    expect(await edgeA.placeSession('carol', session.id)).toBeUndefined(); // no worker alive: the claimer binds
    const busy = new RedisWorkerRegistry(connect('place'), { heartbeatMs: 1_000 });
    const idle = new RedisWorkerRegistry(connect('place'), { heartbeatMs: 1_000 });
    await busy.register({ id: 'w-busy', slots: 2 }, () => 2);
    await idle.register({ id: 'w-idle', slots: 2 }, () => 0);
    const placed = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? edgeA : edgeB).placeSession('carol', session.id)));
    expect(placed).toEqual(Array(6).fill('w-idle'));
    expect((await edgeB.registry.get('carol', session.id))?.host).toBe('w-idle');
    // Another tenant's session id places nowhere.
    expect(await edgeB.placeSession('mallory', session.id)).toBeUndefined();
    await busy.unregister();
    await idle.unregister();
    await edgeA.close();
    await edgeB.close();
  });

  it('openingTheNameOfASessionWhoseHostIsGone_answersSessionHostGoneOnce_thenOpensAfresh', async () => {
    // Seed 004 opens by name on every /execute: the dead host is told once, then the name starts over.
    const config = loadConfig({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'reopen' });
    const api = connect('reopen');
    const edge = redisEdgePorts(api, config, new RedisWorkerRegistry(api, { heartbeatMs: 1_000 }));
    const session = await edge.sessions.open('dana', 'seed-session');
    await edge.registry.bind(session.id, 'w-never-registered');
    await expect(edge.sessions.open('dana', 'seed-session')).rejects.toMatchObject({ code: 'session_host_gone' });
    const fresh = await edge.sessions.open('dana', 'seed-session');
    expect(fresh.id).not.toBe(session.id);
    expect(fresh.name).toBe('seed-session');
    expect(await edge.sessions.close('dana', 'seed-session')).toBe(true);
    await edge.close();
  });
});
