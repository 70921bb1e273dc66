// The workload the service's seccomp profile is generated from (security/gen-seccomp.ts) and re-checked
// against (tests/deploy/seccomp.test.ts): every kind of run the API offers, the kill paths (timeout, pids
// limit, cancel) and the HTTP edge, so the profile holds what the service, the jail agent, bubblewrap and
// the jailed programs really call. Each step asserts its own outcome: a trace of failing runs would
// describe a broken service, not a working one.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';

export interface WorkloadStep {
  name: string;
  ok: boolean;
  detail: string;
}

type Json = Record<string, unknown>;

async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'confine-workload-'));
  try {
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    await create({ gzip: true, file: join(dir, 'config.tar.gz'), cwd: dir, portable: true }, Object.keys(files));
    return await readFile(join(dir, 'config.tar.gz'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const TF_CONFIG = {
  'main.tf': 'resource "terraform_data" "a" {\n  input = "confine"\n}\noutput "v" {\n  value = terraform_data.a.input\n}\n',
};

async function call(base: string, key: string, method: string, path: string, body?: Json): Promise<{ status: number; json: Json }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await response.text();
  return { status: response.status, json: text.length > 0 && text.startsWith('{') ? (JSON.parse(text) as Json) : {} };
}

function field(json: Json, name: string): Json {
  const inner = json[name];
  return typeof inner === 'object' && inner !== null ? (inner as Json) : {};
}

/** A command or script run's RunResult inside the run record (`result.run`). */
function result(json: Json): Json {
  return field(field(json, 'result'), 'run');
}

function step(name: string, ok: boolean, detail: unknown): WorkloadStep {
  return { name, ok, detail: JSON.stringify(detail).slice(0, 400) };
}

async function runSync(base: string, key: string, path: string, body: Json): Promise<{ status: number; json: Json }> {
  return call(base, key, 'POST', `${path}?wait=true`, body);
}

/** The AWS keys the fake upstream verifies signatures with (the service re-signs the plan's calls with them). */
export interface WorkloadCredentials {
  aws_access_key_id: string;
  aws_secret_access_key: string;
  aws_session_token?: string;
}

const TF_EGRESS_CONFIG = {
  'main.tf': 'provider "aws" {\n  region = "us-east-1"\n}\ndata "aws_caller_identity" "me" {}\noutput "account" {\n  value = data.aws_caller_identity.me.account_id\n}\n',
};

export async function runWorkload(base: string, key: string, credentials: WorkloadCredentials): Promise<WorkloadStep[]> {
  const steps: WorkloadStep[] = [];
  for (const path of ['/health', '/ready', '/metrics']) {
    const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(30_000) });
    await response.arrayBuffer();
    steps.push(step(`get ${path}`, response.status === 200, response.status));
  }

  const echo = await runSync(base, key, '/api/v1/runs/commands', { command: 'echo hello' });
  steps.push(step('command echo', echo.status === 200 && result(echo.json).stdout === 'hello\n', echo.json));

  const cat = await runSync(base, key, '/api/v1/runs/commands', { command: 'cat data.txt', files: { 'data.txt': 'abc', 'd/e.txt': 'x' } });
  steps.push(step('command cat with files', cat.status === 200 && result(cat.json).stdout === 'abc', cat.json));

  const script = await runSync(base, key, '/api/v1/runs/scripts', { script: 'ls -la\nid\npwd\necho "$(cat in.txt)" > out.txt\ncat out.txt\n', files: { 'in.txt': 'z' }, stdin: 'x' });
  steps.push(step('script', script.status === 200 && result(script.json).exit_code === 0, script.json));

  // The kill paths: a wall-clock timeout and a fork bomb stopped by the pids limit (a pipeline: dash
  // cannot background a job without /dev/null, which the jail does not have).
  const spin = await runSync(base, key, '/api/v1/runs/scripts', { script: 'while :; do :; done\n', timeout_seconds: 1 });
  steps.push(step('script timeout', spin.status === 200 && result(spin.json).exit_reason === 'timeout', spin.json));
  const flood = await runSync(base, key, '/api/v1/runs/scripts', { script: 'f() { f | f; }; f\n', max_pids: 8, timeout_seconds: 5 });
  const floodReason = result(flood.json).exit_reason;
  steps.push(step('script pids flood', flood.status === 200 && (floodReason === 'pids_limit' || floodReason === 'timeout'), flood.json));

  // Cancel a queued-or-running run through the API.
  const queued = await call(base, key, 'POST', '/api/v1/runs/scripts', { script: 'while :; do :; done\n', timeout_seconds: 30 });
  const id = typeof queued.json.id === 'string' ? queued.json.id : '';
  const cancel = await call(base, key, 'POST', `/api/v1/runs/${id}/cancel`);
  steps.push(step('cancel', queued.status === 202 && cancel.status === 200 && cancel.json.state === 'cancelled', { queued: queued.json, cancel: cancel.json }));

  // A session: its own tmpfs kept between requests, files injected inside a jail, then removed.
  const session = await call(base, key, 'POST', '/api/v1/sessions', {});
  const sessionId = typeof session.json.id === 'string' ? session.json.id : '';
  const first = await runSync(base, key, '/api/v1/runs/commands', { command: 'cat a.txt', files: { 'a.txt': 'one' }, session_id: sessionId });
  const second = await runSync(base, key, '/api/v1/runs/commands', { command: 'ls', files: { 'b.txt': 'two' }, session_id: sessionId });
  const closed = await call(base, key, 'DELETE', `/api/v1/sessions/${sessionId}`);
  steps.push(step('session', session.status === 201 && result(first.json).stdout === 'one' && String(result(second.json).stdout).includes('a.txt') && closed.status === 204, { session: session.json, first: first.json, second: second.json }));

  // Terraform: validate and plan (init from the read-only mirror, the analysis jail, show -json, the plan stored).
  const validate = await runSync(base, key, '/api/v1/runs/terraform', { files: TF_CONFIG, mode: 'validate' });
  steps.push(step('terraform validate', validate.status === 200 && validate.json.state === 'succeeded', validate.json));
  const plan = await runSync(base, key, '/api/v1/runs/terraform', { files: TF_CONFIG, mode: 'plan' });
  steps.push(step('terraform plan', plan.status === 200 && plan.json.state === 'succeeded', plan.json));
  const planId = typeof plan.json.id === 'string' ? plan.json.id : '';
  const stored = await fetch(`${base}/api/v1/runs/${planId}/plan`, { headers: { 'x-api-key': key }, signal: AbortSignal.timeout(30_000) });
  await stored.arrayBuffer();
  steps.push(step('stored plan', stored.status === 200, stored.status));

  // An archive: uploaded (streamed into the artifact store), then unpacked through intake for a plan.
  const archive = await tarGz(TF_CONFIG);
  const form = new FormData();
  form.append('archive', new Blob([new Uint8Array(archive)], { type: 'application/gzip' }), 'config.tar.gz');
  form.append('mode', 'plan');
  const fromArchive = await fetch(`${base}/api/v1/runs/terraform/archive?wait=true`, { method: 'POST', headers: { 'x-api-key': key }, body: form, signal: AbortSignal.timeout(120_000) });
  const archiveJson = (await fromArchive.json()) as Json;
  steps.push(step('terraform archive plan', fromArchive.status === 200 && archiveJson.state === 'succeeded', archiveJson));

  // A blocked configuration: refused by the static policy (parsed in the analysis jail).
  const blocked = await runSync(base, key, '/api/v1/runs/terraform', { files: { 'main.tf': 'resource "terraform_data" "a" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n' } });
  steps.push(step('terraform policy refusal', blocked.status === 200 && blocked.json.state === 'failed', blocked.json));

  // A plan that reads the cloud through the door and the signing proxy (TF_EGRESS=aws).
  const egress = await runSync(base, key, '/api/v1/runs/terraform', { files: TF_EGRESS_CONFIG, mode: 'plan', credentials });
  const calls = field(egress.json, 'result').egress;
  const allowed = Array.isArray(calls) && calls.some((call: unknown) => typeof call === 'object' && call !== null && (call as Json).allowed === true);
  steps.push(step('terraform egress plan', egress.status === 200 && egress.json.state === 'succeeded' && allowed, egress.json));
  return steps;
}
