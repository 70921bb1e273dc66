// Checks run against a started confine container (compose.yaml or the Kubernetes Deployment, both started
// with podman): requests from inside its own network namespace, readiness, and the privileges in force.
import { expect } from 'vitest';
import { capabilityMask, documentedCapabilities, PODMAN_ENV, run, type Yaml } from './support.js';

export interface Reply {
  status: number;
  json: Yaml;
}

/** A request made by node inside the container (works with --network=none too). */
export async function callIn(container: string, method: string, path: string, key: string | null, body?: object): Promise<Reply> {
  const script = `const [m, p, k, b] = process.argv.slice(1);
    const headers = { 'content-type': 'application/json' }; if (k) headers['x-api-key'] = k;
    fetch('http://127.0.0.1:8000' + p, { method: m, headers, ...(b ? { body: b } : {}) })
      .then(async (r) => console.log(JSON.stringify({ status: r.status, text: await r.text() })), (e) => console.log(JSON.stringify({ status: 0, text: String(e) })));`;
  const out = await run('podman', ['exec', container, 'node', '-e', script, method, path, key ?? '', body ? JSON.stringify(body) : ''], PODMAN_ENV);
  const line = JSON.parse(out.stdout.trim().split('\n').pop() || '{"status":0,"text":""}') as { status: number; text: string };
  return { status: line.status, json: line.text.startsWith('{') ? (JSON.parse(line.text) as Yaml) : {} };
}

export async function logsOf(container: string): Promise<string> {
  const out = await run('podman', ['logs', container], PODMAN_ENV);
  return `${out.stdout}${out.stderr}`;
}

/** Waits (up to 60 s) for /ready to answer 200. */
export async function waitReady(container: string): Promise<void> {
  let ready: Reply = { status: 0, json: {} };
  for (let i = 0; i < 120 && ready.status !== 200; i++) {
    ready = await callIn(container, 'GET', '/ready', null);
    if (ready.status !== 200) await new Promise((r) => setTimeout(r, 500));
  }
  expect(ready.status, await logsOf(container)).toBe(200);
}

/**
 * The privileges the service (pid 1 after the entrypoint's exec) really holds: exactly the documented
 * capabilities, no_new_privs, a seccomp filter that is the service's own profile (podman's default allows
 * ioprio_set, security/seccomp.json does not), and a read-only root filesystem.
 */
export async function expectDocumentedPrivileges(container: string): Promise<void> {
  const status = await run('podman', ['exec', container, 'grep', '-E', '^(Seccomp|NoNewPrivs|CapEff|CapBnd):', '/proc/1/status'], PODMAN_ENV);
  expect(status.stdout).toMatch(/NoNewPrivs:\s+1/);
  expect(status.stdout).toMatch(/Seccomp:\s+2/);
  for (const set of ['CapEff', 'CapBnd']) {
    const hex = new RegExp(`${set}:\\s+([0-9a-f]+)`).exec(status.stdout)?.[1] ?? '0';
    expect(BigInt(`0x${hex}`), set).toBe(capabilityMask(documentedCapabilities()));
  }
  const ionice = await run('podman', ['exec', container, 'ionice', '-c', '3', 'true'], PODMAN_ENV);
  expect(ionice.code).not.toBe(0);
  expect(ionice.stderr).toContain('ioprio_set failed: Operation not permitted');
  const write = await run('podman', ['exec', container, 'touch', '/usr/local/lib/confine/probe'], PODMAN_ENV);
  expect(write.stderr).toContain('Read-only file system');
}

const runOf = (reply: Reply): Yaml => ((reply.json.result as Yaml | undefined)?.run ?? {}) as Yaml;

/** Tenant A fork-bombs while tenant B's command is answered; then a terraform plan; then no key, no run. */
export async function expectJailsServeTwoTenants(container: string, keyA: string, keyB: string): Promise<void> {
  const [bomb, echo] = await Promise.all([
    callIn(container, 'POST', '/api/v1/runs/scripts?wait=true', keyA, { script: 'f() { f | f; }; f\n', max_pids: 16, timeout_seconds: 10 }),
    callIn(container, 'POST', '/api/v1/runs/commands?wait=true', keyB, { command: 'echo hello' }),
  ]);
  expect(['pids_limit', 'timeout'], JSON.stringify(bomb.json)).toContain(runOf(bomb).exit_reason);
  expect(echo.status).toBe(200);
  expect(runOf(echo).stdout, JSON.stringify(echo.json)).toBe('hello\n');
  const plan = await callIn(container, 'POST', '/api/v1/runs/terraform?wait=true', keyA, {
    files: { 'main.tf': 'resource "terraform_data" "a" {\n  input = "deploy"\n}\n' }, mode: 'plan',
  });
  expect(plan.json.state, JSON.stringify(plan.json).slice(0, 800)).toBe('succeeded');
  expect((await callIn(container, 'POST', '/api/v1/runs/commands?wait=true', null, { command: 'echo x' })).status).toBe(401);
}
