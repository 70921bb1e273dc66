// Node lifecycles of many hosts (issue 12), real processes: a worker stopped with SIGTERM drains the run it
// holds, unregisters and exits 0; `confine serve --role all` is an API node and a worker in one process,
// joining the same cluster as the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, until } from '../api/support.js';
import { DIST_KEY_A, DIST_KEY_B, killAllNodes, startCluster, stopNode, type Cluster } from './cluster.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ slot: 4, apis: 1, workers: 1 });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  killAllNodes();
}, 60_000);

describe('node lifecycle', () => {
  it('worker_sigterm_drains_its_running_run_then_exits_0_and_unregisters', async () => {
    const base = cluster.api[0]!.base;
    const worker = cluster.workers[0]!;
    // About two seconds of work: SIGTERM arrives while it runs (SHUTDOWN_GRACE_SECONDS=5 in the harness).
    const submitted = await call(base, 'POST', '/api/v1/runs/scripts', { key: DIST_KEY_A, json: { script: 'i=0; while [ $i -lt 80000 ]; do i=$((i+1)); done; echo drained\n' } });
    const id = String(submitted.body['id']);
    await until(async () => (String((await call(base, 'GET', `/api/v1/runs/${id}`, { key: DIST_KEY_A })).body['state']) === 'running' ? true : undefined), 30_000);
    worker.signal('SIGTERM');
    expect(await worker.exited, worker.output()).toBe(0);
    const done = await call(base, 'GET', `/api/v1/runs/${id}`, { key: DIST_KEY_A });
    expect(done.body['state'], done.text).toBe('succeeded');
    expect(done.body['result']['run']['stdout']).toBe('drained\n');
    // Unregistered at once (not after its heartbeat lapses): no worker is alive now.
    const ready = await call(base, 'GET', '/ready');
    expect(ready.status).toBe(503);
    expect((await call(base, 'GET', '/metrics')).text).toMatch(/confine_workers_alive 0\b/);
  });

  it('api_node_sigterm_with_a_wait_in_flight_exits_after_the_grace_and_the_run_lives_on', async () => {
    const base = cluster.api[0]!.base;
    await cluster.restartWorker(0); // the drain test above stopped it
    await cluster.ready(base);
    // A client waiting synchronously (?wait=true) through the node about to stop, on a run of ~9 s of CPU
    // (longer than the harness's SHUTDOWN_GRACE_SECONDS=5); tenant bravo's only run, so /status names it.
    const waiting = call(base, 'POST', '/api/v1/runs/scripts?wait=true', { key: DIST_KEY_B, json: { script: 'i=0; while [ $i -lt 12000000 ]; do i=$((i+1)); done; echo lived\n', timeout_seconds: 120 } })
      .then((r) => r.status, () => 'connection closed');
    const id = await until(async () => {
      const recent = (await call(base, 'GET', '/status', { key: DIST_KEY_B })).body['recent_executions'] as unknown as { run_id: string; state: string }[] | undefined;
      return recent?.find((r) => r.state === 'running')?.run_id;
    }, 30_000);
    const t0 = Date.now();
    cluster.api[0]!.signal('SIGTERM');
    expect(await cluster.api[0]!.exited).toBe(0);
    // The node did not wait for the run to end (generous bound over the 5 s grace).
    expect(Date.now() - t0).toBeLessThan(15_000);
    // The waiting connection was closed at the end of the grace, not answered: the run was still going.
    expect(await waiting).toBe('connection closed');
    // The run lives on in its worker and is answered by the restarted node.
    const again = await cluster.restartApi(0);
    const done = await until(async () => {
      const r = await call(again.base, 'GET', `/api/v1/runs/${id}`, { key: DIST_KEY_B });
      return ['succeeded', 'failed', 'cancelled'].includes(String(r.body['state'])) ? r : undefined;
    }, 60_000);
    expect(done.body['state'], done.text).toBe('succeeded');
    expect(done.body['result']['run']['stdout']).toBe('lived\n');
  });

  it('all_role_serves_http_and_runs_the_clusters_jails', async () => {
    const api = cluster.api[0]!.base;
    await stopNode(cluster.workers[0]!); // the all node must be the only worker
    const all = await cluster.startAll(1);
    try {
      await cluster.ready(all.base);
      await cluster.ready(api);
      // The only worker is the all node's: a run submitted to the plain API node runs there ...
      const viaApi = await call(api, 'POST', '/api/v1/runs/commands?wait=true', { key: DIST_KEY_A, json: { command: 'echo via api' } });
      expect(viaApi.body['state'], viaApi.text + all.output()).toBe('succeeded');
      expect(viaApi.body['worker']).toBe(all.id);
      // ... and one submitted to the all node itself, with its record readable on the other node.
      const viaAll = await call(all.base, 'POST', '/api/v1/runs/commands?wait=true', { key: DIST_KEY_A, json: { command: 'echo via all' } });
      expect(viaAll.body['result']['run']['stdout']).toBe('via all\n');
      expect((await call(api, 'GET', `/api/v1/runs/${String(viaAll.body['id'])}`, { key: DIST_KEY_A })).body['state']).toBe('succeeded');
      expect((await call(all.base, 'GET', '/health')).body['cgroup']).toMatch(/^v[12]$/);
    } finally {
      await stopNode(all);
    }
    expect(await all.exited, all.output()).toBe(0);
    await cluster.restartWorker(0);
  });
});
