// The job service against real jails: cancel/timeout/shutdown must kill the jail (cgroup and processes
// gone), bursts must only ever meet QueueFullError, and tenants must not see each other's runs.
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JailHost } from '../../src/jail/host.js';
import type { ShellProfile } from '../../src/jail/profiles/shell.js';
import type { Executor, QueuedRun } from '../../src/jobs/executor-types.js';
import { MemoryJobQueue } from '../../src/jobs/queue.js';
import { createJobService, newRunId, type JobServiceOptions } from '../../src/jobs/service.js';
import { QueueFullError, ShuttingDownError, type RunRecord } from '../../src/jobs/types.js';
import { testHost, testShellProfile } from '../support/jail.js';
import { cgroupPids, command, jailExecutor, livePids, processesOfUid, type StartedJail } from './support.js';

let host: JailHost;
let profile: ShellProfile;

beforeAll(async () => {
  host = await testHost();
  profile = await testShellProfile(['sleep', 'echo']);
});

function service(overrides: Partial<JobServiceOptions> & { executor: Executor }, capacity = 8, perTenant = 8) {
  return createJobService({
    queue: new MemoryJobQueue<QueuedRun>({ capacity, perTenant }),
    workers: 2,
    runTimeoutMs: () => 60_000,
    killGraceMs: 3_000,
    ...overrides,
  });
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/** Waits until the jail's processes exist, and returns their host pids. */
async function jailPids(jail: StartedJail): Promise<number[]> {
  // onStart fires right after spawn; the launcher enters the cgroup a moment later.
  await until(() => cgroupPids(jail.cgroupProcsFiles).length > 0 && processesOfUid(jail.hostUid).length > 0);
  const pids = processesOfUid(jail.hostUid);
  expect(cgroupPids(jail.cgroupProcsFiles).length).toBeGreaterThan(0);
  expect(pids.length).toBeGreaterThan(0);
  return pids;
}

async function expectJailGone(jail: StartedJail, pids: readonly number[]): Promise<void> {
  // The uid is released with the workspace and may be leased again by another run, so the check is on
  // the pids the jail had, and on its cgroup (killed and removed in runJail's finally).
  await until(() => cgroupPids(jail.cgroupProcsFiles).length === 0 && livePids(pids).length === 0);
  expect(cgroupPids(jail.cgroupProcsFiles)).toEqual([]);
  expect(livePids(pids)).toEqual([]);
  expect(jail.cgroupProcsFiles.every((file) => !existsSync(file))).toBe(true);
}

describe('job service', () => {
  it('submit_realJail_succeedsWithOutcomeAndUnguessableId', async () => {
    const jobs = service({ executor: jailExecutor(host, profile) });
    const submitted = await jobs.submit('t1', command('echo hello'));
    expect(submitted.id).toMatch(/^[0-9a-f]{32}$/);
    expect(['queued', 'running']).toContain(submitted.state);
    const done = await jobs.wait('t1', submitted.id, 30_000);
    expect(done?.state).toBe('succeeded');
    expect(done?.outcome?.kind).toBe('command');
    expect(done?.outcome?.kind === 'command' && done.outcome.result.run?.stdout).toBe('hello\n');
    expect(done?.started_at).toBeDefined();
    expect(done?.finished_at).toBeDefined();
    const ids = Array.from({ length: 10_000 }, () => newRunId());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^[0-9a-f]{32}$/.test(id))).toBe(true); // 16 random bytes = 128 bits
    await jobs.shutdown(0);
  });

  it('cancel_runningJail_killsItsProcessesAndCgroupAtOnce', async () => {
    const executor = jailExecutor(host, profile);
    const jobs = service({ executor });
    const run = await jobs.submit('t1', command('sleep 30'));
    const [jail] = await executor.whenStarted(1);
    const pids = await jailPids(jail!);
    const begun = Date.now();
    const cancelled = await jobs.cancel('t1', run.id);
    expect(cancelled?.state).toBe('cancelled');
    expect(Date.now() - begun).toBeLessThan(5_000); // generous bound: sleep 30 did not finish
    expect(cancelled?.outcome?.kind === 'command' && cancelled.outcome.result.run?.exit_reason).toBe('cancelled');
    await expectJailGone(jail!, pids);
    await jobs.shutdown(0);
  });

  it('cancel_queuedRun_neverStartsAJail', async () => {
    const executor = jailExecutor(host, profile);
    const jobs = service({ executor, workers: 1 });
    const first = await jobs.submit('t1', command('sleep 30'));
    await executor.whenStarted(1);
    const second = await jobs.submit('t1', command('sleep 30'));
    expect((await jobs.get('t1', second.id))?.state).toBe('queued');
    const cancelled = await jobs.cancel('t1', second.id);
    expect(cancelled?.state).toBe('cancelled');
    expect(cancelled?.started_at).toBeUndefined();
    expect((await jobs.stats()).queued).toBe(0);
    await jobs.cancel('t1', first.id);
    await jobs.shutdown(1_000);
    expect(executor.calls).toBe(1);
  });

  it('timeout_runningJail_failsWithExecutionTimeoutAndKillsIt', async () => {
    const executor = jailExecutor(host, profile);
    const jobs = service({ executor, runTimeoutMs: () => 2_000 });
    const run = await jobs.submit('t1', command('sleep 30'));
    const [jail] = await executor.whenStarted(1);
    const pids = await jailPids(jail!);
    const done = await jobs.wait('t1', run.id, 20_000);
    expect(done?.state).toBe('failed');
    expect(done?.error?.type).toBe('execution_timeout');
    await expectJailGone(jail!, pids);
    await jobs.shutdown(0);
  });

  it('burst_beyondCapacity_onlyQueueFullErrorAndBoundedRecords', async () => {
    const executor = jailExecutor(host, profile);
    const jobs = service({ executor, records: { maxFinished: 5, finishedTtlMs: 60_000 } }, 8, 8);
    const outcomes = await Promise.allSettled(Array.from({ length: 1000 }, (_, i) => jobs.submit(`t${i % 3}`, command('sleep 0.2'))));
    const accepted = outcomes.filter((o): o is PromiseFulfilledResult<RunRecord> => o.status === 'fulfilled');
    const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    // Two go straight to the idle workers, eight wait: nothing else is held.
    expect(accepted.length).toBeLessThanOrEqual(10);
    expect(accepted.length).toBeGreaterThanOrEqual(8);
    expect(rejected.every((r) => r.reason instanceof QueueFullError && r.reason.scope === 'service')).toBe(true);
    expect(rejected.every((r) => (r.reason as QueueFullError).retryAfterSeconds >= 1)).toBe(true);
    expect((await jobs.stats()).queued).toBeLessThanOrEqual(8);
    expect((await jobs.stats()).records).toBeLessThanOrEqual(10);
    await Promise.all(accepted.map((a) => jobs.wait(a.value.tenant, a.value.id, 30_000)));
    // Finished records are bounded by maxFinished: the oldest are evicted.
    expect((await jobs.stats()).records).toBeLessThanOrEqual(5);
    expect((await jobs.stats()).finished.succeeded).toBe(accepted.length);
    expect(await jobs.get(accepted[0]!.value.tenant, accepted[0]!.value.id)).toBeUndefined();
    await jobs.shutdown(0);
  });

  it('burst_oneTenant_getsTenantScopedQueueFullWhileOthersStillFit', async () => {
    const executor = jailExecutor(host, profile);
    const jobs = service({ executor, workers: 1 }, 8, 3);
    const greedy = await Promise.allSettled(Array.from({ length: 20 }, () => jobs.submit('greedy', command('sleep 0.2'))));
    const rejected = greedy.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(greedy.length - rejected.length).toBeLessThanOrEqual(4); // 1 handed to the idle worker + 3 queued
    expect(rejected.every((r) => r.reason instanceof QueueFullError && r.reason.scope === 'tenant')).toBe(true);
    const polite = await jobs.submit('polite', command('echo hi'));
    expect((await jobs.wait('polite', polite.id, 30_000))?.state).toBe('succeeded');
    await jobs.shutdown(10_000);
  });

  it('records_pastTtl_areEvicted', async () => {
    let clock = Date.now();
    const jobs = service({ executor: jailExecutor(host, profile), now: () => clock, records: { maxFinished: 100, finishedTtlMs: 1_000 } });
    const run = await jobs.submit('t1', command('echo x'));
    expect((await jobs.wait('t1', run.id, 30_000))?.state).toBe('succeeded');
    clock += 1_500;
    expect(await jobs.get('t1', run.id)).toBeUndefined();
    expect(await jobs.recent(10)).toEqual([]);
    await jobs.shutdown(0);
  });

  it('tenantIsolation_otherTenantsIds_behaveAsUnknown', async () => {
    const executor = jailExecutor(host, profile);
    const jobs = service({ executor });
    const run = await jobs.submit('alice', command('sleep 30'));
    await executor.whenStarted(1);
    expect(await jobs.get('mallory', run.id)).toBeUndefined();
    expect(await jobs.cancel('mallory', run.id)).toBeUndefined();
    expect(await jobs.wait('mallory', run.id, 10)).toBeUndefined();
    expect(await jobs.recentFor('mallory', 10)).toEqual([]);
    expect((await jobs.get('alice', run.id))?.state).toBe('running');
    expect((await jobs.recentFor('alice', 10)).map((r) => r.id)).toEqual([run.id]);
    expect(await jobs.get('alice', 'f'.repeat(32))).toBeUndefined();
    await jobs.cancel('alice', run.id);
    await jobs.shutdown(0);
  });

  it('shutdown_withinGrace_drainsQueuedRunsAndRefusesNewOnes', async () => {
    const jobs = service({ executor: jailExecutor(host, profile), workers: 1 });
    const runs = await Promise.all([1, 2, 3].map(() => jobs.submit('t1', command('sleep 0.1'))));
    const stopping = jobs.shutdown(30_000);
    await expect(jobs.submit('t1', command('echo late'))).rejects.toBeInstanceOf(ShuttingDownError);
    await stopping;
    expect((await Promise.all(runs.map((r) => jobs.get('t1', r.id)))).map((r) => r?.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });

  it('shutdown_afterGrace_cancelsLeftoversAndKillsRunningJails', async () => {
    const executor = jailExecutor(host, profile);
    const jobs = service({ executor, workers: 1 });
    const runs = await Promise.all([1, 2, 3].map(() => jobs.submit('t1', command('sleep 30'))));
    const [jail] = await executor.whenStarted(1);
    const pids = await jailPids(jail!);
    const finished: RunRecord[] = [];
    jobs.onRunFinished((record) => finished.push(record));
    await jobs.shutdown(300);
    const states = await Promise.all(runs.map((r) => jobs.get('t1', r.id)));
    expect(states.map((r) => r?.state)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(states.map((r) => r?.error?.detail)).toEqual(['shutdown', 'shutdown', 'shutdown']);
    expect(finished).toHaveLength(3);
    expect(executor.calls).toBe(1);
    await expectJailGone(jail!, pids);
  });

  it('forcedFinish_executorIgnoringAbort_finishesRecordButKeepsTheSlotBusy', async () => {
    // An executor that does not pass the signal on: the jail (sleep 3) runs to its end regardless.
    const inner = jailExecutor(host, profile);
    const stubborn: Executor = { execute: (request, context) => inner.execute(request, { ...context, signal: new AbortController().signal }) };
    // Within the abandon grace the slot waits for the executor (tests/jobs/bounds.test.ts covers the
    // executor that never returns, whose slot is released after it).
    const jobs = service({ executor: stubborn, workers: 1, runTimeoutMs: () => 300, killGraceMs: 300, abandonGraceMs: 20_000 });
    const run = await jobs.submit('t1', command('sleep 3'));
    const done = await jobs.wait('t1', run.id, 10_000);
    expect(done?.state).toBe('failed');
    expect(done?.error?.type).toBe('execution_timeout');
    expect(done?.outcome).toBeUndefined(); // finished without the executor
    // The pool stays bounded: the slot is busy until the jail is really gone.
    expect((await jobs.stats()).running).toBe(1);
    await until(async () => (await jobs.stats()).running === 0, 10_000);
    expect((await jobs.stats()).running).toBe(0);
    expect((await jobs.get('t1', run.id))?.state).toBe('failed'); // the late return does not rewrite the record
    expect((await jobs.stats()).abandonedSlots).toBe(0);
    await jobs.shutdown(0);
  });

  it('executorFailure_recordsUnknownErrorAndReportsIt', async () => {
    const reported: unknown[] = [];
    const jobs = service({
      executor: { execute: async () => { throw new Error('boom'); } },
      onInternalError: (error) => reported.push(error),
    });
    const run = await jobs.submit('t1', command('echo x'));
    const done = await jobs.wait('t1', run.id, 5_000);
    expect(done?.state).toBe('failed');
    expect(done?.error).toEqual({ type: 'unknown_error', message: 'internal error while executing the run' });
    expect(reported).toHaveLength(1);
    await jobs.shutdown(0);
  });

  it('events_startedAndFinished_firedOncePerRun', async () => {
    const jobs = service({ executor: jailExecutor(host, profile) });
    const started: string[] = [];
    const finished: RunRecord[] = [];
    jobs.onRunStarted((r) => started.push(r.id));
    const off = jobs.onRunFinished((r) => finished.push(r));
    const runs = await Promise.all([1, 2, 3].map(() => jobs.submit('t1', command('echo x'))));
    await Promise.all(runs.map((r) => jobs.wait('t1', r.id, 30_000)));
    expect(started.sort()).toEqual(runs.map((r) => r.id).sort());
    expect(finished.map((r) => r.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    off();
    const more = await jobs.submit('t1', command('echo x'));
    await jobs.wait('t1', more.id, 30_000);
    expect(finished).toHaveLength(3);
    await jobs.shutdown(0);
  });
});
