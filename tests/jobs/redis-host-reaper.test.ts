// The host reaper on a real redis-server: the host queue of a worker that is gone is swept by another
// worker (waiting session runs reported orphaned, a held run reported lost once, the emptied queue deleted
// from Redis), while the host queue of a live worker is left alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedis, type RedisConnection } from '../../src/jobs/redis/connection.js';
import { HostReaper } from '../../src/jobs/redis/host-reaper.js';
import { hostQueueName, RedisJobQueue } from '../../src/jobs/redis/queue.js';
import { RedisWorkerRegistry } from '../../src/jobs/redis/workers.js';
import { startRedis, type TestRedis } from '../support/redis.js';

const LIMITS = { capacity: 10, perTenant: 10 };
const LOCK_MS = 1_000;
const HEARTBEAT_MS = 100;
let redis: TestRedis;
let made = 0;
const connections: RedisConnection[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  for (const conn of connections) await conn.close();
  await redis.stop();
});

/** One process on the test's prefix: its connection, registry and (optionally) a host queue. */
function processOn(prefix: string): { conn: RedisConnection; registry: RedisWorkerRegistry; hostQueue(id: string): RedisJobQueue<{ n: number }> } {
  const conn = openRedis(redis.url, prefix);
  connections.push(conn);
  const registry = new RedisWorkerRegistry(conn, { heartbeatMs: HEARTBEAT_MS });
  return {
    conn,
    registry,
    hostQueue(id) {
      const queue = new RedisJobQueue<{ n: number }>(conn, LIMITS, { name: hostQueueName(id), workerId: id, lockMs: LOCK_MS, pollMs: 100 });
      cleanups.push(() => queue.disconnect());
      return queue;
    },
  };
}

function reaperOn(prefix: string, workerId: string, lost: [string, string][], orphaned: [string, string][]): HostReaper {
  const me = processOn(prefix);
  const reaper = new HostReaper(me.conn, me.registry, {
    workerId,
    limits: LIMITS,
    lockMs: LOCK_MS,
    onLost: (runId, worker) => lost.push([runId, worker]),
    onOrphaned: (runId, worker) => orphaned.push([runId, worker]),
  });
  cleanups.push(() => reaper.stop());
  return reaper;
}

async function keysOf(conn: RedisConnection, pattern: string): Promise<string[]> {
  return conn.client.keys(pattern);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('HostReaper', () => {
  it('goneWorker_waitingSessionRunsReportedOrphanedAndItsQueueDeletedFromRedis', async () => {
    const prefix = `reap${++made}`;
    const gone = processOn(prefix);
    const api = processOn(prefix);
    await gone.registry.register({ id: 'gone', slots: 1 }, () => 0);
    const toGone = api.hostQueue('gone');
    await toGone.enqueue({ id: 'session-run-1', tenant: 't', payload: { n: 1 } });
    await toGone.enqueue({ id: 'session-run-2', tenant: 'u', payload: { n: 2 } });
    const lost: [string, string][] = [];
    const orphaned: [string, string][] = [];
    const reaper = reaperOn(prefix, 'survivor', lost, orphaned);
    // While it beats, its queue is its own.
    expect(await reaper.sweep()).toEqual([]);
    expect(await toGone.size()).toBe(2);
    gone.registry.stopBeating();
    await sleep(6 * HEARTBEAT_MS);
    expect(await reaper.sweep()).toEqual(['gone']);
    expect(orphaned).toEqual([['session-run-1', 'gone'], ['session-run-2', 'gone']]);
    expect(lost).toEqual([]);
    expect(await keysOf(api.conn, `${prefix}:*confine-host-gone*`)).toEqual([]);
    expect(await api.registry.known()).toEqual([]);
    // A second sweep finds nothing more to do.
    expect(await reaper.sweep()).toEqual([]);
    expect(orphaned).toHaveLength(2);
  });

  it('goneWorkerHoldingASessionRun_reportedLostOnceThenItsQueueDeleted', async () => {
    const prefix = `reap${++made}`;
    const gone = processOn(prefix);
    await gone.registry.register({ id: 'gone-busy', slots: 1 }, () => 1);
    const own = gone.hostQueue('gone-busy');
    await own.enqueue({ id: 'held-session-run', tenant: 't', payload: { n: 3 } });
    expect((await own.claim())?.id).toBe('held-session-run');
    // Killed: no ack, no renewal, no beat.
    await own.disconnect();
    gone.registry.stopBeating();
    const lost: [string, string][] = [];
    const orphaned: [string, string][] = [];
    const reapers = [reaperOn(prefix, 'survivor-1', lost, orphaned), reaperOn(prefix, 'survivor-2', lost, orphaned)];
    const deadline = Date.now() + 20_000;
    let swept: string[] = [];
    while (swept.length === 0 && Date.now() < deadline) {
      const results = await Promise.all(reapers.map((reaper) => reaper.sweep()));
      swept = results.flat();
      await sleep(200);
    }
    expect(swept).toEqual(['gone-busy']);
    expect(lost).toEqual([['held-session-run', 'gone-busy']]);
    expect(orphaned).toEqual([]);
    expect(await keysOf(gone.conn, `${prefix}:*confine-host-gone-busy*`)).toEqual([]);
  });

  it('liveWorker_hostQueueLeftAlone', async () => {
    const prefix = `reap${++made}`;
    const live = processOn(prefix);
    await live.registry.register({ id: 'live', slots: 1 }, () => 0);
    cleanups.push(() => live.registry.unregister());
    const own = live.hostQueue('live');
    await own.enqueue({ id: 'kept', tenant: 't', payload: { n: 4 } });
    const lost: [string, string][] = [];
    const orphaned: [string, string][] = [];
    const reaper = reaperOn(prefix, 'other', lost, orphaned);
    await sleep(6 * HEARTBEAT_MS);
    expect(await reaper.sweep()).toEqual([]);
    expect([lost, orphaned]).toEqual([[], []]);
    expect((await own.claim())?.id).toBe('kept');
    await own.ack('kept');
  });
});
