// Node lifecycles of many hosts (issue 12), real processes: a worker stopped with SIGTERM drains the run it
// holds, unregisters and exits 0; `confine serve --role all` is an API node and a worker in one process,
// joining the same cluster as the others.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN_TF } from '../api/fixtures.js';
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

  it('queued_payload_and_its_credentials_are_sealed_in_redis_and_its_aof', async () => {
    const base = cluster.api[0]!.base;
    // No worker is alive (the drain test stopped it): the run waits in Redis, as long as it likes.
    const secret = 'sealed-secret-value-do-not-leak-0001';
    const marker = 'tenant-file-marker-do-not-leak-0001';
    const r = await call(base, 'POST', '/api/v1/runs/terraform', {
      key: DIST_KEY_A,
      json: { files: { 'main.tf': `${MAIN_TF}\n# ${marker}\n` }, mode: 'plan', credentials: { aws_access_key_id: 'AKIAEXAMPLEKEY000002', aws_secret_access_key: secret } },
    });
    expect(r.status, r.text).toBe(202);
    const id = String(r.body['id']);
    const everything = async (): Promise<string> => `${await redisText(cluster.redis.url)}\n${await aofText(cluster.redis.dir)}`;
    const queued = await everything();
    expect(queued).toContain(id); // the run is there ...
    expect(queued).not.toContain(secret); // ... its credentials and inputs are not, in any key or in the AOF
    expect(queued).not.toContain(marker);
    await cluster.restartWorker(0);
    const done = await until(async () => {
      const g = await call(base, 'GET', `/api/v1/runs/${id}`, { key: DIST_KEY_A });
      return ['succeeded', 'failed', 'cancelled'].includes(String(g.body['state'])) ? g : undefined;
    }, 60_000);
    expect(done.body['state'], done.text).toBe('succeeded'); // the worker opened it with the same key
    expect(await everything()).not.toContain(secret); // the record never held them either
  });

  it('api_node_sigterm_with_a_wait_in_flight_exits_after_the_grace_and_the_run_lives_on', async () => {
    const base = cluster.api[0]!.base;
    if (!cluster.workers[0]!.alive()) await cluster.restartWorker(0);
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

/** Every key and value Redis holds now, as text (strings, hashes, lists, sets, sorted sets, streams). */
async function redisText(url: string): Promise<string> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const out: string[] = [];
    for (const key of await redis.keys('*')) {
      const type = await redis.type(key);
      const value =
        type === 'string' ? await redis.get(key)
        : type === 'hash' ? JSON.stringify(await redis.hgetall(key))
        : type === 'list' ? JSON.stringify(await redis.lrange(key, 0, -1))
        : type === 'set' ? JSON.stringify(await redis.smembers(key))
        : type === 'zset' ? JSON.stringify(await redis.zrange(key, '0', '-1', 'WITHSCORES'))
        : type === 'stream' ? JSON.stringify(await redis.xrange(key, '-', '+'))
        : `(${type})`;
      out.push(`${key} ${value}`);
    }
    return out.join('\n');
  } finally {
    redis.disconnect();
  }
}

/** The append-only files: every write Redis ever accepted, even of keys deleted since. */
async function aofText(dir: string): Promise<string> {
  const aofDir = join(dir, 'appendonlydir');
  const names = await readdir(aofDir).catch(() => [] as string[]);
  expect(names.length).toBeGreaterThan(0);
  return (await Promise.all(names.map((n) => readFile(join(aofDir, n), 'latin1')))).join('\n');
}

