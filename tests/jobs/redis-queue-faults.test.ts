// The Redis queue when things die: a claimer that stops renewing its lock (a worker killed mid-run) is
// reported lost exactly once and never redelivered (at-most-once); a claimer that lives keeps its entry past
// the lock's duration; a Redis restart with AOF loses no waiting entry; a worker claims its host queue first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClaimGroup } from '../../src/jobs/redis/claim-group.js';
import { openRedis, type RedisConnection } from '../../src/jobs/redis/connection.js';
import { hostQueueName, RedisJobQueue, type RedisQueueOptions } from '../../src/jobs/redis/queue.js';
import type { QueueEntry } from '../../src/jobs/queue.js';
import { startRedis, type TestRedis } from '../support/redis.js';

type Payload = { n: number };
const LIMITS = { capacity: 20, perTenant: 20 };
const LOCK_MS = 1_000;

let redis: TestRedis;
let made = 0;
const opened: { conn: RedisConnection; queues: RedisJobQueue<Payload>[] }[] = [];

beforeAll(async () => {
  redis = await startRedis({ aof: true });
});

afterAll(async () => {
  for (const { conn, queues } of opened) {
    for (const queue of queues) await queue.disconnect();
    await conn.close();
  }
  await redis.stop();
});

/** A process's view of one queue: its own connection, as a separate API or worker process has. */
function processQueue(name: string, options: Partial<RedisQueueOptions> & { workerId: string }): RedisJobQueue<Payload> {
  const conn = openRedis(redis.url, 'confine-test');
  const queue = new RedisJobQueue<Payload>(conn, LIMITS, { name, lockMs: LOCK_MS, stalledIntervalMs: 300, pollMs: 100, ...options });
  opened.push({ conn, queues: [queue] });
  return queue;
}

function entry(id: string, tenant: string, n = 0): QueueEntry<Payload> {
  return { id, tenant, payload: { n } };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('RedisJobQueue faults', () => {
  it('claimedEntry_claimerStopsRenewing_isReportedLostOnceNamingTheWorkerAndNeverRedelivered', async () => {
    const name = `lost${++made}`;
    const dying = processQueue(name, { workerId: 'dying' });
    const lost: [string, string][] = [];
    const others = ['w2', 'w3'].map((workerId) => processQueue(name, { workerId, onLost: (runId, worker) => lost.push([runId, worker]) }));
    await dying.enqueue(entry('run-lost', 't', 1));
    expect((await dying.claim())?.id).toBe('run-lost');
    // The claimer's process goes away without ack: its lock is no longer renewed.
    await dying.disconnect();

    const stop = new AbortController();
    const delivered: (string | undefined)[] = [];
    const loops = others.map(async (queue) => {
      while (!stop.signal.aborted) {
        const got = await queue.claim(stop.signal);
        if (got) {
          delivered.push(got.id);
          await queue.ack(got.id);
        }
      }
    });
    await until(() => lost.length > 0, 20_000);
    // Several more stalled-check rounds: a second report would show up here.
    await new Promise((resolve) => setTimeout(resolve, 4 * LOCK_MS));
    await others[0]!.enqueue(entry('run-next', 't', 2));
    await until(() => delivered.includes('run-next'), 10_000);
    stop.abort();
    await Promise.all(loops);

    expect(lost).toEqual([['run-lost', 'dying']]);
    expect(delivered).toEqual(['run-next']);
    expect(await others[0]!.size()).toBe(0);
  });

  it('claimedEntry_claimerDiesWhileEveryOtherSlotIsBusy_isReportedLostWithoutAnotherClaim', async () => {
    const name = `busy${++made}`;
    const dying = processQueue(name, { workerId: 'dying-busy' });
    const lost: [string, string][] = [];
    const busy = processQueue(name, { workerId: 'busy', onLost: (runId, worker) => lost.push([runId, worker]) });
    await busy.enqueue(entry('busy-run', 't'));
    await busy.enqueue(entry('run-lost-2', 't'));
    // The busy worker holds its one slot and claims nothing more; its stalled check still runs.
    expect((await busy.claim())?.id).toBe('busy-run');
    expect((await dying.claim())?.id).toBe('run-lost-2');
    await dying.disconnect();
    await until(() => lost.length > 0, 20_000);
    expect(lost).toEqual([['run-lost-2', 'dying-busy']]);
    // When the slot frees and it claims again, the failed-on-claim job is dropped without a second report.
    await busy.ack('busy-run');
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 1_500);
    expect(await busy.claim(stop.signal)).toBeUndefined();
    expect(lost).toHaveLength(1);
    expect(await busy.size()).toBe(0);
  });

  it('claimedEntry_lockGoneWhileStillRunning_tellsTheHolderOnceSoItCanKillTheJail', async () => {
    const name = `lapsed${++made}`;
    const lockLost: string[] = [];
    const holder = processQueue(name, { workerId: 'paused', onLockLost: (runId) => lockLost.push(runId) });
    await holder.enqueue(entry('paused-run', 't'));
    expect((await holder.claim())?.id).toBe('paused-run');
    // What a pause past the lock's duration leaves: the lock is gone while the holder still runs it.
    const admin = openRedis(redis.url, 'confine-test');
    opened.push({ conn: admin, queues: [] });
    expect(await admin.client.del(`confine-test:${name}:paused-run:lock`)).toBe(1);
    await until(() => lockLost.length > 0, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 2 * LOCK_MS));
    expect(lockLost).toEqual(['paused-run']);
    expect(holder.claimed()).toEqual([]);
    await holder.ack('paused-run'); // no longer held: a no-op, not an error
  });

  it('claimedEntry_heldPastLockDuration_isRenewedAndNotReportedLost', async () => {
    const name = `held${++made}`;
    const holder = processQueue(name, { workerId: 'holder' });
    const lost: string[] = [];
    const watcher = processQueue(name, { workerId: 'watcher', onLost: (runId) => lost.push(runId) });
    await holder.enqueue(entry('long-run', 't'));
    expect((await holder.claim())?.id).toBe('long-run');
    const stop = new AbortController();
    const watching = watcher.claim(stop.signal);
    await new Promise((resolve) => setTimeout(resolve, 4 * LOCK_MS));
    stop.abort();
    expect(await watching).toBeUndefined();
    expect(lost).toEqual([]);
    expect(holder.claimed()).toEqual(['long-run']);
    await holder.ack('long-run');
    expect(holder.claimed()).toEqual([]);
  });

  for (const how of ['restart', 'kill'] as const) {
    it(`redis${how === 'kill' ? 'Killed' : 'Restarted'}_withEntriesWaitingAndOneClaimed_losesNoneAndKeepsBounds`, async () => {
      const name = `restart${++made}`;
      const queue = processQueue(name, { workerId: 'w', lockMs: 10_000 });
      for (const [id, tenant] of [['a1', 'a'], ['a2', 'a'], ['b1', 'b'], ['c1', 'c'], ['b2', 'b']] as const) {
        expect((await queue.enqueue(entry(id, tenant))).accepted).toBe(true);
      }
      expect((await queue.claim())?.id).toBe('a1');
      if (how === 'kill') {
        // SIGKILL: no shutdown, only what appendfsync always put on disk.
        await redis.kill();
        await redis.start();
      } else {
        await redis.restart();
      }
      expect(await queue.size()).toBe(4);
      expect(await queue.sizeFor('b')).toBe(2);
      const order = [];
      for (let i = 0; i < 4; i++) order.push((await queue.claim())?.id);
      expect(order).toEqual(['b1', 'c1', 'a2', 'b2']);
      // The entry claimed before the restart is still held under its lock and acks cleanly.
      await queue.ack('a1');
      for (const id of order) await queue.ack(id!);
      expect(await queue.size()).toBe(0);
      expect((await queue.enqueue(entry('after', 'a'))).accepted).toBe(true);
    });
  }

  it('claimGroup_hostQueueEntry_isClaimedBeforeSharedAndAckedWhereItLives', async () => {
    const shared = processQueue(`shared${++made}`, { workerId: 'w9' });
    const host = processQueue(hostQueueName(`w9x${made}`), { workerId: 'w9' });
    const group = new ClaimGroup(host, shared);
    await shared.enqueue(entry('shared-1', 't'));
    await host.enqueue(entry('session-1', 't'));
    const first = await group.claim();
    const second = await group.claim();
    expect([first?.id, second?.id]).toEqual(['session-1', 'shared-1']);
    expect(host.claimed()).toEqual(['session-1']);
    expect(shared.claimed()).toEqual(['shared-1']);
    await group.ack('session-1');
    await group.ack('shared-1');
    expect([...host.claimed(), ...shared.claimed()]).toEqual([]);
    // An empty group waits on both queues: an entry in either wakes it.
    const pending = group.claim();
    await host.enqueue(entry('session-2', 't'));
    expect((await pending)?.id).toBe('session-2');
  });
});
