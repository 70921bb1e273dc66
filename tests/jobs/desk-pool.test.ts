// The API side (run desk) and the worker side (worker pool) as separate parts on shared ports: a desk
// holding other handles of the store and the bus than the pool (as another process would) answers, waits
// for and cancels runs the pool executes in real jails; a dead worker's runs end failed naming it; a pool
// that leaves at shutdown hands its queued runs to the next worker; scratch copies are released once.
import { beforeAll, describe, expect, it } from 'vitest';
import type { JailHost } from '../../src/jail/host.js';
import type { ShellProfile } from '../../src/jail/profiles/shell.js';
import type { Executor, QueuedRun } from '../../src/jobs/executor-types.js';
import { finishUndeliverableRun, lostWorkerMessage } from '../../src/jobs/lost.js';
import { MemoryCancelBus } from '../../src/jobs/memory-cancel-bus.js';
import { MemoryJobQueue } from '../../src/jobs/queue.js';
import type { RunStore } from '../../src/jobs/ports.js';
import { MemoryRunStore } from '../../src/jobs/records.js';
import { createRunDesk, type RunDesk } from '../../src/jobs/run-desk.js';
import type { RunRecord, RunRequest } from '../../src/jobs/types.js';
import { createWorkerPool, type WorkerPool, type WorkerPoolOptions } from '../../src/jobs/worker-pool.js';
import { testHost, testShellProfile } from '../support/jail.js';
import { cgroupPids, command, jailExecutor, livePids, processesOfUid } from './support.js';

let host: JailHost;
let profile: ShellProfile;

beforeAll(async () => {
  host = await testHost();
  profile = await testShellProfile(['sleep', 'echo']);
});

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/** One queue, one store, one bus; `desk()` gives an API side on other handles of the store and the bus. */
function cluster(poolOptions: Partial<WorkerPoolOptions> & { executor: Executor }, capacity = 8) {
  const queue = new MemoryJobQueue<QueuedRun>({ capacity, perTenant: capacity });
  const store = new MemoryRunStore();
  const bus = new MemoryCancelBus();
  const pool = (overrides: Partial<WorkerPoolOptions> = {}): WorkerPool =>
    createWorkerPool({ workerId: 'worker-a', queue, store, bus, slots: 1, runTimeoutMs: () => 60_000, killGraceMs: 3_000, ...poolOptions, ...overrides });
  const desk = (overrides: Partial<Parameters<typeof createRunDesk>[0]> = {}): RunDesk =>
    createRunDesk({ queue, store: store.peer(), bus: bus.peer(), cancelWaitMs: 4_000, ...overrides });
  return { queue, store, bus, pool, desk };
}

function scratchPlan(reference: string): RunRequest {
  return { kind: 'terraform', request: { mode: 'validate', input: { kind: 'reference', reference, scratch: true } } };
}

/** An executor that answers at once without a jail, or holds a run until released. */
function stubExecutor(): Executor & { release(): void; calls: string[] } {
  let open: () => void = () => undefined;
  let gate = new Promise<void>((resolve) => (open = resolve));
  const calls: string[] = [];
  return {
    calls,
    release() {
      open();
      gate = new Promise<void>((resolve) => (open = resolve));
    },
    async execute(_request, context) {
      calls.push(context.runId);
      await gate;
      return { outcome: { kind: 'command', result: { status: 'succeeded', error: null, run: null } } };
    },
  };
}

describe('run desk and worker pool', () => {
  it('cancel_onADeskOfAnotherProcess_killsTheJailThePoolRunsAtOnce', async () => {
    const executor = jailExecutor(host, profile);
    const parts = cluster({ executor });
    const pool = parts.pool();
    const submitter = parts.desk();
    const other = parts.desk();
    const run = await submitter.submit('t1', command('sleep 30'));
    const [jail] = await executor.whenStarted(1);
    await until(() => processesOfUid(jail!.hostUid).length > 0);
    const pids = processesOfUid(jail!.hostUid);
    expect(pids.length).toBeGreaterThan(0);
    expect((await other.get('t1', run.id))?.state).toBe('running');
    const begun = Date.now();
    const cancelled = await other.cancel('t1', run.id);
    expect(cancelled?.state).toBe('cancelled');
    expect(cancelled?.worker).toBe('worker-a');
    // Killed by the abort, not by the forced finish (3 s) nor the sleep (30 s): a generous upper bound.
    expect(Date.now() - begun).toBeLessThan(2_500);
    await until(() => cgroupPids(jail!.cgroupProcsFiles).length === 0 && livePids(pids).length === 0);
    expect(livePids(pids)).toEqual([]);
    expect(cgroupPids(jail!.cgroupProcsFiles)).toEqual([]);
    await pool.shutdown(0);
  });

  it('wait_onAnotherDesk_wokenByThePoolsFinish_recordNamesTheWorker', async () => {
    const executor = jailExecutor(host, profile);
    const parts = cluster({ executor });
    const pool = parts.pool({ workerId: 'host-1-4242' });
    const started: RunRecord[] = [];
    const finished: RunRecord[] = [];
    pool.events.onRunStarted((record) => started.push(record));
    pool.events.onRunFinished((record) => finished.push(record));
    const run = await parts.desk().submit('t1', command('echo hello'));
    const done = await parts.desk().wait('t1', run.id, 30_000);
    expect(done).toMatchObject({ id: run.id, state: 'succeeded', worker: 'host-1-4242' });
    expect(done?.outcome?.kind === 'command' && done.outcome.result.run?.stdout).toBe('hello\n');
    // Announced once each, by the process that made the transition.
    expect(started.map((r) => [r.id, r.state])).toEqual([[run.id, 'running']]);
    expect(finished.map((r) => [r.id, r.state])).toEqual([[run.id, 'succeeded']]);
    expect(await parts.desk().wait('mallory', run.id, 10)).toBeUndefined();
    await pool.shutdown(0);
  });

  it('lost_deadWorkersRuns_finishFailedNamingItOnceAndLeaveFinalOnesAlone', async () => {
    const parts = cluster({ executor: stubExecutor() });
    const desk = parts.desk();
    const finished: RunRecord[] = [];
    desk.events.onRunFinished((record) => finished.push(record));
    const ids = ['run-running', 'run-claimed', 'run-done'];
    for (const id of ids) await parts.store.create({ id, tenant: 't1', kind: 'command', state: 'queued', created_at: new Date().toISOString() });
    await parts.store.start('run-running', { started_at: new Date().toISOString(), worker: 'host-9-1' });
    await parts.store.finish('run-done', 'succeeded', {});
    const lost = await desk.lost('host-9-1', ids);
    expect(lost.map((r) => r.id)).toEqual(['run-running', 'run-claimed']);
    for (const id of ['run-running', 'run-claimed']) {
      const record = await desk.get('t1', id);
      expect(record?.state).toBe('failed');
      expect(record?.error).toEqual({
        type: 'unknown_error',
        message: 'worker host-9-1 stopped while running this run; it was not retried: submit it again',
        detail: 'worker_lost: host-9-1',
      });
    }
    expect(lostWorkerMessage('w')).toMatch(/^worker w stopped/);
    expect((await desk.get('t1', 'run-done'))?.state).toBe('succeeded');
    // Reported twice (two stalled checks, two API nodes): still finished and announced once.
    expect(await desk.lost('host-9-1', ids)).toEqual([]);
    expect(finished.map((r) => r.id)).toEqual(['run-running', 'run-claimed']);
    expect((await desk.stats()).finished).toEqual({ succeeded: 0, failed: 2, cancelled: 0 });
  });

  it('undeliverable_claimedPayloadThatDoesNotOpen_endsFailedNeverRun', async () => {
    const executor = stubExecutor();
    const parts = cluster({ executor });
    const desk = parts.desk();
    await parts.store.create({ id: 'run-sealed', tenant: 't1', kind: 'command', state: 'queued', created_at: new Date().toISOString() });
    const final = await finishUndeliverableRun(parts.store, 'run-sealed', 'unsupported state or unable to authenticate data', desk.events);
    expect(final?.state).toBe('failed');
    expect(final?.error).toMatchObject({ type: 'unknown_error', message: expect.stringMatching(/could not be read from the queue; it was not run/) });
    expect(await finishUndeliverableRun(parts.store, 'run-sealed', 'again', desk.events)).toBeUndefined();
    expect(desk.events.totals.failed).toBe(1);
    expect(executor.calls).toEqual([]);
  });

  it('shutdown_leave_stopsClaimingAndLeavesQueuedRunsToTheNextWorker', async () => {
    const executor = stubExecutor();
    const parts = cluster({ executor });
    const first = parts.pool({ atShutdown: 'leave' });
    const desk = parts.desk();
    const runs = [await desk.submit('t1', command('a')), await desk.submit('t1', command('b')), await desk.submit('t1', command('c'))];
    await until(() => executor.calls.length === 1);
    const stopping = first.shutdown(10_000);
    executor.release();
    await stopping;
    await first.stopped;
    expect((await desk.get('t1', runs[0]!.id))?.state).toBe('succeeded');
    // Not cancelled, not claimed: still waiting for another worker.
    expect((await Promise.all(runs.slice(1).map((r) => desk.get('t1', r.id)))).map((r) => r?.state)).toEqual(['queued', 'queued']);
    expect(await parts.queue.size()).toBe(2);
    const second = parts.pool({ workerId: 'worker-b', slots: 2 });
    await until(() => executor.calls.length === 3);
    executor.release();
    const done = await Promise.all(runs.slice(1).map((r) => desk.wait('t1', r.id, 10_000)));
    expect(done.map((r) => [r?.state, r?.worker])).toEqual([['succeeded', 'worker-b'], ['succeeded', 'worker-b']]);
    expect(executor.calls).toHaveLength(3);
    await second.shutdown(0);
  });

  it('submit_routeRefuses_errorPassedOnAndNothingStored', async () => {
    const parts = cluster({ executor: stubExecutor() });
    class HostGone extends Error {}
    const desk = parts.desk({
      route: async (_tenant, sessionId) => {
        if (sessionId === 's-gone') throw new HostGone('the host holding this session is gone');
        return parts.queue;
      },
    });
    await expect(desk.submit('t1', command('echo'), { sessionId: 's-gone' })).rejects.toBeInstanceOf(HostGone);
    expect((await parts.store.size()).records).toBe(0);
    expect(await parts.queue.size()).toBe(0);
    const ok = await desk.submit('t1', command('echo'), { sessionId: 's-ok' });
    expect((await desk.get('t1', ok.id))?.session_id).toBe('s-ok');
  });

  it('scratch_releasedOnceByWhoeverTookTheRunOutOfTheQueue', async () => {
    const executor = stubExecutor();
    const parts = cluster({ executor });
    const released: string[] = [];
    const releaseScratch = async (tenant: string, reference: string): Promise<void> => void released.push(`${tenant}:${reference}`);
    const pool = parts.pool({ releaseScratch });
    const desk = parts.desk({ releaseScratch });
    const ran = await desk.submit('t1', scratchPlan('artifact://ran'));
    await until(() => executor.calls.length === 1);
    const cancelled = await desk.submit('t1', scratchPlan('artifact://cancelled'));
    expect((await desk.cancel('t1', cancelled.id))?.state).toBe('cancelled');
    executor.release();
    expect((await desk.wait('t1', ran.id, 10_000))?.state).toBe('succeeded');
    await until(() => released.length === 2);
    expect(released.sort()).toEqual(['t1:artifact://cancelled', 't1:artifact://ran']);
    // The internal reference is never shown by the API (presentRun lists its fields).
    expect((await desk.get('t1', ran.id))?.scratch_reference).toBe('artifact://ran');
    await pool.shutdown(0);
    expect(released).toHaveLength(2);
  });

  it('stats_deskCountsWhatItFinishes_poolSlotsFromCapacity', async () => {
    const executor = stubExecutor();
    const parts = cluster({ executor });
    const pool = parts.pool({ slots: 2 });
    const desk = parts.desk({ capacity: () => pool.stats() });
    const run = await desk.submit('t1', command('x'));
    await until(() => executor.calls.length === 1);
    expect(await desk.stats()).toMatchObject({ running: 1, workers: 2, queued: 0, records: 1 });
    expect(pool.runningIds()).toEqual([run.id]);
    executor.release();
    await desk.wait('t1', run.id, 10_000);
    await until(async () => (await desk.stats()).running === 0);
    expect(await desk.stats()).toMatchObject({ running: 0, records: 1, finished: { succeeded: 0, failed: 0, cancelled: 0 } });
    expect(pool.events.totals).toEqual({ succeeded: 1, failed: 0, cancelled: 0 });
    await pool.shutdown(0);
  });

  it('storeOutage_startAndFinishRetried_runStillEndsWithItsResult', async () => {
    const executor = stubExecutor();
    const parts = cluster({ executor });
    // A store that refuses the first two finishes, and applies the first start but loses its reply (what
    // a Redis restart does to commands in flight).
    let finishFailures = 2;
    let startReplyLost = true;
    const flaky: RunStore = Object.assign(Object.create(parts.store) as RunStore, {
      start: async (id: string, fields: Parameters<RunStore['start']>[1]) => {
        const started = await parts.store.start(id, fields);
        if (startReplyLost) {
          startReplyLost = false;
          throw new Error('Connection is closed.');
        }
        return started;
      },
      finish: async (...args: Parameters<RunStore['finish']>) => {
        if (finishFailures-- > 0) throw new Error('READONLY You can\'t write against a read only replica.');
        return parts.store.finish(...args);
      },
    });
    const internal: unknown[] = [];
    const pool = parts.pool({ store: flaky, onInternalError: (error) => internal.push(error) });
    const desk = parts.desk();
    const run = await desk.submit('t1', command('x'));
    await until(() => executor.calls.length === 1);
    executor.release();
    const done = await desk.wait('t1', run.id, 10_000);
    expect(done).toMatchObject({ state: 'succeeded', worker: 'worker-a' });
    expect(executor.calls).toEqual([run.id]);
    expect(internal.map(String)).toEqual(['Error: Connection is closed.', "Error: READONLY You can't write against a read only replica.", "Error: READONLY You can't write against a read only replica."]);
    await pool.shutdown(0);
  });

  it('heartbeat_beatsAtStartAndEveryInterval_withBusySlots_stopsAtShutdown', async () => {
    const executor = stubExecutor();
    const parts = cluster({ executor });
    const beats: { running: number; workers: number }[] = [];
    const pool = parts.pool({ slots: 3, heartbeat: { intervalMs: 50, beat: async (stats) => void beats.push({ running: stats.running, workers: stats.workers }) } });
    expect(beats).toEqual([{ running: 0, workers: 3 }]); // at once: the registry knows the worker before its first run
    await parts.desk().submit('t1', command('x'));
    await until(() => beats.some((b) => b.running === 1));
    expect(beats.at(-1)).toEqual({ running: 1, workers: 3 });
    executor.release();
    await pool.shutdown(1_000);
    const after = beats.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(beats.length).toBe(after);
  });

  it('heartbeat_failingBeat_isReportedAndTheNextBeatStillRuns', async () => {
    const parts = cluster({ executor: stubExecutor() });
    const internal: unknown[] = [];
    let calls = 0;
    const pool = parts.pool({
      onInternalError: (error) => internal.push(error),
      heartbeat: { intervalMs: 30, beat: async () => {
        calls++;
        if (calls === 1) throw new Error('redis unreachable');
      } },
    });
    await until(() => calls >= 3);
    expect(internal.map(String)).toEqual(['Error: redis unreachable']);
    await pool.shutdown(0);
  });

  it('abort_aRunThisPoolRuns_killsItsJailAndRecordsTheReason_unknownIdIsFalse', async () => {
    const executor = jailExecutor(host, profile);
    const parts = cluster({ executor });
    const pool = parts.pool();
    const desk = parts.desk();
    const run = await desk.submit('t1', command('sleep 30'));
    const [jail] = await executor.whenStarted(1);
    await until(() => processesOfUid(jail!.hostUid).length > 0);
    const pids = processesOfUid(jail!.hostUid);
    expect(pool.abort('not-here', 'cancelled')).toBe(false);
    expect(pool.abort(run.id, 'shutdown')).toBe(true);
    const done = await desk.wait('t1', run.id, 10_000);
    expect(done).toMatchObject({ state: 'cancelled', error: { detail: 'shutdown' } });
    await until(() => livePids(pids).length === 0);
    expect(livePids(pids)).toEqual([]);
    await pool.shutdown(0);
  });
});
