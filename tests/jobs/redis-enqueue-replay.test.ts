// A script whose reply was lost in a reconnect (Redis restarting under load) is sent again by ioredis and
// meets what its first execution wrote. The queue's reservation and the run store's record must then be
// taken as ours (queued once, counted once) instead of "duplicate id" (a 500 to the client, and for the
// queue the room reserved forever). Found by tests/distributed/faults.test.ts (Redis restart under load).
import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedis, type RedisConnection } from '../../src/jobs/redis/connection.js';
import { RedisJobQueue } from '../../src/jobs/redis/queue.js';
import { RESERVE } from '../../src/jobs/redis/queue-scripts.js';
import { RedisRunStore } from '../../src/jobs/redis/run-store.js';
import type { RunRecord } from '../../src/jobs/types.js';
import { startRedis, type TestRedis } from '../support/redis.js';

let redis: TestRedis;
let conn: RedisConnection;

beforeAll(async () => {
  redis = await startRedis();
  conn = openRedis(redis.url, 'confine-replay');
});

afterAll(async () => {
  await conn.close();
  await redis.stop();
});

const limits = { capacity: 4, perTenant: 4 };
const keys = (name: string): string[] => ['state', 'tn', 'tb', 'tl', 'e', 'c'].map((part) => conn.key('cq', name, part));

describe('RedisJobQueue enqueue replayed after a lost reply', () => {
  it('replayed_reservation_is_taken_as_ours_and_the_run_is_queued_once', async () => {
    const queue = new RedisJobQueue<{ n: number }>(conn, limits, { name: 'replay1', workerId: 'api', lockMs: 5_000, pollMs: 200 });
    try {
      // The first execution of the reservation, whose reply never came back.
      await conn.client.eval(RESERVE, 6, ...keys('replay1'), 'run-1', 'tenant-a', 10, 4, 4, -1, -1);
      expect(await queue.enqueue({ id: 'run-1', tenant: 'tenant-a', payload: { n: 1 }, bytes: 10 })).toEqual({ accepted: true });
      expect(await queue.size()).toBe(1); // counted once
      expect(await queue.bytes()).toBe(10);
      const claimed = await queue.claim();
      expect(claimed?.id).toBe('run-1');
      expect(claimed?.payload).toEqual({ n: 1 });
      await queue.ack('run-1');
      expect(await queue.size()).toBe(0); // nothing stays reserved
    } finally {
      await queue.disconnect();
    }
  });

  it('same_id_reserved_for_another_tenant_is_still_refused', async () => {
    const queue = new RedisJobQueue<{ n: number }>(conn, limits, { name: 'replay2', workerId: 'api', lockMs: 5_000 });
    try {
      await conn.client.eval(RESERVE, 6, ...keys('replay2'), 'run-2', 'tenant-a', 10, 4, 4, -1, -1);
      await expect(queue.enqueue({ id: 'run-2', tenant: 'tenant-b', payload: { n: 2 } })).rejects.toThrow(/duplicate id/);
    } finally {
      await queue.disconnect();
    }
  });
});

describe('RedisRunStore create replayed after a lost reply', () => {
  it('replayed_create_of_the_same_record_is_taken_as_ours', async () => {
    const store = new RedisRunStore(conn, { maxFinished: 10, finishedTtlMs: 60_000 });
    try {
      const record: RunRecord = { id: 'replayed-run', tenant: 'tenant-a', kind: 'command', state: 'queued', created_at: new Date().toISOString() };
      await store.create(record);
      await expect(store.create(record)).resolves.toBeUndefined(); // the re-sent script meets its own record
      expect((await store.recent(10)).filter((r) => r.id === 'replayed-run')).toHaveLength(1);
      await expect(store.create({ ...record, tenant: 'tenant-b' })).rejects.toThrow(/duplicate id/);
    } finally {
      await store.close();
    }
  });
});

describe('RedisJobQueue claim whose reply was lost', () => {
  it('job_moved_to_active_but_never_recorded_is_run_not_reported_lost', async () => {
    const lost: string[] = [];
    const name = 'replay3';
    const queue = new RedisJobQueue<{ n: number }>(conn, limits, { name, workerId: 'w1', lockMs: 600, pollMs: 100, onLost: (id) => lost.push(id) });
    // What a claim whose reply was lost leaves: BullMQ moved the job to active under a lock that nobody
    // renews, and no claimer recorded itself (the queue's own claim never returned).
    const rogue = new Worker(name, null, { connection: conn.duplicate(), prefix: conn.prefix, autorun: false, lockDuration: 600 });
    try {
      expect(await queue.enqueue({ id: 'orphan', tenant: 't', payload: { n: 7 } })).toEqual({ accepted: true });
      const taken = await rogue.getNextJob('lost-reply-token', { block: false });
      expect(taken?.id).toBe('orphan');
      expect(await queue.tryClaim()).toBeUndefined(); // starts this process's stalled check; nothing waits
      // The lock lapses, the stalled check finds it; the next claim meets it and runs it.
      const stop = AbortSignal.timeout(15_000);
      const entry = await queue.claim(stop);
      expect(entry?.id).toBe('orphan');
      expect(entry?.payload).toEqual({ n: 7 });
      expect(lost).toEqual([]); // never reported lost: no executor ever had it
      await queue.ack('orphan');
      expect(await queue.size()).toBe(0);
    } finally {
      await rogue.close(true);
      await queue.disconnect();
    }
  }, 30_000);
});

