// Tenant isolation: another tenant's runs, plans, sessions and uploads answer exactly like unknown ids
// (404, never 403), so ids cannot even be confirmed to exist.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN_TF, multipart, tarGz } from './fixtures.js';
import { call, KEY_A, KEY_B, startService, type Running } from './support.js';

let svc: Running;

beforeAll(async () => {
  svc = await startService();
});

afterAll(async () => {
  await svc?.close();
});

describe('tenant isolation', () => {
  it('other_tenants_run_is_404_for_get_plan_and_cancel', async () => {
    const run = await call(svc.base, 'POST', '/api/v1/runs/terraform?wait=true', { key: KEY_A, json: { files: { 'main.tf': MAIN_TF } } });
    expect(run.body['state']).toBe('succeeded');
    const id = String(run.body['id']);
    expect(id).toMatch(/^[0-9a-f]{32}$/); // 128 random bits
    for (const [method, path] of [['GET', `/api/v1/runs/${id}`], ['GET', `/api/v1/runs/${id}/plan`], ['POST', `/api/v1/runs/${id}/cancel`]] as const) {
      const foreign = await call(svc.base, method, path, { key: KEY_B });
      const unknown = await call(svc.base, method, path.replace(id, 'f'.repeat(32)), { key: KEY_B });
      expect(foreign.status).toBe(404);
      expect(foreign.body['error']['code']).toBe(unknown.body['error']['code']);
    }
    expect((await call(svc.base, 'GET', `/api/v1/runs/${id}/plan`, { key: KEY_A })).status).toBe(200);
  });

  it('other_tenants_session_cannot_be_used_read_or_deleted', async () => {
    const session = await call(svc.base, 'POST', '/api/v1/sessions', { key: KEY_A, json: {} });
    expect(session.status).toBe(201);
    const id = String(session.body['id']);
    await call(svc.base, 'POST', '/api/v1/runs/scripts?wait=true', { key: KEY_A, json: { script: 'echo secret-of-a > mine.txt\n', session_id: id } });
    const use = await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_B, json: { command: 'cat mine.txt', session_id: id } });
    expect(use.status).toBe(404);
    expect(use.body['error']['code']).toBe('session_not_found');
    expect((await call(svc.base, 'GET', `/api/v1/sessions/${id}`, { key: KEY_B })).status).toBe(404);
    expect((await call(svc.base, 'DELETE', `/api/v1/sessions/${id}`, { key: KEY_B })).status).toBe(404);
    // Seed 004 names are per tenant: B's "shared" is not A's "shared".
    const a = await call(svc.base, 'POST', '/sessions', { key: KEY_A, json: { session_id: 'shared' } });
    const b = await call(svc.base, 'POST', '/sessions', { key: KEY_B, json: { session_id: 'shared' } });
    expect(a.body['id']).not.toBe(b.body['id']);
    const mine = await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_A, json: { command: 'cat mine.txt', session_id: id } });
    expect(mine.body['result']['run']['stdout']).toBe('secret-of-a\n');
  });

  it('other_tenants_upload_reference_is_not_found', async () => {
    const upload = await call(svc.base, 'POST', '/api/v1/uploads', { key: KEY_A, body: multipart({}, await tarGz({ 'main.tf': MAIN_TF })) });
    const reference = String(upload.body['workspace_reference']);
    const r = await call(svc.base, 'POST', '/internal/execute', { key: KEY_B, json: { job_id: 'j1', workspace_reference: reference } });
    expect(r.status).toBe(404);
    expect(r.body['error']['code']).toBe('artifact_not_found');
    const own = await call(svc.base, 'POST', '/api/v1/runs/terraform?wait=true', { key: KEY_A, json: { workspace_reference: reference, mode: 'validate' } });
    expect(own.body['state']).toBe('succeeded');
  });

  it('status_lists_only_the_callers_runs', async () => {
    const a = await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_A, json: { command: 'echo a' } });
    const statusB = await call(svc.base, 'GET', '/status', { key: KEY_B });
    const ids = (statusB.body['recent_executions'] as unknown as { run_id: string }[]).map((r) => r.run_id);
    expect(ids).not.toContain(a.body['id']);
  });
});
