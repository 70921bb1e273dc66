// openRedisPorts, as an API node and two workers would open it on one real redis-server: a session bound
// to a worker routes its runs to that worker's host queue, which only that worker claims; capacity comes
// from the worker registry; a worker that goes away holding a run has it finished failed naming it, once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueuedRun } from '../../src/jobs/executor-types.js';
import { finishLostRuns } from '../../src/jobs/lost.js';
import { openRedisPorts, type RedisPorts, type RedisPortsOptions } from '../../src/jobs/redis/open-ports.js';
import type { RunRecord } from '../../src/jobs/types.js';
import { startRedis, type TestRedis } from '../support/redis.js';

let redis: TestRedis;
let made = 0;
const opened: RedisPorts[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const ports of opened) await ports.close();
  await redis.stop();
});

function open(prefix: string, workerId: string, extra: Partial<RedisPortsOptions> = {}): RedisPorts {
  const ports = openRedisPorts({
    url: redis.url,
    prefix,
    workerId,
    queueLimits: { capacity: 10, perTenant: 10 },
    recordBounds: { maxFinished: 100, finishedTtlMs: 3_600_000 },
    lockMs: 1_000,
    heartbeatMs: 200,
    ...extra,
  });
  opened.push(ports);
  return ports;
}

const run = (n: number, sessionId?: string): QueuedRun => ({ request: { kind: 'command', request: { command: `echo ${n}` } } as QueuedRun['request'], ...(sessionId ? { sessionId } : {}) });
const record = (id: string): RunRecord => ({ id, tenant: 't', kind: 'command', state: 'queued', created_at: new Date().toISOString() });

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('openRedisPorts', () => {
  it('route_boundSession_goesToItsWorkersHostQueueAndOnlyThatWorkerClaimsIt', async () => {
    const prefix = `ports${++made}`;
    const bindings = new Map([['s-bound', 'worker-b']]);
    const api = open(prefix, 'api-1', { sessionHost: async (_tenant, sessionId) => bindings.get(sessionId) });
    const a = open(prefix, 'worker-a');
    const b = open(prefix, 'worker-b');
    expect((await api.route!('t', undefined)) === api.queue).toBe(true);
    expect((await api.route!('t', 's-new')) === api.queue).toBe(true);
    const hostQueue = await api.route!('t', 's-bound');
    expect(hostQueue === api.hostQueue('worker-b')).toBe(true);
    expect((await hostQueue.enqueue({ id: 'session-run', tenant: 't', payload: run(1, 's-bound') })).accepted).toBe(true);
    expect((await api.queue.enqueue({ id: 'shared-run', tenant: 't', payload: run(2) })).accepted).toBe(true);
    // worker-a claims the shared run only; the session's run waits for worker-b.
    expect((await a.claimQueue.claim())?.id).toBe('shared-run');
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 500);
    expect(await a.claimQueue.claim(stop.signal)).toBeUndefined();
    const claimed = await b.claimQueue.claim();
    expect(claimed?.id).toBe('session-run');
    expect(claimed?.payload).toEqual(run(1, 's-bound'));
    await a.claimQueue.ack('shared-run');
    await b.claimQueue.ack('session-run');
  });

  it('capacity_sumsTheSlotsAndBusyOfWorkersAlive', async () => {
    const prefix = `ports${++made}`;
    const api = open(prefix, 'api-1');
    const a = open(prefix, 'worker-a');
    const b = open(prefix, 'worker-b');
    await a.workers.register({ id: 'worker-a', slots: 2 }, () => 1);
    await b.workers.register({ id: 'worker-b', slots: 3 }, () => 2);
    expect(await api.capacity!()).toMatchObject({ workers: 5, running: 3 });
    await b.workers.unregister();
    expect(await api.capacity!()).toMatchObject({ workers: 2, running: 1 });
  });

  it('workerGoneHoldingARun_anotherWorkerFinishesItFailedNamingIt_once', async () => {
    const prefix = `ports${++made}`;
    const finished: RunRecord[] = [];
    let survivor: RedisPorts | undefined;
    const onLost = (runId: string, workerId: string): void => {
      void finishLostRuns(survivor!.store, workerId, [runId]).then((records) => finished.push(...records));
    };
    const api = open(prefix, 'api-1');
    const dying = open(prefix, 'worker-dying');
    survivor = open(prefix, 'worker-survivor', { onLost });
    await api.store.create(record('held-run'));
    await api.queue.enqueue({ id: 'held-run', tenant: 't', payload: run(3) });
    expect((await dying.claimQueue.claim())?.id).toBe('held-run');
    await dying.store.start('held-run', { started_at: new Date().toISOString(), worker: 'worker-dying' });
    // The survivor has claimed before (its stalled check runs) and now sits busy, claiming nothing.
    await api.queue.enqueue({ id: 'busy-run', tenant: 't', payload: run(4) });
    expect((await survivor.claimQueue.claim())?.id).toBe('busy-run');
    const waiting = api.store.waitFinal('held-run', 30_000);
    await dying.close(); // no ack, no finish: what a killed worker leaves
    const final = await waiting;
    expect(final?.state).toBe('failed');
    expect(final?.error).toMatchObject({ type: 'unknown_error', message: 'worker worker-dying stopped while running this run; it was not retried: submit it again' });
    await until(() => finished.length > 0, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(finished.map((r) => r.id)).toEqual(['held-run']);
    await survivor.claimQueue.ack('busy-run');
  });
});
