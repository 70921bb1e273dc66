// A representative slice of the API suite against a real many-host confine (issue 12): two API processes
// (`confine serve --role api`) and two worker processes (`confine worker`) on one redis-server. Every run
// is submitted to one API node and read back from the other, so nothing may live in one process's memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN_TF, multipart, tarGz } from '../api/fixtures.js';
import { call, until, type Reply } from '../api/support.js';
import { DIST_KEY_A, DIST_KEY_B, killAllNodes, startCluster, type Cluster } from './cluster.js';

let cluster: Cluster;
let a: string;
let b: string;

beforeAll(async () => {
  cluster = await startCluster({ slot: 0 });
  a = cluster.api[0]!.base;
  b = cluster.api[1]!.base;
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  killAllNodes();
}, 60_000);

const finalStates = ['succeeded', 'failed', 'cancelled'];

async function pollFinal(base: string, id: string, key = DIST_KEY_A): Promise<Reply> {
  return until(async () => {
    const r = await call(base, 'GET', `/api/v1/runs/${id}`, { key });
    return finalStates.includes(String(r.body['state'])) ? r : undefined;
  }, 60_000);
}

describe('runs across API nodes', () => {
  it('sync_command_on_one_node_is_answered_by_the_other', async () => {
    const r = await call(a, 'POST', '/api/v1/runs/commands?wait=true', { key: DIST_KEY_A, json: { command: 'echo hello world' } });
    expect(r.status, r.text + cluster.logs()).toBe(200);
    expect(r.body['state']).toBe('succeeded');
    expect(r.body['result']['run']['stdout']).toBe('hello world\n');
    expect(r.body['result']['argv']).toEqual(['echo', 'hello', 'world']);
    const workerIds = cluster.workers.map((w) => w.id);
    expect(workerIds).toContain(String(r.body['worker']));
    const other = await call(b, 'GET', `/api/v1/runs/${String(r.body['id'])}`, { key: DIST_KEY_A });
    expect(other.status).toBe(200);
    expect(other.body).toEqual(r.body);
  });

  it('async_script_submitted_on_one_node_is_polled_on_the_other', async () => {
    const r = await call(b, 'POST', '/api/v1/runs/scripts', { key: DIST_KEY_A, json: { script: 'echo one\necho two >&2\nexit 3\n' } });
    expect(r.status, r.text).toBe(202);
    const location = r.headers.get('location')!;
    expect(location).toBe(`/api/v1/runs/${String(r.body['id'])}`);
    const done = await pollFinal(a, String(r.body['id']));
    expect(done.body['result']['run']['stdout']).toBe('one\n');
    expect(done.body['result']['run']['stderr']).toBe('two\n');
    expect(done.body['result']['run']['exit_code']).toBe(3);
  });

  it('wait_true_wakes_on_a_run_finished_by_another_process', async () => {
    // The run takes ~1.5 s in its jail: the synchronous answer can only come from a cross-process wake-up.
    const r = await call(a, 'POST', '/api/v1/runs/scripts?wait=true', { key: DIST_KEY_A, json: { script: 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo waited\n' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body['state']).toBe('succeeded');
    expect(r.body['result']['run']['stdout']).toBe('waited\n');
  });

  it('runs_spread_over_both_workers', async () => {
    const runs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => call(i % 2 === 0 ? a : b, 'POST', '/api/v1/runs/scripts?wait=true', { key: DIST_KEY_A, json: { script: `i=0; while [ $i -lt 5000 ]; do i=$((i+1)); done; echo ${i}\n` } })),
    );
    for (const [i, r] of runs.entries()) {
      expect(r.body['state'], r.text).toBe('succeeded');
      expect(r.body['result']['run']['stdout']).toBe(`${i}\n`);
    }
    // 8 runs, 2 slots per worker: both workers took some.
    expect(new Set(runs.map((r) => String(r.body['worker'])))).toEqual(new Set(cluster.workers.map((w) => w.id)));
  });

  it('disallowed_command_is_a_completed_run_with_its_error_class', async () => {
    const r = await call(b, 'POST', '/api/v1/runs/commands?wait=true', { key: DIST_KEY_A, json: { command: 'cat /etc/passwd; rm -rf /' } });
    expect(r.status).toBe(200);
    expect(r.body['state']).toBe('failed');
    expect(['validation_error', 'security_violation']).toContain(r.body['error']['type']);
  });

  it('other_tenant_gets_404_on_every_node', async () => {
    const r = await call(a, 'POST', '/api/v1/runs/commands?wait=true', { key: DIST_KEY_A, json: { command: 'echo mine' } });
    const id = String(r.body['id']);
    for (const base of [a, b]) {
      const foreign = await call(base, 'GET', `/api/v1/runs/${id}`, { key: DIST_KEY_B });
      expect(foreign.status).toBe(404);
      const unknown = await call(base, 'GET', `/api/v1/runs/${'0'.repeat(32)}`, { key: DIST_KEY_B });
      // No existence oracle: the same code and message as an id that never existed.
      expect([foreign.body['error']['code'], foreign.body['error']['message']]).toEqual([unknown.body['error']['code'], unknown.body['error']['message']]);
      expect((await call(base, 'POST', `/api/v1/runs/${id}/cancel`, { key: DIST_KEY_B })).status).toBe(404);
    }
    const status = await call(b, 'GET', '/status', { key: DIST_KEY_B });
    expect(JSON.stringify(status.body)).not.toContain(id);
  });
});

describe('terraform across hosts', () => {
  it('terraform_plan_runs_on_a_worker_and_its_plan_is_read_on_the_other_node', async () => {
    const r = await call(a, 'POST', '/api/v1/runs/terraform?wait=true', { key: DIST_KEY_A, json: { files: { 'main.tf': MAIN_TF }, mode: 'plan' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body['state'], JSON.stringify(r.body['error'])).toBe('succeeded');
    expect(r.body['result']['summary']['add']).toBe(1);
    expect(String(r.body['plan_reference'])).toMatch(/^artifact:\/\//);
    const plan = await call(b, 'GET', `/api/v1/runs/${String(r.body['id'])}/plan`, { key: DIST_KEY_A });
    expect(plan.status).toBe(200);
    expect(JSON.stringify(plan.body['resource_changes'])).toContain('terraform_data.greeting');
    expect((await call(b, 'GET', `/api/v1/runs/${String(r.body['id'])}/plan`, { key: DIST_KEY_B })).status).toBe(404);
  });

  it('upload_on_one_node_runs_by_workspace_reference_on_the_other', async () => {
    const upload = await call(a, 'POST', '/api/v1/uploads', { key: DIST_KEY_A, body: multipart({}, await tarGz({ 'main.tf': MAIN_TF })) });
    expect(upload.status, upload.text).toBe(201);
    const r = await call(b, 'POST', '/api/v1/runs/terraform?wait=true', { key: DIST_KEY_A, json: { workspace_reference: upload.body['workspace_reference'], mode: 'plan' } });
    expect(r.body['state'], JSON.stringify(r.body)).toBe('succeeded');
    expect(r.body['result']['summary']['add']).toBe(1);
    // Another tenant cannot name it, on either node.
    const foreign = await call(a, 'POST', '/api/v1/runs/terraform', { key: DIST_KEY_B, json: { workspace_reference: upload.body['workspace_reference'] } });
    expect(foreign.status).toBeGreaterThanOrEqual(400);
  });

  it('archive_run_travels_by_reference_to_a_worker', async () => {
    const form = multipart({ mode: 'validate' }, await tarGz({ 'main.tf': MAIN_TF }));
    const r = await call(b, 'POST', '/api/v1/runs/terraform/archive?wait=true', { key: DIST_KEY_A, body: form });
    expect(r.status, r.text).toBe(200);
    expect(r.body['state']).toBe('succeeded');
    expect((r.body['result']['steps'] as unknown as { name: string }[]).map((s) => s.name)).toEqual(['init', 'validate']);
  });
});

describe('seed routes and sessions across hosts', () => {
  it('seed_000_internal_execute_answers_202_and_the_plan_is_readable_elsewhere', async () => {
    const upload = await call(a, 'POST', '/api/v1/uploads', { key: DIST_KEY_A, body: multipart({}, await tarGz({ 'main.tf': MAIN_TF })) });
    const r = await call(b, 'POST', '/internal/execute', { key: DIST_KEY_A, json: { job_id: '550e8400-e29b-41d4-a716-446655440000', workspace_reference: upload.body['workspace_reference'] } });
    expect(r.status, r.text).toBe(202);
    expect(r.body['success']).toBe(true);
    expect(String(r.body['plan_reference'])).toMatch(/^artifact:\/\/plans\//);
  });

  it('seed_001_api_v1_execute_returns_plan_json', async () => {
    const ok = await call(a, 'POST', '/api/v1/execute', { key: DIST_KEY_A, json: { job_id: 'job_123abc', files: { 'main.tf': MAIN_TF } } });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body['status']).toBe('SUCCESS');
    expect(ok.body['plan_json']['format_version']).toBeDefined();
  });

  it('seed_004_session_keeps_its_workspace_across_api_nodes', async () => {
    const first = await call(a, 'POST', '/sessions', { key: DIST_KEY_A, json: { session_id: 'dist-session-1' } });
    expect(first.status, first.text).toBe(200);
    const again = await call(b, 'POST', '/sessions', { key: DIST_KEY_A, json: { session_id: 'dist-session-1' } });
    expect(again.body['id']).toBe(first.body['id']); // idempotent across nodes: the registry is shared
    const write = await call(a, 'POST', '/api/v1/runs/scripts?wait=true', { key: DIST_KEY_A, json: { script: 'echo kept > note.txt\n', session_id: 'dist-session-1' } });
    expect(write.body['state'], write.text).toBe('succeeded');
    // Several later runs through both nodes all land on the worker holding the workspace.
    for (const base of [b, a, b]) {
      const r = await call(base, 'POST', '/execute', { key: DIST_KEY_A, json: { command: 'cat note.txt', session_id: 'dist-session-1', timeout: 30 } });
      expect(r.status, r.text).toBe(200);
      expect(r.body['exit_code']).toBe(0);
      expect(r.body['stdout']).toBe('kept\n');
    }
    // Another tenant does not see it by name.
    expect((await call(b, 'DELETE', '/sessions/dist-session-1', { key: DIST_KEY_B })).status).toBe(404);
    const del = await call(b, 'DELETE', '/sessions/dist-session-1', { key: DIST_KEY_A });
    expect(del.status).toBe(200);
    expect((await call(a, 'DELETE', '/sessions/dist-session-1', { key: DIST_KEY_A })).status).toBe(404);
  });

  it('seed_003_status_and_metrics_report_the_shared_queue_and_workers', async () => {
    await call(a, 'POST', '/api/v1/runs/commands?wait=true', { key: DIST_KEY_A, json: { command: 'pwd' } });
    const r = await call(b, 'GET', '/status', { key: DIST_KEY_A });
    expect(r.status).toBe(200);
    const recent = r.body['recent_executions'] as unknown as { run_id: string; state: string; kind: string }[];
    expect(recent.length).toBeGreaterThan(0);
    expect(r.body['queue']['workers']).toBeGreaterThan(0);
    const metrics = await call(b, 'GET', '/metrics');
    expect(metrics.text).toContain('confine_queue_depth');
    expect(metrics.text).toMatch(/confine_workers_alive 2\b/);
  });

  it('worker_metrics_count_the_runs_each_worker_finished', async () => {
    const succeeded = async (): Promise<number> => {
      let sum = 0;
      for (const worker of cluster.workers) {
        const text = await fetch(`${worker.metricsBase}/metrics`).then((r) => r.text());
        expect(text).toMatch(/confine_workers_alive 2\b/);
        for (const match of text.matchAll(/^confine_runs_total\{kind="command",status="succeeded"[^}]*\} (\d+)$/gm)) sum += Number(match[1]);
      }
      return sum;
    };
    const before = await succeeded();
    for (let i = 0; i < 4; i++) {
      const r = await call(i % 2 === 0 ? a : b, 'POST', '/api/v1/runs/commands?wait=true', { key: DIST_KEY_A, json: { command: `echo counted ${i}` } });
      expect(r.body['state']).toBe('succeeded');
    }
    // Counted where they finished: the workers, together, once each.
    expect(await succeeded()).toBe(before + 4);
    const health = await fetch(`${cluster.workers[0]!.metricsBase}/health`).then((r) => r.json() as Promise<Record<string, string>>);
    expect(health).toEqual({ status: 'healthy', worker: cluster.workers[0]!.id });
    expect((await fetch(`${cluster.workers[0]!.metricsBase}/api/v1/runs`)).status).toBe(404); // nothing else is served
  });
});
