// Node lifecycles of many hosts (issue 12), real processes: a worker stopped with SIGTERM drains the run it
// holds, unregisters and exits 0; `confine serve --role all` is an API node and a worker in one process,
// joining the same cluster as the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, until } from '../api/support.js';
import { DIST_KEY_A, killAllNodes, startCluster, stopNode, type Cluster } from './cluster.js';

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

  it('all_role_serves_http_and_runs_the_clusters_jails', async () => {
    const api = cluster.api[0]!.base;
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
