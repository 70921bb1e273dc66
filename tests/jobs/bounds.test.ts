// Bytes and slots the job service must never lose or let grow: a worker slot whose executor never
// returns is released (and counted) after the forced finish, and the next run still gets a real jail;
// finished records keep their text within a per-record and a total byte budget.
import { beforeAll, describe, expect, it } from 'vitest';
import type { JailHost } from '../../src/jail/host.js';
import type { ShellProfile } from '../../src/jail/profiles/shell.js';
import type { Executor, QueuedRun } from '../../src/jobs/executor-types.js';
import { MemoryJobQueue } from '../../src/jobs/queue.js';
import { RunRecordStore } from '../../src/jobs/records.js';
import { createJobService } from '../../src/jobs/service.js';
import { cutUtf8, fairShares, trimRecord } from '../../src/jobs/trim.js';
import type { RunRecord } from '../../src/jobs/types.js';
import type { RunResult } from '../../src/jail/spec.js';
import { testHost, testShellProfile } from '../support/jail.js';
import { command, jailExecutor } from './support.js';

let host: JailHost;
let profile: ShellProfile;

beforeAll(async () => {
  host = await testHost();
  profile = await testShellProfile(['echo']);
});

describe('job service slots', () => {
  it('forcedFinish_executorNeverSettles_slotReleasedReportedAndReused', async () => {
    const real = jailExecutor(host, profile);
    // An executor that ignores its abort signal and never returns (a hung domain call).
    const executor: Executor = {
      execute: (request, context) => (request.kind === 'command' && request.request.command === 'hang' ? new Promise(() => undefined) : real.execute(request, context)),
    };
    const internal: unknown[] = [];
    const jobs = createJobService({
      queue: new MemoryJobQueue<QueuedRun>({ capacity: 4, perTenant: 4 }),
      workers: 1,
      executor,
      runTimeoutMs: () => 300,
      killGraceMs: 200,
      abandonGraceMs: 300,
      onInternalError: (error) => internal.push(error),
    });
    const hung = await jobs.submit('t1', command('hang'));
    const next = await jobs.submit('t2', command('echo after'));
    const failed = await jobs.wait('t1', hung.id, 10_000);
    expect(failed?.state).toBe('failed');
    expect(failed?.error?.type).toBe('execution_timeout');
    // The only worker slot comes back: the second tenant's run gets a real jail and succeeds.
    const done = await jobs.wait('t2', next.id, 30_000);
    expect(done?.state).toBe('succeeded');
    expect(done?.outcome?.kind === 'command' && done.outcome.result.run?.stdout).toBe('after\n');
    const stats = await jobs.stats();
    expect(stats.running).toBe(0);
    expect(stats.abandonedSlots).toBe(1);
    expect(internal.map(String).join('\n')).toMatch(/did not return .* worker slot is released/);
    await jobs.shutdown(1_000);
  });
});

function textResult(stdout: string, stderr = ''): RunResult {
  return {
    exit_code: 0, signal: null, exit_reason: 'exited', stdout, stderr, stdout_truncated: false, stderr_truncated: false,
    wall_ms: 1, cpu_ms: 1, peak_memory_bytes: 1,
  };
}

function finishedCommand(id: string, stdout: string, stderr = ''): RunRecord {
  return {
    id, tenant: 't', kind: 'command', state: 'succeeded', created_at: new Date().toISOString(),
    outcome: { kind: 'command', result: { status: 'succeeded', error: null, run: textResult(stdout, stderr) } },
  };
}

describe('run record byte budgets', () => {
  it('trimRecord_largeStdoutSmallStderr_keepsStderrWholeCutsStdoutAndFlagsIt', () => {
    const record = finishedCommand('r1', 'o'.repeat(100_000), 'short error');
    const original = record.outcome;
    const kept = trimRecord(record, 10_000);
    expect(kept).toBeLessThanOrEqual(10_000);
    const run = record.outcome?.kind === 'command' ? record.outcome.result.run : null;
    expect(run?.stderr).toBe('short error');
    expect(run?.stderr_truncated).toBe(false);
    expect(run?.stdout.length).toBe(10_000 - 'short error'.length);
    expect(run?.stdout_truncated).toBe(true);
    expect(record.output_trimmed).toEqual({ kept_bytes: 10_000, dropped_bytes: 100_000 + 11 - 10_000 });
    // The executor's own object is never mutated (a sync waiter may hold it).
    expect(original?.kind === 'command' && original.result.run?.stdout.length).toBe(100_000);
  });

  it('trimRecord_withinBudget_isUntouchedAndUnflagged', () => {
    const record = finishedCommand('r2', 'small');
    expect(trimRecord(record, 1_000)).toBe(5);
    expect(record.output_trimmed).toBeUndefined();
  });

  it('cutUtf8_neverSplitsACharacter', () => {
    expect(cutUtf8('aé€😀', 3)).toBe('aé');
    expect(cutUtf8('aé€😀', 6)).toBe('aé€');
    expect(Buffer.byteLength(cutUtf8('😀'.repeat(100), 101))).toBe(100);
    expect(fairShares([10, 1000, 1000], 110)).toEqual([10, 50, 50]);
  });

  it('recordStore_manyLargeRecords_totalBytesStayWithinBudgetOldestEvicted', () => {
    const store = new RunRecordStore({ maxFinished: 1_000, finishedTtlMs: 3_600_000, maxRecordBytes: 64 * 1024, maxTotalBytes: 1024 * 1024 }, Date.now);
    for (let i = 0; i < 180; i++) {
      store.add(finishedCommand(`run${i}`, 'x'.repeat(2 * 1024 * 1024)));
      store.markFinished(`run${i}`);
      expect(store.bytes).toBeLessThanOrEqual(1024 * 1024);
    }
    // 1 MiB / 64 KiB = 16 records fit; the oldest went first.
    expect(store.size).toBe(16);
    expect(store.get('run0')).toBeUndefined();
    expect(store.get('run179')?.output_trimmed?.kept_bytes).toBe(64 * 1024);
  });
});
