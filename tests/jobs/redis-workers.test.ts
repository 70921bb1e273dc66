// The worker registry against a real redis-server: live workers are listed with what they hold, a clean
// stop removes a worker at once, a worker that stops beating (killed) drops out after its TTL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedis, type RedisConnection } from '../../src/jobs/redis/connection.js';
import { defaultWorkerId, RedisWorkerRegistry, WORKER_ID_PATTERN } from '../../src/jobs/redis/workers.js';
import { startRedis, type TestRedis } from '../support/redis.js';

let redis: TestRedis;
let made = 0;
const connections: RedisConnection[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const conn of connections) await conn.close();
  await redis.stop();
});

/** A registry as one process has it: its own connection, on a prefix shared by the test's processes. */
function registry(prefix: string, heartbeatMs = 100): RedisWorkerRegistry {
  const conn = openRedis(redis.url, prefix);
  connections.push(conn);
  return new RedisWorkerRegistry(conn, { heartbeatMs, ttlMs: 3 * heartbeatMs });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('RedisWorkerRegistry', () => {
  it('register_twoWorkers_bothListedAliveWithSlotsAndBusy', async () => {
    const prefix = `workers${++made}`;
    const api = registry(prefix);
    const a = registry(prefix);
    const b = registry(prefix);
    let busyA = 0;
    await a.register({ id: 'worker-a', slots: 2, host: 'host-a' }, () => busyA);
    await sleep(5);
    await b.register({ id: 'worker-b', slots: 4, host: 'host-b' }, () => 3);
    busyA = 1;
    await a.beat();
    const alive = await api.alive();
    expect(alive.map((w) => [w.id, w.host, w.slots, w.busy])).toEqual([['worker-a', 'host-a', 2, 1], ['worker-b', 'host-b', 4, 3]]);
    expect(alive.every((w) => !Number.isNaN(Date.parse(w.started_at)) && !Number.isNaN(Date.parse(w.seen_at)))).toBe(true);
    expect(await api.isAlive('worker-a')).toBe(true);
    expect(await api.isAlive('worker-unknown')).toBe(false);
    await a.unregister();
    await b.unregister();
  });

  it('unregister_cleanStop_removesTheWorkerAtOnce', async () => {
    const prefix = `workers${++made}`;
    const api = registry(prefix, 10_000);
    const w = registry(prefix, 10_000);
    await w.register({ id: 'leaving', slots: 1 }, () => 0);
    expect((await api.alive()).map((x) => x.id)).toEqual(['leaving']);
    await w.unregister();
    expect(await api.alive()).toEqual([]);
    expect(await api.isAlive('leaving')).toBe(false);
  });

  it('heartbeat_stopped_workerDropsOutAfterItsTtlWhileABeatingOneStays', async () => {
    const prefix = `workers${++made}`;
    const api = registry(prefix);
    const dead = registry(prefix);
    const live = registry(prefix);
    await dead.register({ id: 'killed', slots: 1 }, () => 1);
    await live.register({ id: 'beating', slots: 1 }, () => 0);
    expect((await api.alive()).map((w) => w.id).sort()).toEqual(['beating', 'killed']);
    dead.stopBeating(); // what kill -9 leaves: no beat, no unregister
    await sleep(1_000); // > ttl (300 ms) with room; the live one beats every 100 ms meanwhile
    expect((await api.alive()).map((w) => w.id)).toEqual(['beating']);
    expect(await api.isAlive('killed')).toBe(false);
    await live.unregister();
  });

  it('register_invalidWorkerId_isRefusedNamingTheSetting', async () => {
    const w = registry(`workers${++made}`);
    await expect(w.register({ id: 'bad:id', slots: 1 }, () => 0)).rejects.toThrow(/WORKER_ID/);
    expect(WORKER_ID_PATTERN.test(defaultWorkerId())).toBe(true);
  });
});
