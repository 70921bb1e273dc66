// Each route over real HTTP with real jails and real terraform: documented shapes, the seeds' example
// requests, the OpenAPI document (validated by a parser) and the error catalogue against it.
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ERROR_CODES } from '../../src/api/errors.js';
import { MAIN_TF, multipart, tarGz } from './fixtures.js';
import { call, KEY_A, startService, until, type Json, type Running } from './support.js';

let svc: Running;

beforeAll(async () => {
  svc = await startService({ BODY_LIMIT_MB: '1', UPLOAD_LIMIT_MB: '1' });
});

afterAll(async () => {
  await svc?.close();
});

describe('documentation', () => {
  it('openapi_document_validates_with_a_parser', async () => {
    const json = await call(svc.base, 'GET', '/openapi.json');
    expect(json.status).toBe(200);
    const doc = JSON.parse(json.text) as Record<string, unknown>;
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
    const paths = Object.keys(doc['paths'] as object);
    for (const path of ['/api/v1/runs/commands', '/api/v1/runs/scripts', '/api/v1/runs/terraform', '/api/v1/runs/terraform/archive', '/api/v1/runs/{id}',
      '/api/v1/runs/{id}/plan', '/api/v1/runs/{id}/cancel', '/api/v1/sessions', '/api/v1/sessions/{id}', '/internal/execute', '/api/v1/execute', '/execute',
      '/sessions', '/sessions/{session_id}', '/health', '/ready', '/status', '/', '/metrics']) {
      expect(paths).toContain(path);
    }
    const yaml = await call(svc.base, 'GET', '/openapi.yaml');
    expect(yaml.status).toBe(200);
    expect(Object.keys((parseYaml(yaml.text) as { paths: object }).paths).sort()).toEqual([...paths].sort());
    const docs = await call(svc.base, 'GET', '/docs/');
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('swagger');
  });

  it('error_catalogue_matches_openapi_responses', async () => {
    const doc = (await call(svc.base, 'GET', '/openapi.json')).body;
    expect(doc['x-error-catalogue']).toEqual(JSON.parse(JSON.stringify(ERROR_CATALOGUE)));
    const documented = new Set<string>();
    for (const operations of Object.values(doc['paths'] as Record<string, Json>)) {
      for (const operation of Object.values(operations)) {
        for (const [status, response] of Object.entries(operation['responses'] ?? {})) {
          const description = String(response['description'] ?? '');
          const codes = description.startsWith('Error codes: ') ? description.slice('Error codes: '.length).split(', ') : [];
          for (const code of codes) {
            documented.add(code);
            // Every documented code answers with the status the catalogue gives it.
            expect(ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE]?.status, `${code} under ${status}`).toBe(Number(status));
          }
          if (codes.length > 0) {
            const schema = Object.values(response['content'] ?? {})[0]?.['schema'];
            expect(schema?.['properties']?.['error']?.['properties']?.['code']?.['enum']).toEqual(ERROR_CODES);
          }
        }
      }
    }
    // Every code in the catalogue except the purely generic ones is reachable from some route.
    for (const code of ERROR_CODES.filter((c) => !['not_found', 'bad_request'].includes(c))) expect(documented, code).toContain(code);
  });
});

describe('service routes', () => {
  it('root_and_health_report_service_and_terraform_version', async () => {
    const root = await call(svc.base, 'GET', '/');
    expect(root.status).toBe(200);
    expect(root.body['service']).toBe('confine');
    expect(root.body['docs']).toBe('/docs');
    const health = await call(svc.base, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body['status']).toBe('healthy');
    expect(String(health.body['terraform_version'])).toMatch(/^\d+\.\d+\.\d+/);
    const ready = await call(svc.base, 'GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body['status']).toBe('ready');
  });

  it('metrics_expose_request_run_and_queue_series', async () => {
    await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_A, json: { command: 'echo metrics' } });
    const metrics = await call(svc.base, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    // Embedded: this /metrics again. Cluster: every process's /metrics, as Prometheus scrapes them (runs and
    // resource-limit events are counted by the worker that ran the jail, requests by each API node).
    const text = await svc.metrics();
    for (const series of ['confine_http_request_duration_seconds_bucket', 'confine_run_step_duration_seconds_bucket', 'confine_runs_total{kind="command",status="succeeded"',
      'confine_queue_depth', 'confine_active_jails', 'confine_resource_limit_events_total']) {
      expect(text).toContain(series);
    }
    // A run stopped by its wall-clock limit counts as a resource-limit event and a run by exit reason.
    const spin = await call(svc.base, 'POST', '/api/v1/runs/scripts?wait=true', { key: KEY_A, json: { script: 'while :; do :; done\n', timeout_seconds: 1 } });
    expect(spin.body['result']['run']['exit_reason']).toBe('timeout');
    const after = await svc.metrics();
    expect(after).toMatch(/confine_resource_limit_events_total\{kind="script",limit="timeout"\} [1-9]/);
    expect(after).toMatch(/confine_runs_total\{kind="script",status="failed",error_class="execution_timeout",exit_reason="timeout"\} [1-9]/);
    for (const exposed of [metrics.text, text, after]) {
      expect(exposed).not.toContain(KEY_A);
      expect(exposed).not.toContain('alpha'); // no tenant names in labels
    }
  });
});

describe('API v1 runs', () => {
  it('sync_command_returns_the_cli_json_result', async () => {
    const r = await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_A, json: { command: 'echo hello world' } });
    expect(r.status).toBe(200);
    expect(r.body['state']).toBe('succeeded');
    expect(r.body['result']['status']).toBe('succeeded');
    expect(r.body['result']['error']).toBeNull();
    expect(r.body['result']['argv']).toEqual(['echo', 'hello', 'world']);
    expect(r.body['result']['run']['stdout']).toBe('hello world\n');
    expect(r.body['result']['run']['exit_reason']).toBe('exited');
    expect(Object.keys(r.body['result']['run'])).toEqual(expect.arrayContaining(['exit_code', 'signal', 'exit_reason', 'stdout', 'stderr', 'wall_ms', 'cpu_ms', 'peak_memory_bytes']));
  });

  it('command_result_has_the_same_fields_as_cli_json', async () => {
    const cli = await new Promise<string>((resolve, reject) => {
      execFile(fileURLToPath(new URL('../../bin/confine', import.meta.url)), ['exec', '--json', '--', 'echo', 'same'], {
        env: { PATH: process.env.PATH, CONFINE_STATE_DIR: '/tmp/confine-test-state', CONFINE_UID_BASE: '1950402000', CONFINE_UID_COUNT: '16' },
      }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
    });
    const fromCli = JSON.parse(cli) as Record<string, Record<string, unknown>>;
    const r = await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_A, json: { command: 'echo same' } });
    expect(Object.keys(r.body['result']).sort()).toEqual(Object.keys(fromCli).sort());
    expect(Object.keys(r.body['result']['run']).sort()).toEqual(Object.keys(fromCli['run']!).sort());
    expect(r.body['result']['run']['stdout']).toBe(fromCli['run']!['stdout']);
    expect(r.body['result']['argv']).toEqual(fromCli['argv']);
  });

  it('finished_run_is_audited_with_who_what_duration_resources_and_exit_reason', async () => {
    const r = await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_A, json: { command: 'echo audited' } });
    const id = String(r.body['id']);
    const entries = await until(async () => {
      const lines = (await svc.audit()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, Json>);
      const mine = lines.filter((e) => e['run_id'] === (id as unknown as Json));
      return mine.some((e) => e['event'] === ('run_finished' as unknown as Json)) ? mine : undefined;
    }, 10_000);
    const submitted = entries.find((e) => String(e['event']) === 'run_submitted')!;
    const finished = entries.find((e) => String(e['event']) === 'run_finished')!;
    expect(String(submitted['tenant'])).toBe('alpha');
    expect(String(submitted['auth'])).toBe('api_key');
    expect(String(submitted['what']['command'])).toBe('echo audited');
    expect(String(finished['tenant'])).toBe('alpha');
    expect(String(finished['state'])).toBe('succeeded');
    expect(String(finished['exit_reason'])).toBe('exited');
    expect(Number(finished['duration_ms'])).toBeGreaterThanOrEqual(0);
    expect(Number(finished['resources']['wall_ms'])).toBeGreaterThan(0);
    expect(Number(finished['resources']['peak_memory_bytes'])).toBeGreaterThan(0);
    // The service log has the run id and the tenant too (structured, one JSON object per line).
    const logged = svc.logs().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.some((e) => e['msg'] === 'run finished' && e['run_id'] === id && e['tenant'] === 'alpha')).toBe(true);
    expect(logged.some((e) => e['msg'] === 'run submitted' && e['run_id'] === id && e['tenant'] === 'alpha')).toBe(true);
  });

  it('async_script_returns_202_with_location_then_result', async () => {
    const r = await call(svc.base, 'POST', '/api/v1/runs/scripts', { key: KEY_A, json: { script: 'echo one\necho two >&2\nexit 3\n' } });
    expect(r.status).toBe(202);
    const location = r.headers.get('location')!;
    expect(location).toBe(`/api/v1/runs/${String(r.body['id'])}`);
    const done = await until(async () => {
      const poll = await call(svc.base, 'GET', location, { key: KEY_A });
      return ['succeeded', 'failed'].includes(String(poll.body['state'])) ? poll : undefined;
    });
    expect(done.body['result']['run']['stdout']).toBe('one\n');
    expect(done.body['result']['run']['stderr']).toBe('two\n');
    expect(done.body['result']['run']['exit_code']).toBe(3);
  });

  it('disallowed_command_is_a_completed_run_with_its_error_class', async () => {
    const r = await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_A, json: { command: 'cat /etc/passwd; rm -rf /' } });
    expect(r.status).toBe(200);
    expect(r.body['state']).toBe('failed');
    expect(['validation_error', 'security_violation']).toContain(r.body['error']['type']);
    expect(r.body['result']['run']).toBeNull();
  });

  it('terraform_plan_from_files_map_returns_summary_and_plan_json', async () => {
    const r = await call(svc.base, 'POST', '/api/v1/runs/terraform?wait=true', { key: KEY_A, json: { files: { 'main.tf': MAIN_TF }, mode: 'plan' } });
    expect(r.status).toBe(200);
    expect(r.body['state']).toBe('succeeded');
    expect(r.body['result']['summary']['add']).toBe(1);
    expect(String(r.body['plan_reference'])).toMatch(/^artifact:\/\//);
    const plan = await call(svc.base, 'GET', `/api/v1/runs/${String(r.body['id'])}/plan`, { key: KEY_A });
    expect(plan.status).toBe(200);
    expect(plan.body['format_version']).toBeDefined();
    expect(JSON.stringify(plan.body['resource_changes'])).toContain('terraform_data.greeting');
  });

  it('terraform_working_dir_reaches_modules_beside_it', async () => {
    const files = { 'envs/dev/main.tf': 'module "app" {\n  source = "../../modules/app"\n}\n', 'modules/app/main.tf': MAIN_TF };
    const r = await call(svc.base, 'POST', '/api/v1/runs/terraform?wait=true', { key: KEY_A, json: { files, working_dir: 'envs/dev', mode: 'plan' } });
    expect(r.body['state'], JSON.stringify(r.body['error'])).toBe('succeeded');
    const addresses = (r.body['result']['summary']['resources'] as unknown as { address: string }[]).map((x) => x.address);
    expect(addresses).toContain('module.app.terraform_data.greeting');
  });

  it('terraform_archive_upload_runs_validate', async () => {
    const form = multipart({ mode: 'validate' }, await tarGz({ 'main.tf': MAIN_TF }));
    const r = await call(svc.base, 'POST', '/api/v1/runs/terraform/archive?wait=true', { key: KEY_A, body: form });
    expect(r.status).toBe(200);
    expect(r.body['state']).toBe('succeeded');
    expect((r.body['result']['steps'] as unknown as { name: string }[]).map((s) => s.name)).toEqual(['init', 'validate']);
    const plan = await call(svc.base, 'GET', `/api/v1/runs/${String(r.body['id'])}/plan`, { key: KEY_A });
    expect(plan.status).toBe(404);
    expect(plan.body['error']['code']).toBe('plan_not_available');
  });

  it('plan_of_a_blocked_run_answers_with_its_error_class', async () => {
    const evil = 'resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n';
    const r = await call(svc.base, 'POST', '/api/v1/runs/terraform?wait=true', { key: KEY_A, json: { files: { 'main.tf': evil } } });
    expect(r.status).toBe(200);
    expect(r.body['error']['type']).toBe('security_violation');
    const plan = await call(svc.base, 'GET', `/api/v1/runs/${String(r.body['id'])}/plan`, { key: KEY_A });
    expect(plan.status).toBe(422);
    expect(plan.body['error']['code']).toBe('security_violation');
  });
});

describe('seed-compatible routes', () => {
  it('seed_000_internal_execute_answers_202_with_plan_reference', async () => {
    const upload = await call(svc.base, 'POST', '/api/v1/uploads', { key: KEY_A, body: multipart({}, await tarGz({ 'main.tf': MAIN_TF })) });
    expect(upload.status).toBe(201);
    const r = await call(svc.base, 'POST', '/internal/execute', {
      key: KEY_A,
      json: {
        job_id: '550e8400-e29b-41d4-a716-446655440000',
        workspace_reference: upload.body['workspace_reference'],
        credentials: { aws_access_key_id: 'AKIAEXAMPLEKEY000001', aws_secret_access_key: 'seed-secret-value-do-not-leak', aws_session_token: 'seed-token-value-do-not-leak' },
      },
    });
    expect(r.status).toBe(202);
    expect(r.body['success']).toBe(true);
    expect(r.body['job_id']).toBe('550e8400-e29b-41d4-a716-446655440000');
    expect(String(r.body['plan_reference'])).toMatch(/^artifact:\/\/plans\//);
    expect(typeof r.body['metadata']['duration_ms']).toBe('number');
    expect(typeof r.body['metadata']['cpu_usage']).toBe('number');
    expect(typeof r.body['metadata']['memory_mb']).toBe('number');
    // The credentials never come back and never reach a log line or the audit stream.
    const everything = r.text + svc.logs() + (await svc.audit());
    expect(everything).not.toContain('seed-secret-value-do-not-leak');
    expect(everything).not.toContain('seed-token-value-do-not-leak');
  });

  it('seed_001_api_v1_execute_returns_plan_json_and_status', async () => {
    const ok = await call(svc.base, 'POST', '/api/v1/execute', { key: KEY_A, json: { job_id: 'job_123abc', files: { 'main.tf': MAIN_TF } } });
    expect(ok.status).toBe(200);
    expect(ok.body['job_id']).toBe('job_123abc');
    expect(ok.body['status']).toBe('SUCCESS');
    expect(ok.body['plan_json']['format_version']).toBeDefined();
    expect(typeof ok.body['execution_time_seconds']).toBe('number');
    // The seed's own shape: an upload_id from an earlier upload.
    const upload = await call(svc.base, 'POST', '/api/v1/uploads', { key: KEY_A, body: multipart({}, await tarGz({ 'main.tf': MAIN_TF })) });
    const byUpload = await call(svc.base, 'POST', '/api/v1/execute', { key: KEY_A, json: { job_id: 'job_123abc', upload_id: upload.body['upload_id'] } });
    expect(byUpload.body['status']).toBe('SUCCESS');
    expect(JSON.stringify(byUpload.body['plan_json']['resource_changes'])).toContain('terraform_data.greeting');
    const blocked = await call(svc.base, 'POST', '/api/v1/execute', {
      key: KEY_A,
      json: { job_id: 'job_123abc', files: { 'main.tf': 'resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n' } },
    });
    expect(blocked.body['status']).toBe('FAILED');
    expect(blocked.body['error_type']).toBe('security_violation');
    expect(String(blocked.body['error_message']).length).toBeGreaterThan(0);
  });

  it('seed_004_sessions_and_execute_answer_as_documented', async () => {
    const first = await call(svc.base, 'POST', '/sessions', { key: KEY_A, json: { session_id: 'my-session-1' } });
    expect(first.status).toBe(200);
    expect(first.body['session_id']).toBe('my-session-1');
    const again = await call(svc.base, 'POST', '/sessions', { key: KEY_A, json: { session_id: 'my-session-1' } });
    expect(again.body['id']).toBe(first.body['id']); // idempotent
    // The command tokenizer refuses redirections; a script in the same session writes the file.
    const write = await call(svc.base, 'POST', '/api/v1/runs/scripts?wait=true', { key: KEY_A, json: { script: 'echo kept > note.txt\n', session_id: 'my-session-1' } });
    expect(write.body['state']).toBe('succeeded');
    const r = await call(svc.base, 'POST', '/execute', { key: KEY_A, json: { command: 'ls -la', session_id: 'my-session-1', timeout: 30 } });
    expect(r.status).toBe(200);
    expect(r.body['exit_code']).toBe(0);
    expect(r.body['session_id']).toBe('my-session-1');
    expect(String(r.body['stdout'])).toContain('note.txt');
    expect(typeof r.body['execution_time']).toBe('number');
    const del = await call(svc.base, 'DELETE', '/sessions/my-session-1', { key: KEY_A });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ session_id: 'my-session-1', deleted: true });
    expect((await call(svc.base, 'DELETE', '/sessions/my-session-1', { key: KEY_A })).status).toBe(404);
  });

  it('seed_003_status_lists_recent_executions', async () => {
    await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_A, json: { command: 'pwd' } });
    const r = await call(svc.base, 'GET', '/status', { key: KEY_A });
    expect(r.status).toBe(200);
    const recent = r.body['recent_executions'] as unknown as { run_id: string; state: string; kind: string }[];
    expect(recent.length).toBeGreaterThan(0);
    expect(recent[0]).toMatchObject({ kind: expect.any(String), state: expect.any(String) });
    expect(r.body['queue']['workers']).toBeGreaterThan(0);
  });
});

describe('edge validation', () => {
  it('missing_or_wrong_credentials_return_401', async () => {
    for (const headers of [{}, { 'x-api-key': 'wrong-key-000000000' }, { authorization: 'Bearer nope' }, { authorization: 'Basic abc' }] as Record<string, string>[]) {
      const r = await call(svc.base, 'POST', '/api/v1/runs/commands', { headers, json: { command: 'id' } });
      expect(r.status).toBe(401);
      expect(r.body['error']['code']).toBe('unauthorized');
    }
    const bearer = await call(svc.base, 'GET', '/status', { headers: { authorization: `Bearer ${KEY_A}` } });
    expect(bearer.status).toBe(200);
  });

  it('malformed_json_returns_400_invalid_json', async () => {
    const r = await call(svc.base, 'POST', '/api/v1/runs/commands', { key: KEY_A, headers: { 'content-type': 'application/json' }, body: '{"command": "id"' });
    expect(r.status).toBe(400);
    expect(r.body['error']['code']).toBe('invalid_json');
  });

  it('unsupported_content_type_returns_415', async () => {
    const r = await call(svc.base, 'POST', '/api/v1/runs/commands', { key: KEY_A, headers: { 'content-type': 'text/plain' }, body: 'echo hi' });
    expect(r.status).toBe(415);
    expect(r.body['error']['code']).toBe('unsupported_media_type');
  });

  it('prototype_pollution_keys_are_rejected_as_invalid_json', async () => {
    for (const body of ['{"command":"id","__proto__":{"polluted":1}}', '{"command":"id","constructor":{"prototype":{"polluted":1}}}']) {
      const r = await call(svc.base, 'POST', '/api/v1/runs/commands', { key: KEY_A, headers: { 'content-type': 'application/json' }, body });
      expect(r.status).toBe(400);
      expect(r.body['error']['code']).toBe('invalid_json');
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('unknown_field_returns_400_validation_failed', async () => {
    const r = await call(svc.base, 'POST', '/api/v1/runs/commands', { key: KEY_A, json: { command: 'id', comand: 'typo' } });
    expect(r.status).toBe(400);
    expect(r.body['error']['code']).toBe('validation_failed');
  });

  it('malformed_multipart_returns_400_invalid_multipart', async () => {
    const broken = '--XYZ\r\nContent-Disposition: form-data; name="archive"; filename="a.tar.gz"\r\n\r\nnot-finished';
    const r = await call(svc.base, 'POST', '/api/v1/runs/terraform/archive', { key: KEY_A, headers: { 'content-type': 'multipart/form-data; boundary=XYZ' }, body: broken });
    expect(r.status).toBe(400);
    expect(r.body['error']['code']).toBe('invalid_multipart');
    const notArchive = await call(svc.base, 'POST', '/api/v1/runs/terraform/archive', { key: KEY_A, body: multipart({}, Buffer.from('plain text, not an archive')) });
    expect(notArchive.status).toBe(400);
    expect(notArchive.body['error']['code']).toBe('invalid_multipart');
  });

  it('multipart_cut_while_the_archive_streams_into_the_store_is_400_invalid_multipart', async () => {
    // The archive part's first bytes arrive (the store is reading them), then the body ends mid-part: the
    // client's malformed body, not an unavailable store (it was answered 503 storage_unavailable).
    const first = Buffer.concat([
      Buffer.from('--XYZ\r\nContent-Disposition: form-data; name="archive"; filename="a.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n'),
      Buffer.from([0x1f, 0x8b]),
      Buffer.alloc(4096),
    ]);
    const rest = Buffer.from('cut-short');
    const head = `POST /api/v1/runs/terraform/archive HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${KEY_A}\r\nContent-Type: multipart/form-data; boundary=XYZ\r\n` +
      `Content-Length: ${first.length + rest.length}\r\nConnection: close\r\n\r\n`;
    const socket = connect(Number(new URL(svc.base).port), '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    socket.on('error', () => undefined);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(Buffer.concat([Buffer.from(head), first]));
    await new Promise((resolve) => setTimeout(resolve, 300));
    socket.write(rest);
    await closed;
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain('"code":"invalid_multipart"');
  });

  it('oversized_body_and_upload_return_413', async () => {
    const big = 'x'.repeat(1024 * 1024 + 10);
    const body = await call(svc.base, 'POST', '/api/v1/runs/scripts', { key: KEY_A, json: { script: big } });
    expect(body.status).toBe(413);
    expect(body.body['error']['code']).toBe('payload_too_large');
    const upload = await call(svc.base, 'POST', '/api/v1/runs/terraform/archive', { key: KEY_A, body: multipart({}, Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(1024 * 1024 + 10)])) });
    expect(upload.status).toBe(413);
    expect(upload.body['error']['code']).toBe('payload_too_large');
  });

  it('request_id_and_logged_fields_cannot_inject_lines', async () => {
    const forged = 'id\n{"level":50,"event":"forged"}\r\nX-Injected: 1';
    const r = await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_A, json: { command: forged }, headers: { 'x-request-id': 'bad id with spaces' } });
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers.get('x-injected')).toBeNull();
    const good = await call(svc.base, 'GET', '/status', { key: KEY_A, headers: { 'x-request-id': 'trace-42' } });
    expect(good.headers.get('x-request-id')).toBe('trace-42');
    for (const line of (svc.logs() + (await svc.audit())).split('\n').filter(Boolean)) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(entry['event']).not.toBe('forged');
    }
    // API keys never reach the logs.
    expect(svc.logs() + (await svc.audit())).not.toContain(KEY_A);
  });
});
