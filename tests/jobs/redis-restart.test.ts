// Run records and cancels across a Redis restart (AOF on, appendfsync always, as documented): nothing
// accepted before it is lost, a SIGKILL of Redis included; connections come back by themselves; a waiter
// started before the restart is woken by a finish after it; the cancel bus delivers again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AbortReason } from '../../src/jobs/outcomes.js';
import { RedisCancelBus } from '../../src/jobs/redis/cancel-bus.js';
import { openRedis, type RedisConnection } from '../../src/jobs/redis/connection.js';
import { RedisRunStore } from '../../src/jobs/redis/run-store.js';
import type { RunRecord } from '../../src/jobs/types.js';
import { startRedis, type TestRedis } from '../support/redis.js';

const BOUNDS = { maxFinished: 100, finishedTtlMs: 3_600_000, maxRecordBytes: 10_000 };
let redis: TestRedis;
let made = 0;
const connections: RedisConnection[] = [];
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redis = await startRedis({ aof: true });
});

afterAll(async () => {
  for (const close of closers) await close();
  for (const conn of connections) await conn.close();
  await redis.stop();
});

function connect(prefix: string): RedisConnection {
  const conn = openRedis(redis.url, prefix);
  connections.push(conn);
  return conn;
}

function store(prefix: string): RedisRunStore {
  const made = new RedisRunStore(connect(prefix), BOUNDS, { recheckMs: 60_000 });
  closers.push(() => made.close());
  return made;
}

function record(id: string, tenant = 't'): RunRecord {
  return { id, tenant, kind: 'command', state: 'queued', created_at: new Date().toISOString() };
}

const withText = (stdout: string): Partial<RunRecord> => ({
  outcome: { kind: 'command', result: { status: 'succeeded', error: null, argv: ['echo'], run: { exit_code: 0, signal: null, exit_reason: 'exited', stdout, stderr: '', stdout_truncated: false, stderr_truncated: false, wall_ms: 1, cpu_ms: 1, peak_memory_bytes: 1 } } },
});

async function storeSome(runs: RedisRunStore): Promise<RunRecord[]> {
  for (const id of ['r-queued', 'r-running', 'r-done']) await runs.create(record(id, id === 'r-done' ? 'other' : 't'));
  await runs.start('r-running', { started_at: '2026-01-01T00:00:00.000Z' });
  await runs.finish('r-done', 'succeeded', withText('kept through the restart\n'));
  return runs.recent(10);
}

describe('Redis restart', () => {
  for (const how of ['restart', 'kill'] as const) {
    it(`redis${how === 'kill' ? 'Killed' : 'Restarted'}_withAof_losesNoRecordAndMovesThemOnAfter`, async () => {
      const runs = store(`restart${++made}`);
      const before = await storeSome(runs);
      const sizeBefore = await runs.size();
      if (how === 'kill') {
        await redis.kill();
        await redis.start();
      } else {
        await redis.restart();
      }
      expect(await runs.recent(10)).toEqual(before);
      expect(await runs.size()).toEqual(sizeBefore);
      expect(sizeBefore).toEqual({ records: 3, bytes: Buffer.byteLength('kept through the restart\n') });
      // Still forward-only after the restart: the running one finishes, the finished one stays.
      expect((await runs.finish('r-running', 'failed', { error: { type: 'unknown_error', message: 'after restart' } }))?.state).toBe('failed');
      expect(await runs.finish('r-done', 'cancelled', {})).toBeUndefined();
      expect((await runs.start('r-queued', { started_at: new Date().toISOString() }))?.state).toBe('running');
    });
  }

  it('waitFinal_startedBeforeARestart_isWokenByAFinishOnAnotherNodeAfterIt', async () => {
    const prefix = `wait${++made}`;
    const api = store(prefix);
    const worker = store(prefix);
    await api.create(record('r-wait'));
    await worker.start('r-wait', { started_at: new Date().toISOString() });
    const begun = Date.now();
    const waiting = api.waitFinal('r-wait', 30_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await redis.restart();
    await worker.finish('r-wait', 'succeeded', withText('done\n'));
    const got = await waiting;
    expect(got?.state).toBe('succeeded');
    // Woken by the finish (a notice or the reconnect re-read), not by the 30 s timeout or the 60 s recheck.
    expect(Date.now() - begun).toBeLessThan(20_000);
  });

  it('cancelBus_afterARestart_deliversToTheWorkerAgain', async () => {
    const prefix = `bus${++made}`;
    const api = new RedisCancelBus(connect(prefix));
    const worker = new RedisCancelBus(connect(prefix));
    closers.push(() => api.close(), () => worker.close());
    const heard: [string, AbortReason][] = [];
    await worker.subscribe((id, reason) => heard.push([id, reason]));
    await redis.restart();
    // Pub/sub is fire-and-forget: publish until the worker's resubscribed connection hears one.
    const deadline = Date.now() + 15_000;
    while (heard.length === 0 && Date.now() < deadline) {
      await api.publish('r-cancel', 'cancelled');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(heard[0]).toEqual(['r-cancel', 'cancelled']);
  });
});
