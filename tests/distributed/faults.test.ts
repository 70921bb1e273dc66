// Faults of a real many-host confine (issue 12), each made the way it happens: processes killed with
// SIGKILL, Redis shut down and started again with its AOF. Delivery is at-most-once: a run whose worker
// died is failed naming that worker, never run twice; an accepted run survives a Redis restart; an API
// node's death loses nothing a client can poll.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, until, type Reply } from '../api/support.js';
import { cgroupsOf, DIST_KEY_A, killAllNodes, mountsOf, processesOfUids, startCluster, workspacesOf, type Cluster, type WorkerNode } from './cluster.js';
import { describeProcesses } from './leftovers.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ slot: 1 });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  killAllNodes();
}, 60_000);

const SPIN = { script: 'while :; do :; done\n', timeout_seconds: 120 };
const finalStates = ['succeeded', 'failed', 'cancelled'];

async function runningOn(base: string, id: string): Promise<Reply> {
  return until(async () => {
    const r = await call(base, 'GET', `/api/v1/runs/${id}`, { key: DIST_KEY_A });
    return String(r.body['state']) === 'running' && typeof r.body['worker'] === 'string' ? r : undefined;
  }, 60_000);
}

async function finalOn(base: string, id: string, timeoutMs = 60_000): Promise<Reply> {
  return until(async () => {
    const r = await call(base, 'GET', `/api/v1/runs/${id}`, { key: DIST_KEY_A });
    return finalStates.includes(String(r.body['state'])) ? r : undefined;
  }, timeoutMs);
}

function workerNamed(id: string): { index: number; node: WorkerNode } {
  const index = cluster.workers.findIndex((w) => w.id === id);
  if (index < 0) throw new Error(`no worker ${id} in ${cluster.workers.map((w) => w.id).join(', ')}`);
  return { index, node: cluster.workers[index]! };
}

describe('faults', () => {
  it('cancel_on_one_node_kills_a_run_executing_on_another_process', async () => {
    const [a, b] = [cluster.api[0]!.base, cluster.api[1]!.base];
    const submitted = await call(a, 'POST', '/api/v1/runs/scripts', { key: DIST_KEY_A, json: SPIN });
    expect(submitted.status, submitted.text).toBe(202);
    const id = String(submitted.body['id']);
    const running = await runningOn(b, id);
    const { node } = workerNamed(String(running.body['worker']));
    await until(async () => ((await processesOfUids(node.uidBase, node.uidCount)).length > 0 ? true : undefined), 10_000);
    const t0 = Date.now();
    const cancelled = await call(b, 'POST', `/api/v1/runs/${id}/cancel`, { key: DIST_KEY_A });
    expect(cancelled.status, cancelled.text).toBe(200);
    const done = finalStates.includes(String(cancelled.body['state'])) ? cancelled : await finalOn(a, id, 10_000);
    expect(done.body['state']).toBe('cancelled');
    expect(done.body['result']?.['run']?.['exit_reason'] ?? 'cancelled').toBe('cancelled');
    // The jail died at once (generous bound for a loaded machine), not at its 120 s timeout.
    await until(async () => ((await processesOfUids(node.uidBase, node.uidCount)).length === 0 ? true : undefined), 10_000);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('killed_api_node_loses_no_run_the_other_node_answers_them', async () => {
    const [a, b] = [cluster.api[0]!.base, cluster.api[1]!.base];
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await call(a, 'POST', '/api/v1/runs/scripts', { key: DIST_KEY_A, json: { script: `i=0; while [ $i -lt 8000 ]; do i=$((i+1)); done; echo run-${i}\n` } });
      expect(r.status, r.text).toBe(202);
      ids.push(String(r.body['id']));
    }
    await cluster.killApi(0);
    for (const [i, id] of ids.entries()) {
      const done = await finalOn(b, id);
      expect(done.body['state'], done.text).toBe('succeeded');
      expect(done.body['result']['run']['stdout']).toBe(`run-${i}\n`);
    }
    const again = await cluster.restartApi(0);
    expect((await call(again.base, 'GET', `/api/v1/runs/${ids[0]!}`, { key: DIST_KEY_A })).body['state']).toBe('succeeded');
  });

  it('redis_restart_under_load_loses_no_accepted_run', async () => {
    const [a, b] = [cluster.api[0]!.base, cluster.api[1]!.base];
    const accepted: { id: string; n: number }[] = [];
    const statuses: number[] = [];
    let n = 0;
    let stop = false;
    // Two clients keep submitting through the restart; what was answered 202 must finish.
    const client = async (base: string): Promise<void> => {
      while (!stop) {
        const mine = n++;
        // Bounded: a request that hangs while Redis is away is a failure to see, not a test that never ends.
        const r = await fetch(`${base}/api/v1/runs/scripts`, {
          method: 'POST',
          headers: { 'x-api-key': DIST_KEY_A, 'content-type': 'application/json' },
          body: JSON.stringify({ script: `echo accepted-${mine}\n` }),
          signal: AbortSignal.timeout(20_000),
        }).then(async (response) => ({ status: response.status, body: (await response.json().catch(() => ({}))) as Record<string, unknown> }), (error: unknown) => ({ status: error instanceof Error && error.name === 'TimeoutError' ? -1 : 0, body: {} as Record<string, unknown> }));
        statuses.push(r.status); // -1: no answer within 20 s; 0: connection refused or reset
        if (r.status === 202) accepted.push({ id: String(r.body['id']), n: mine });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const clients = [client(a), client(b)];
    await until(async () => (accepted.length >= 10 ? true : undefined), 30_000);
    await cluster.redis.restart(); // SHUTDOWN (AOF fsynced on every write) then the same port and dir
    const restartedAt = accepted.length;
    await until(async () => (accepted.length >= restartedAt + 10 ? true : undefined), 60_000);
    stop = true;
    await Promise.all(clients);
    // While Redis was away the API answered with the closed set (503 + Retry-After), never a 500.
    const errorLines = (): string => cluster.logs().split('\n').filter((l) => l.includes('"level":50')).join('\n');
    expect(statuses.filter((s) => s !== 202 && s !== 503 && s !== 429), `${JSON.stringify(statuses)}\n${errorLines()}`).toEqual([]);
    for (const { id, n: mine } of accepted) {
      const done = await finalOn(b, id, 30_000).catch((error: unknown) => {
        throw new Error(`accepted run ${id} did not finish:\n${cluster.logs()}`, { cause: error });
      });
      expect(done.body['state'], `${id}: ${done.text}`).toBe('succeeded');
      expect(done.body['result']['run']['stdout']).toBe(`accepted-${mine}\n`);
    }
  }, 150_000);

  it('redis_down_answers_503_at_once_and_service_resumes_when_it_returns', async () => {
    const base = cluster.api[0]!.base;
    await cluster.redis.kill(); // SIGKILL: a crashed Redis host, not a clean shutdown
    try {
      const t0 = Date.now();
      const ready = await call(base, 'GET', '/ready');
      expect(ready.status).toBe(503);
      expect(ready.body['redis']).toBe('down');
      const submit = await call(base, 'POST', '/api/v1/runs/commands', { key: DIST_KEY_A, json: { command: 'echo down' } });
      expect(submit.status, submit.text).toBe(503);
      expect(submit.body['error']['code']).toBe('shared_state_unavailable');
      expect(Number(submit.headers.get('retry-after'))).toBeGreaterThan(0);
      // Answered, not hung on a connection that waits for Redis (generous bound).
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      await cluster.redis.start();
    }
    await cluster.ready(base, 30_000);
    const after = await call(base, 'POST', '/api/v1/runs/commands?wait=true', { key: DIST_KEY_A, json: { command: 'echo back' } });
    expect(after.body['state'], after.text).toBe('succeeded');
  });

  it('killed_worker_mid_run_fails_it_naming_the_worker_and_leaves_no_jail_after_restart', async () => {
    const [a, b] = [cluster.api[0]!.base, cluster.api[1]!.base];
    const submitted = await call(a, 'POST', '/api/v1/runs/scripts', { key: DIST_KEY_A, json: SPIN });
    const id = String(submitted.body['id']);
    const running = await runningOn(b, id);
    const { index, node } = workerNamed(String(running.body['worker']));
    const cgroupLines = await readFile(`/proc/${node.pid}/cgroup`, 'utf8');
    await until(async () => ((await processesOfUids(node.uidBase, node.uidCount)).length > 0 ? true : undefined), 10_000);
    expect((await workspacesOf(node.stateDir, node.pid)).length).toBeGreaterThan(0);
    await cluster.killWorker(index);
    // Found by the lock it no longer renews (RUN_LOCK_SECONDS=4 in the harness): failed, not retried.
    const done = await finalOn(b, id, 60_000);
    expect(done.body['state'], done.text).toBe('failed');
    expect(done.body['error']['type']).toBe('unknown_error');
    expect(String(done.body['error']['message'])).toContain(node.id);
    expect(String(done.body['error']['message'])).toMatch(/not retried/);
    // It stays failed: nothing runs it again (at-most-once).
    const again = await call(a, 'GET', `/api/v1/runs/${id}`, { key: DIST_KEY_A });
    expect(again.body['state']).toBe('failed');
    // The restarted worker sweeps what its killed predecessor left.
    const restarted = await cluster.restartWorker(index);
    expect(restarted.id).toBe(node.id);
    expect(await workspacesOf(node.stateDir, node.pid)).toEqual([]);
    expect(await mountsOf(node.stateDir, node.pid)).toEqual([]);
    expect(await cgroupsOf(cgroupLines, node.pid)).toEqual([]);
    const left = await processesOfUids(node.uidBase, node.uidCount);
    expect(left, `${await describeProcesses(left)}\nrestarted worker pid ${restarted.pid}`).toEqual([]);
    // And the cluster serves again.
    const after = await call(b, 'POST', '/api/v1/runs/commands?wait=true', { key: DIST_KEY_A, json: { command: 'echo alive' } });
    expect(after.body['state'], after.text).toBe('succeeded');
  });

  it('session_whose_worker_is_gone_answers_session_host_gone_not_a_hang', async () => {
    const [a, b] = [cluster.api[0]!.base, cluster.api[1]!.base];
    const opened = await call(a, 'POST', '/api/v1/sessions', { key: DIST_KEY_A, json: {} });
    expect(opened.status, opened.text).toBeLessThan(300);
    const session = String(opened.body['id']);
    const first = await call(a, 'POST', '/api/v1/runs/scripts?wait=true', { key: DIST_KEY_A, json: { script: 'echo x > kept\n', session_id: session } });
    expect(first.body['state'], first.text).toBe('succeeded');
    const { index } = workerNamed(String(first.body['worker']));
    await cluster.killWorker(index);
    // Once its heartbeat has lapsed (3 beats of WORKER_HEARTBEAT_SECONDS=0.5 in the harness, plus slack), a
    // submit in the session is answered at once with the closed error instead of queueing for nobody.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const t0 = Date.now();
    const r = await call(b, 'POST', '/api/v1/runs/commands', { key: DIST_KEY_A, json: { command: 'cat kept', session_id: session } });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect([409, 410], r.text).toContain(r.status);
    expect(r.body['error']['code']).toBe('session_host_gone');
    expect(String(r.body['error']['message'])).toMatch(/open a new session/);
    // The session is gone with its workspace: its name can be opened afresh.
    expect((await call(a, 'DELETE', `/api/v1/sessions/${session}`, { key: DIST_KEY_A })).status).toBe(404);
    await cluster.restartWorker(index);
  });

  it('run_queued_for_a_session_whose_worker_just_died_is_finished_not_left_queued', async () => {
    const [a, b] = [cluster.api[0]!.base, cluster.api[1]!.base];
    const opened = await call(a, 'POST', '/api/v1/sessions', { key: DIST_KEY_A, json: {} });
    const session = String(opened.body['id']);
    const first = await call(a, 'POST', '/api/v1/runs/scripts?wait=true', { key: DIST_KEY_A, json: { script: 'echo x > kept\n', session_id: session } });
    expect(first.body['state'], first.text).toBe('succeeded');
    const { index, node } = workerNamed(String(first.body['worker']));
    await cluster.killWorker(index);
    // Before its heartbeat lapses the API nodes still count it alive: the run is accepted into the queue
    // of a worker that will never claim it. Nothing accepted may stay queued forever.
    const r = await call(b, 'POST', '/api/v1/runs/commands', { key: DIST_KEY_A, json: { command: 'cat kept', session_id: session } });
    if (r.status === 202) {
      const done = await finalOn(a, String(r.body['id']), 30_000).catch((error: unknown) => {
        throw new Error(`run ${String(r.body['id'])} accepted for a session of the dead worker ${node.id} never left 'queued'`, { cause: error });
      });
      expect(done.body['state'], done.text).toBe('failed');
      expect(JSON.stringify(done.body['error'])).toContain(node.id);
    } else {
      expect(r.body['error']['code'], r.text).toBe('session_host_gone');
    }
    await cluster.restartWorker(index);
  });

  it('ready_answers_503_without_a_live_worker_and_200_when_one_returns', async () => {
    const base = cluster.api[1]!.base;
    await cluster.ready(base);
    await cluster.killWorker(0);
    await cluster.killWorker(1);
    await until(async () => ((await call(base, 'GET', '/ready')).status === 503 ? true : undefined), 15_000);
    await cluster.restartWorker(0);
    await cluster.ready(base, 15_000);
    await cluster.restartWorker(1);
  });
});
