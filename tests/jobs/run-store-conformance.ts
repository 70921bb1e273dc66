// The conformance suite every RunStore (src/jobs/ports.ts) must pass, memory and Redis alike: call
// `runStoreConformance('name', factory)` from an implementation's test file. `create(bounds)` gives a
// fresh, empty store; `peer(store)` another handle on the same backing state (for Redis: its own
// connections, as another process would have), so "a finish on one node wakes a waiter on another" is
// tested, not assumed. Contract details the port's comments leave open, fixed here:
// - finish stamps `finished_at` (the store's clock) when the fields do not name one;
// - `get`, `recent` and `waitFinal` return copies: mutating what they return changes nothing stored;
// - bounds apply to finished records only (queued and running ones are bounded by the queue and the
//   workers), oldest finished evicted first.
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordBounds, RunStore } from '../../src/jobs/ports.js';
import type { RunOutcome, RunRecord } from '../../src/jobs/types.js';

export interface RunStoreFactory {
  create(bounds: RecordBounds): Promise<RunStore>;
  /** Another handle on the same backing state as `store` (another process's view of it). */
  peer(store: RunStore): Promise<RunStore>;
  /** Releases what the factory holds (after every store it made was closed). */
  dispose?(): Promise<void>;
}

const ROOMY: RecordBounds = { maxFinished: 100, finishedTtlMs: 3_600_000 };

let counter = 0;
/** Unique per call so stores sharing a backing service (one Redis) never see each other's ids. */
function record(tenant = 't', id = `run-${process.pid}-${Date.now()}-${counter++}`): RunRecord {
  return { id, tenant, kind: 'command', state: 'queued', created_at: new Date().toISOString() };
}

function outcome(stdout: string, stderr = ''): RunOutcome {
  return {
    kind: 'command',
    result: {
      status: 'succeeded',
      error: null,
      argv: ['echo'],
      run: {
        exit_code: 0,
        signal: null,
        exit_reason: 'exited',
        stdout,
        stderr,
        stdout_truncated: false,
        stderr_truncated: false,
        wall_ms: 1,
        cpu_ms: 1,
        peak_memory_bytes: 1,
      },
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function runStoreConformance(name: string, factory: RunStoreFactory): void {
  describe(`RunStore conformance: ${name}`, () => {
    const made: RunStore[] = [];
    const create = async (bounds: RecordBounds = ROOMY): Promise<RunStore> => {
      const store = await factory.create(bounds);
      made.push(store);
      return store;
    };
    const peer = async (store: RunStore): Promise<RunStore> => {
      const other = await factory.peer(store);
      made.push(other);
      return other;
    };
    afterEach(async () => {
      for (const store of made.splice(0).reverse()) await store.close();
      await factory.dispose?.();
    });

    it('create_thenGet_returnsTheQueuedRecordAsStored', async () => {
      const store = await create();
      const queued = { ...record('acme'), session_id: 's1' };
      await store.create(queued);
      expect(await store.get(queued.id)).toEqual(queued);
      expect(await store.get('unknown-id')).toBeUndefined();
    });

    it('get_returnsACopy_mutatingItChangesNothingStored', async () => {
      const store = await create();
      const queued = record();
      await store.create(queued);
      const got = (await store.get(queued.id))!;
      got.state = 'succeeded';
      queued.state = 'failed';
      expect((await store.get(queued.id))?.state).toBe('queued');
    });

    it('start_queuedRecord_movesItToRunningWithTheFields', async () => {
      const store = await create();
      const queued = record();
      await store.create(queued);
      const started = await store.start(queued.id, { started_at: '2026-01-01T00:00:00.000Z', worker: 'w1' });
      expect(started).toMatchObject({ id: queued.id, state: 'running', started_at: '2026-01-01T00:00:00.000Z', worker: 'w1' });
      expect(await store.get(queued.id)).toEqual(started);
    });

    it('start_twiceOrUnknown_isRefused', async () => {
      const store = await create();
      const queued = record();
      await store.create(queued);
      expect(await store.start(queued.id, { started_at: new Date().toISOString() })).toBeDefined();
      expect(await store.start(queued.id, { started_at: new Date().toISOString() })).toBeUndefined();
      expect(await store.start('unknown-id', { started_at: new Date().toISOString() })).toBeUndefined();
    });

    it('start_afterFinish_isRefusedAndTheRecordStaysFinal', async () => {
      const store = await create();
      const queued = record();
      await store.create(queued);
      // A cancel while queued finishes the record before any worker starts it.
      const cancelled = await store.finish(queued.id, 'cancelled', { error: { type: 'unknown_error', message: 'run cancelled' } });
      expect(cancelled?.state).toBe('cancelled');
      expect(await store.start(queued.id, { started_at: new Date().toISOString() })).toBeUndefined();
      expect(await store.get(queued.id)).toMatchObject({ state: 'cancelled', error: { message: 'run cancelled' } });
      expect((await store.get(queued.id))?.started_at).toBeUndefined();
    });

    it('finish_runningRecord_mergesFieldsAndStampsFinishedAt', async () => {
      const store = await create();
      const queued = record();
      await store.create(queued);
      await store.start(queued.id, { started_at: new Date().toISOString() });
      const finished = await store.finish(queued.id, 'succeeded', { outcome: outcome('hello\n'), plan_reference: 'artifact://x' });
      expect(finished).toMatchObject({ id: queued.id, state: 'succeeded', plan_reference: 'artifact://x' });
      expect(Number.isNaN(Date.parse(finished!.finished_at!))).toBe(false);
      expect(finished!.outcome?.kind === 'command' && finished!.outcome.result.run?.stdout).toBe('hello\n');
      expect(await store.get(queued.id)).toEqual(finished);
    });

    it('finish_keepsAFinishedAtTheCallerNames', async () => {
      const store = await create();
      const queued = record();
      await store.create(queued);
      const finished = await store.finish(queued.id, 'failed', { finished_at: '2026-02-03T04:05:06.000Z' });
      expect(finished?.finished_at).toBe('2026-02-03T04:05:06.000Z');
    });

    it('finish_isForwardOnly_aFinalRecordNeverChangesAgain', async () => {
      const store = await create();
      const queued = record();
      await store.create(queued);
      await store.start(queued.id, { started_at: new Date().toISOString() });
      const first = await store.finish(queued.id, 'failed', { error: { type: 'execution_timeout', message: 'first' } });
      expect(first?.state).toBe('failed');
      expect(await store.finish(queued.id, 'succeeded', { outcome: outcome('late') })).toBeUndefined();
      expect(await store.finish(queued.id, 'cancelled', {})).toBeUndefined();
      expect(await store.start(queued.id, { started_at: new Date().toISOString() })).toBeUndefined();
      const now = await store.get(queued.id);
      expect(now).toEqual(first);
      expect(now?.outcome).toBeUndefined();
      expect(await store.finish('unknown-id', 'succeeded', {})).toBeUndefined();
    });

    it('finish_concurrentCallsFromTwoHandles_firstFinalWinsExactlyOnce', async () => {
      const store = await create();
      const other = await peer(store);
      for (let round = 0; round < 5; round++) {
        const queued = record();
        await store.create(queued);
        await store.start(queued.id, { started_at: new Date().toISOString() });
        const states = ['succeeded', 'failed', 'cancelled'] as const;
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            (i % 2 === 0 ? store : other).finish(queued.id, states[i % 3]!, { error: { type: 'unknown_error', message: `caller ${i}` } }),
          ),
        );
        const winners = results.filter((r) => r !== undefined);
        expect(winners).toHaveLength(1);
        const stored = await other.get(queued.id);
        expect(stored).toEqual(winners[0]);
        expect(stored?.state).toBe(winners[0]!.state);
      }
    });

    it('start_andFinishRacingFromTwoHandles_neverLeaveARunningRecordAfterAFinal', async () => {
      const store = await create();
      const other = await peer(store);
      for (let round = 0; round < 10; round++) {
        const queued = record();
        await store.create(queued);
        const [started, finished] = await Promise.all([
          store.start(queued.id, { started_at: new Date().toISOString() }),
          other.finish(queued.id, 'cancelled', {}),
        ]);
        expect(finished?.state).toBe('cancelled');
        const stored = await store.get(queued.id);
        expect(stored?.state).toBe('cancelled');
        // Either the start came first (and the cancel finished the running record) or it was refused.
        if (started) expect(started.state).toBe('running');
      }
    });

    it('waitFinal_wokenByAFinishOnAnotherHandle', async () => {
      const store = await create();
      const other = await peer(store);
      const queued = record();
      await store.create(queued);
      await store.start(queued.id, { started_at: new Date().toISOString() });
      const begun = Date.now();
      const waiting = store.waitFinal(queued.id, 20_000);
      await sleep(100);
      await other.finish(queued.id, 'succeeded', { outcome: outcome('done') });
      const got = await waiting;
      expect(got?.state).toBe('succeeded');
      expect(got?.outcome?.kind === 'command' && got.outcome.result.run?.stdout).toBe('done');
      // Woken by the finish, not by the 20 s timeout (generous upper bound).
      expect(Date.now() - begun).toBeLessThan(10_000);
    });

    it('waitFinal_manyWaitersOnTwoHandles_allWokenByOneFinish', async () => {
      const store = await create();
      const other = await peer(store);
      const queued = record();
      await store.create(queued);
      const waiting = Array.from({ length: 6 }, (_, i) => (i % 2 ? store : other).waitFinal(queued.id, 20_000));
      await sleep(100);
      await store.finish(queued.id, 'cancelled', {});
      const got = await Promise.all(waiting);
      expect(got.map((r) => r?.state)).toEqual(Array(6).fill('cancelled'));
    });

    it('waitFinal_alreadyFinal_resolvesAtOnce', async () => {
      const store = await create();
      const queued = record();
      await store.create(queued);
      await store.finish(queued.id, 'failed', {});
      const begun = Date.now();
      expect((await store.waitFinal(queued.id, 20_000))?.state).toBe('failed');
      expect(Date.now() - begun).toBeLessThan(5_000);
    });

    it('waitFinal_timeout_returnsTheRecordAsItIsNow', async () => {
      const store = await create();
      const queued = record();
      await store.create(queued);
      await store.start(queued.id, { started_at: '2026-01-01T00:00:00.000Z' });
      const begun = Date.now();
      const got = await store.waitFinal(queued.id, 300);
      expect(Date.now() - begun).toBeGreaterThanOrEqual(250);
      expect(got).toMatchObject({ id: queued.id, state: 'running', started_at: '2026-01-01T00:00:00.000Z' });
    });

    it('waitFinal_unknownId_resolvesUndefined', async () => {
      const store = await create();
      expect(await store.waitFinal('unknown-id', 5_000)).toBeUndefined();
    });

    it('delete_forgetsTheRecord', async () => {
      const store = await create();
      const other = await peer(store);
      const queued = record();
      await store.create(queued);
      await store.delete(queued.id);
      expect(await store.get(queued.id)).toBeUndefined();
      expect(await other.get(queued.id)).toBeUndefined();
      expect((await store.recent(10)).map((r) => r.id)).not.toContain(queued.id);
      await store.delete('unknown-id');
    });

    it('recent_newestFirstInCreationOrderWithLimitAndTenantFilter', async () => {
      const store = await create();
      const other = await peer(store);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const next = record(i % 2 === 0 ? 'even' : 'odd');
        ids.push(next.id);
        await (i % 2 === 0 ? store : other).create(next);
        await sleep(2); // distinct creation times
      }
      // Finishing an old run does not move it: the order is creation order.
      await store.finish(ids[0]!, 'succeeded', {});
      expect((await other.recent(10)).map((r) => r.id)).toEqual([...ids].reverse());
      expect((await store.recent(3)).map((r) => r.id)).toEqual([ids[5], ids[4], ids[3]]);
      expect((await store.recent(10, 'even')).map((r) => r.id)).toEqual([ids[4], ids[2], ids[0]]);
      expect((await store.recent(2, 'odd')).map((r) => r.id)).toEqual([ids[5], ids[3]]);
      expect(await store.recent(10, 'nobody')).toEqual([]);
      expect((await store.recent(10)).find((r) => r.id === ids[0])?.state).toBe('succeeded');
    });

    it('bounds_maxFinished_evictsOldestFinishedFirstAndNeverActiveRecords', async () => {
      const store = await create({ maxFinished: 2, finishedTtlMs: 3_600_000 });
      const active = record();
      await store.create(active);
      await store.start(active.id, { started_at: new Date().toISOString() });
      const done: string[] = [];
      for (let i = 0; i < 4; i++) {
        const next = record();
        await store.create(next);
        await store.finish(next.id, 'succeeded', {});
        done.push(next.id);
        await sleep(2);
      }
      expect(await store.get(done[0]!)).toBeUndefined();
      expect(await store.get(done[1]!)).toBeUndefined();
      expect((await store.get(done[2]!))?.state).toBe('succeeded');
      expect((await store.get(done[3]!))?.state).toBe('succeeded');
      expect((await store.get(active.id))?.state).toBe('running');
      expect((await store.size()).records).toBe(3);
    });

    it('bounds_finishedTtl_forgetsFinishedRecordsButNotActiveOnes', async () => {
      const store = await create({ maxFinished: 100, finishedTtlMs: 300 });
      const active = record();
      await store.create(active);
      const done = record();
      await store.create(done);
      await store.finish(done.id, 'failed', {});
      expect((await store.get(done.id))?.state).toBe('failed');
      await sleep(1_200);
      expect(await store.get(done.id)).toBeUndefined();
      expect((await store.recent(10)).map((r) => r.id)).toEqual([active.id]);
      expect((await store.get(active.id))?.state).toBe('queued');
    });

    it('bounds_maxRecordBytes_trimsTheStoredTextAndSaysSo', async () => {
      const store = await create({ maxFinished: 100, finishedTtlMs: 3_600_000, maxRecordBytes: 100 });
      const queued = record();
      await store.create(queued);
      const finished = await store.finish(queued.id, 'succeeded', { outcome: outcome('o'.repeat(5_000), 'e'.repeat(5_000)) });
      const run = finished?.outcome?.kind === 'command' ? finished.outcome.result.run : null;
      expect(Buffer.byteLength(run!.stdout) + Buffer.byteLength(run!.stderr)).toBeLessThanOrEqual(100);
      expect(run?.stdout_truncated).toBe(true);
      expect(finished?.output_trimmed).toEqual({ kept_bytes: 100, dropped_bytes: 9_900 });
      expect(await store.get(queued.id)).toEqual(finished);
      expect((await store.size()).bytes).toBeLessThanOrEqual(100);
    });

    it('bounds_maxTotalBytes_evictsOldestFinishedFirst', async () => {
      const store = await create({ maxFinished: 100, finishedTtlMs: 3_600_000, maxRecordBytes: 1_000, maxTotalBytes: 2_500 });
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const next = record();
        await store.create(next);
        await store.finish(next.id, 'succeeded', { outcome: outcome(String(i).repeat(1_000)) });
        ids.push(next.id);
        await sleep(2);
      }
      // 4 x 1000 bytes against 2500: the two oldest go.
      expect(await store.get(ids[0]!)).toBeUndefined();
      expect(await store.get(ids[1]!)).toBeUndefined();
      expect((await store.get(ids[2]!))?.state).toBe('succeeded');
      expect((await store.get(ids[3]!))?.state).toBe('succeeded');
      expect(await store.size()).toEqual({ records: 2, bytes: 2_000 });
    });

    it('size_countsRecordsAndFinishedTextBytes', async () => {
      const store = await create();
      expect(await store.size()).toEqual({ records: 0, bytes: 0 });
      const a = record();
      const b = record();
      await store.create(a);
      await store.create(b);
      await store.finish(b.id, 'succeeded', { outcome: outcome('x'.repeat(40), 'y'.repeat(2)) });
      expect(await store.size()).toEqual({ records: 2, bytes: 42 });
      await store.delete(a.id);
      expect((await store.size()).records).toBe(1);
    });
  });
}
