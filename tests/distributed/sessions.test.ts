// Sessions across hosts, with real processes (issue 12): a session's workspace lives on the worker that ran
// its first run. Deleting the session on an API node kills the jail running in it on that worker at once;
// a session whose worker was killed (-9) answers 410 session_host_gone as soon as the worker's heartbeat
// lapses (a clear error, not a run waiting on a queue nobody claims), and opening its name again gives a
// fresh session served by a surviving worker. Concurrent first runs of a new session through two API nodes
// all land on one worker (the session is placed at submit), instead of racing to two.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, until, type Reply } from '../api/support.js';
import { DIST_KEY_A, killAllNodes, processesOfUids, startCluster, type Cluster } from './cluster.js';

let cluster: Cluster;
let api: string;

beforeAll(async () => {
  cluster = await startCluster({ slot: 3, apis: 2, workers: 2 });
  api = cluster.api[0]!.base;
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  killAllNodes();
}, 60_000);

const finalStates = ['succeeded', 'failed', 'cancelled'];

function pollFinal(id: string): Promise<Reply> {
  return until(async () => {
    const r = await call(api, 'GET', `/api/v1/runs/${id}`, { key: DIST_KEY_A });
    return finalStates.includes(String(r.body['state'])) ? r : undefined;
  }, 60_000);
}

describe('sessions across worker processes', () => {
  it('deleting_a_session_on_the_api_kills_its_running_jail_on_the_worker', async () => {
    const opened = await call(api, 'POST', '/api/v1/sessions', { key: DIST_KEY_A, json: { name: 'dist-doomed' } });
    expect(opened.status, opened.text).toBe(201);
    const sessionId = String(opened.body['id']);
    const run = await call(api, 'POST', '/api/v1/runs/scripts', { key: DIST_KEY_A, json: { script: 'while :; do :; done\n', timeout_seconds: 60, session_id: sessionId } });
    expect(run.status, run.text).toBe(202);
    const runId = String(run.body['id']);
    const running = await until(async () => {
      const r = await call(api, 'GET', `/api/v1/runs/${runId}`, { key: DIST_KEY_A });
      return String(r.body['state']) === 'running' ? r : undefined;
    }, 30_000);
    const worker = cluster.workers.find((w) => w.id === String(running.body['worker']));
    expect(worker, `run on ${String(running.body['worker'])}`).toBeDefined();
    // Its jail is up on that worker (processes in the worker's own uid range).
    await until(async () => ((await processesOfUids(worker!.uidBase, worker!.uidCount)).length > 0 ? true : undefined), 15_000);

    const started = Date.now();
    const deleted = await call(api, 'DELETE', `/api/v1/sessions/${sessionId}`, { key: DIST_KEY_A });
    expect(deleted.status, deleted.text).toBe(204);
    const done = await pollFinal(runId);
    expect(Date.now() - started).toBeLessThan(15_000); // the script spins until killed (60 s timeout)
    expect(done.body['result']['run']['exit_reason'], done.text).toBe('cancelled');
    await until(async () => ((await processesOfUids(worker!.uidBase, worker!.uidCount)).length === 0 ? true : undefined), 15_000);
    expect((await call(api, 'GET', `/api/v1/sessions/${sessionId}`, { key: DIST_KEY_A })).status).toBe(404);
  });

  it('concurrent_first_runs_of_a_new_session_from_two_api_nodes_all_run_on_one_worker', async () => {
    const nodes = cluster.api.map((n) => n.base);
    expect(cluster.workers.every((w) => w.alive())).toBe(true); // two workers to race to
    for (let round = 0; round < 3; round++) {
      const opened = await call(api, 'POST', '/api/v1/sessions', { key: DIST_KEY_A, json: {} });
      const sessionId = String(opened.body['id']);
      // Four first runs at once through both nodes: the session is placed once, every run lands there.
      const runs = await Promise.all([0, 1, 2, 3].map((i) => call(nodes[i % 2]!, 'POST', '/api/v1/runs/scripts?wait=true', { key: DIST_KEY_A, json: { script: `echo ${i} > f${i}\n`, session_id: sessionId } })));
      expect(runs.map((r) => String(r.body['state'])), runs.map((r) => r.text).join('\n')).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
      expect(new Set(runs.map((r) => String(r.body['worker']))).size).toBe(1);
      const read = await call(nodes[1]!, 'POST', '/api/v1/runs/scripts?wait=true', { key: DIST_KEY_A, json: { script: 'cat f0 f1 f2 f3\n', session_id: sessionId } });
      expect(read.body['result']['run']['stdout'], read.text).toBe('0\n1\n2\n3\n');
    }
  });

  it('session_of_a_killed_worker_answers_410_session_host_gone_and_its_name_opens_afresh', async () => {
    const opened = await call(api, 'POST', '/api/v1/sessions', { key: DIST_KEY_A, json: { name: 'dist-orphan' } });
    expect(opened.status, opened.text).toBe(201);
    const sessionId = String(opened.body['id']);
    const write = await call(api, 'POST', '/api/v1/runs/scripts?wait=true', { key: DIST_KEY_A, json: { script: 'echo kept > note.txt\n', session_id: sessionId } });
    expect(write.body['state'], write.text).toBe('succeeded');
    const holder = cluster.workers.findIndex((w) => w.id === String(write.body['worker']));
    expect(holder).toBeGreaterThanOrEqual(0);

    await cluster.killWorker(holder);
    // The API node notices the lapsed heartbeat (3 beats of 0.5 s), without any run being involved.
    await until(async () => {
      const ready = await call(api, 'GET', '/ready');
      return Number(ready.body['workers_alive']) === 1 ? true : undefined;
    }, 15_000);

    const started = Date.now();
    const refused = await call(api, 'POST', '/api/v1/runs/scripts?wait=true', { key: DIST_KEY_A, json: { script: 'cat note.txt\n', session_id: sessionId } });
    expect(Date.now() - started).toBeLessThan(5_000); // an answer, not a wait for a worker that is gone
    expect(refused.status, refused.text).toBe(410);
    expect(refused.body['error']['code']).toBe('session_host_gone');
    expect(refused.body['error']['message']).toContain('open a new session');
    expect(refused.body['error']['detail']).toContain(cluster.workers[holder]!.id);

    // The name opens afresh: a new, empty workspace on the surviving worker.
    const again = await call(api, 'POST', '/api/v1/sessions', { key: DIST_KEY_A, json: { name: 'dist-orphan' } });
    expect(again.status, again.text).toBe(201);
    expect(again.body['id']).not.toBe(sessionId);
    const fresh = await call(api, 'POST', '/api/v1/runs/scripts?wait=true', { key: DIST_KEY_A, json: { script: 'cat note.txt 2>/dev/null || echo empty\n', session_id: String(again.body['id']) } });
    expect(fresh.body['state'], fresh.text).toBe('succeeded');
    expect(fresh.body['result']['run']['stdout']).toBe('empty\n');
    expect(fresh.body['worker']).not.toBe(cluster.workers[holder]!.id);
  });

});
