// The run desk and the worker pool on the Redis ports (openRedisPorts on a real redis-server), as an API
// node and a worker open them (their own connections): the desk answers, waits for and cancels runs the
// pool executes in real jails, and a session's run follows its binding to that worker's host queue.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JailHost } from '../../src/jail/host.js';
import type { ShellProfile } from '../../src/jail/profiles/shell.js';
import { openRedisPorts, type RedisPorts, type RedisPortsOptions } from '../../src/jobs/redis/open-ports.js';
import { createRunDesk } from '../../src/jobs/run-desk.js';
import { createWorkerPool } from '../../src/jobs/worker-pool.js';
import { testHost, testShellProfile } from '../support/jail.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { cgroupPids, command, jailExecutor, livePids, processesOfUid } from './support.js';

let redis: TestRedis;
let host: JailHost;
let profile: ShellProfile;
let made = 0;
const opened: RedisPorts[] = [];

beforeAll(async () => {
  redis = await startRedis();
  host = await testHost();
  profile = await testShellProfile(['sleep', 'echo']);
});

afterAll(async () => {
  for (const ports of opened.reverse()) await ports.close();
  await redis?.stop();
});

function open(prefix: string, workerId: string, extra: Partial<RedisPortsOptions> = {}): RedisPorts {
  const ports = openRedisPorts({
    url: redis.url,
    prefix,
    workerId,
    queueLimits: { capacity: 10, perTenant: 10 },
    recordBounds: { maxFinished: 100, finishedTtlMs: 3_600_000 },
    lockMs: 5_000,
    heartbeatMs: 1_000,
    ...extra,
  });
  opened.push(ports);
  return ports;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe('run desk and worker pool on Redis', () => {
  it('apiNodeDesk_waitsForAndCancelsRunsAWorkerRunsInRealJails', async () => {
    const prefix = `deskpool${++made}`;
    const api = open(prefix, 'api-1');
    const worker = open(prefix, 'worker-r1');
    const executor = jailExecutor(host, profile);
    const pool = createWorkerPool({ workerId: 'worker-r1', queue: worker.claimQueue, store: worker.store, bus: worker.bus, executor, slots: 2, runTimeoutMs: () => 60_000, killGraceMs: 3_000 });
    await pool.ready;
    const desk = createRunDesk({ queue: api.queue, store: api.store, bus: api.bus, cancelWaitMs: 4_000 });

    const quick = await desk.submit('t1', command('echo over redis'));
    const done = await desk.wait('t1', quick.id, 30_000);
    expect(done).toMatchObject({ state: 'succeeded', worker: 'worker-r1' });
    expect(done?.outcome?.kind === 'command' && done.outcome.result.run?.stdout).toBe('over redis\n');

    const slow = await desk.submit('t1', command('sleep 30'));
    const [, jail] = await executor.whenStarted(2);
    await until(() => processesOfUid(jail!.hostUid).length > 0);
    const pids = processesOfUid(jail!.hostUid);
    expect(pids.length).toBeGreaterThan(0);
    const begun = Date.now();
    const cancelled = await desk.cancel('t1', slow.id);
    expect(cancelled?.state).toBe('cancelled');
    expect(cancelled?.outcome?.kind === 'command' && cancelled.outcome.result.run?.exit_reason).toBe('cancelled');
    // Over pub/sub to the worker and back, killed by the abort: well under the 3 s forced finish.
    expect(Date.now() - begun).toBeLessThan(2_500);
    await until(() => livePids(pids).length === 0 && cgroupPids(jail!.cgroupProcsFiles).length === 0);
    expect(livePids(pids)).toEqual([]);
    expect(await desk.get('mallory', slow.id)).toBeUndefined();
    expect((await desk.recentFor('t1', 10)).map((r) => r.id)).toEqual([slow.id, quick.id]);
    await pool.shutdown(1_000);
  });

  it('sessionRun_boundToAWorker_goesToItsHostQueue_notToAnotherWorker', async () => {
    const prefix = `deskpool${++made}`;
    const api = open(prefix, 'api-2', { sessionHost: async (_tenant, sessionId) => (sessionId === 's-b' ? 'worker-b' : undefined) });
    const a = open(prefix, 'worker-a');
    const b = open(prefix, 'worker-b');
    const executor = jailExecutor(host, profile);
    const poolA = createWorkerPool({ workerId: 'worker-a', queue: a.claimQueue, store: a.store, bus: a.bus, executor, slots: 1, runTimeoutMs: () => 60_000 });
    const desk = createRunDesk({ queue: api.queue, store: api.store, bus: api.bus, route: api.route! });
    const run = await desk.submit('t1', command('echo mine'), { sessionId: 's-b' });
    // worker-a claims from its own host queue and the shared one only: the run waits for worker-b.
    await new Promise((r) => setTimeout(r, 500));
    expect((await desk.get('t1', run.id))?.state).toBe('queued');
    const poolB = createWorkerPool({ workerId: 'worker-b', queue: b.claimQueue, store: b.store, bus: b.bus, executor, slots: 1, runTimeoutMs: () => 60_000 });
    const done = await desk.wait('t1', run.id, 30_000);
    expect(done).toMatchObject({ state: 'succeeded', worker: 'worker-b', session_id: 's-b' });
    expect(executor.calls).toBe(1);
    await Promise.all([poolA.shutdown(0), poolB.shutdown(0)]);
  });
});
