// The jobs layer per role, composed as `confine serve --role api` and `confine worker` compose it, here on
// other handles of the memory ports (the Redis ports pass the same conformance suites; tests/distributed
// runs them as real processes): an API node's desk, with no JailHost, answers for runs a worker layer
// executes in real jails with the real command runner; the worker stops claiming at close and leaves
// queued runs for the next worker; a cancel on the API node kills the worker's jail.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/settings.js';
import type { QueuedRun } from '../../src/jobs/executor-types.js';
import { createApiJobs, createWorkerLayer, MemoryCancelBus, MemoryJobQueue, MemoryRunStore, type ApiJobs, type JobPorts } from '../../src/jobs/index.js';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';

let artifactsDir: string;
let config: Config;

beforeAll(async () => {
  artifactsDir = await mkdtemp(join(tmpdir(), 'confine-roles-'));
  config = loadConfig({
    CONFINE_STATE_DIR: TEST_STATE_DIR,
    CONFINE_UID_BASE: String(TEST_UID_BASE),
    ARTIFACTS_DIR: artifactsDir,
    WORKERS: '1',
    SHUTDOWN_GRACE_SECONDS: '1',
    ALLOWED_COMMANDS: 'echo,sleep',
  });
});

afterAll(async () => {
  await rm(artifactsDir, { recursive: true, force: true });
});

/** Ports as two processes see them: the same backing state through different handles. */
function sharedPorts(): { api: JobPorts; worker: JobPorts } {
  const queue = new MemoryJobQueue<QueuedRun>({ capacity: 8, perTenant: 8 });
  const store = new MemoryRunStore();
  const bus = new MemoryCancelBus();
  return { api: { queue, store: store.peer(), bus: bus.peer() }, worker: { queue, store, bus } };
}

const echo = (line: string) => ({ kind: 'command' as const, request: { kind: 'command' as const, command: line } });

describe('jobs layer per role', () => {
  it('apiNode_answersForRunsAWorkerLayerExecutes_andTheWorkerLeavesQueuedRunsAtClose', async () => {
    const ports = sharedPorts();
    const api: ApiJobs = await createApiJobs({ config, ports: ports.api });
    const worker = await createWorkerLayer({ host: await testHost(), config, ports: ports.worker, workerId: 'roles-worker-1' });
    const run = await api.jobs.submit('alice', echo('echo from the worker'));
    const done = await api.jobs.wait('alice', run.id, 30_000);
    expect(done).toMatchObject({ state: 'succeeded', worker: 'roles-worker-1' });
    expect(done?.outcome?.kind === 'command' && done.outcome.result.run?.stdout).toBe('from the worker\n');
    expect(await api.jobs.get('mallory', run.id)).toBeUndefined();
    await worker.close(1_000);
    // The worker is gone: a new run waits in the queue (not cancelled) for the next one.
    const later = await api.jobs.submit('alice', echo('echo later'));
    await new Promise((r) => setTimeout(r, 200));
    expect((await api.jobs.get('alice', later.id))?.state).toBe('queued');
    const next = await createWorkerLayer({ host: await testHost(), config, ports: ports.worker, workerId: 'roles-worker-2' });
    expect(await api.jobs.wait('alice', later.id, 30_000)).toMatchObject({ state: 'succeeded', worker: 'roles-worker-2' });
    await next.close(1_000);
    await api.close();
    await expect(api.jobs.submit('alice', echo('echo closed'))).rejects.toThrow(/shutting down/);
  });

  it('apiNode_cancel_killsTheJailOnTheWorker', async () => {
    const ports = sharedPorts();
    const api = await createApiJobs({ config, ports: ports.api });
    const worker = await createWorkerLayer({ host: await testHost(), config, ports: ports.worker, workerId: 'roles-worker-3' });
    const run = await api.jobs.submit('alice', echo('sleep 30'));
    const deadline = Date.now() + 20_000;
    while ((await api.jobs.get('alice', run.id))?.state !== 'running' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Let the jail itself start (the record turns running just before the executor spawns it).
    await new Promise((r) => setTimeout(r, 300));
    const begun = Date.now();
    const cancelled = await api.jobs.cancel('alice', run.id);
    expect(cancelled?.state).toBe('cancelled');
    expect(Date.now() - begun).toBeLessThan(5_000);
    // The jail's run came back (killed), not a forced finish without it.
    const result = cancelled?.outcome?.kind === 'command' ? cancelled.outcome.result.run : undefined;
    expect(result?.exit_reason).toBe('cancelled');
    // The slot lets go of the run right after writing its final record.
    for (let i = 0; i < 100 && worker.pool.runningIds().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(worker.pool.runningIds()).toEqual([]);
    await worker.close(1_000);
    await api.close();
  });
});
