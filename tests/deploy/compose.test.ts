// compose.yaml, the seeds' quick start: read as compose reads it (interpolation included) and checked
// against the documented privileges, then started with podman exactly as written (tests/deploy/
// compose-podman.ts) to run jails for two tenants while one of them fork-bombs.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interpolate, podmanOptions } from './compose-podman.js';
import { capabilityMask, documentedCapabilities, IMAGE, PODMAN_ENV, podmanUnavailable, REPO, run, yamlDocuments, type Yaml } from './support.js';

const compose = yamlDocuments('compose.yaml')[0]!;
const service = (compose.services as Record<string, Yaml>).confine!;
const KEY_A = 'alpha-key-0123456789abcdef';
const KEY_B = 'bravo-key-0123456789abcdef';

describe('compose.yaml', () => {
  it('compose_service_grants_exactly_the_documented_capabilities_and_nothing_privileged', () => {
    expect(service.cap_drop).toEqual(['ALL']);
    expect([...(service.cap_add as string[])].sort()).toEqual(documentedCapabilities());
    for (const key of ['privileged', 'pid', 'network_mode', 'ipc', 'devices', 'userns_mode']) expect(service[key], key).toBeUndefined();
    expect(service.cgroup).toBe('private');
    expect(service.read_only).toBe(true);
    expect(service.image).toBe(IMAGE);
  });

  it('compose_service_runs_under_the_generated_seccomp_profile_with_no_new_privileges', () => {
    const opts = service.security_opt as string[];
    expect(opts).toContain('no-new-privileges:true');
    const seccomp = opts.filter((o) => o.startsWith('seccomp='));
    expect(seccomp).toEqual(['seccomp=./security/seccomp.json']);
    expect(existsSync(`${REPO}security/seccomp.json`)).toBe(true);
    expect(opts.some((o) => o.includes('unconfined') && o.startsWith('seccomp'))).toBe(false);
  });

  it('compose_service_takes_api_keys_from_the_environment_and_refuses_to_start_without_them', () => {
    const env = service.environment as Record<string, string>;
    expect(interpolate(env.API_KEYS!, { API_KEYS: `alpha:${KEY_A}` })).toBe(`alpha:${KEY_A}`);
    expect(() => interpolate(env.API_KEYS!, {})).toThrow(/API_KEYS: set API_KEYS=tenant:key/);
    expect(interpolate(env.HOST!, {})).toBe('0.0.0.0');
    expect(interpolate((service.ports as string[])[0]!, {})).toBe('127.0.0.1:8000:8000');
    expect(interpolate((service.ports as string[])[0]!, { CONFINE_PORT: '9000' })).toBe('127.0.0.1:9000:8000');
  });

  it('compose_service_state_dir_is_a_volume_and_its_healthcheck_asks_ready', () => {
    expect(service.volumes).toContain('confine-state:/var/lib/confine');
    expect(Object.keys(compose.volumes as Yaml)).toContain('confine-state');
    expect(JSON.stringify((service.healthcheck as Yaml).test)).toContain('/ready');
  });
});

describe('compose.yaml started with podman as written', () => {
  const name = `confine-compose-test-${process.pid}`;
  let unavailable: string | null = null;
  let started = false;

  beforeAll(async () => {
    unavailable = await podmanUnavailable();
    // Loud: a skipped container check must never look like a passed one.
    if (unavailable) process.stderr.write(`\n!!! tests/deploy/compose.test.ts podman check CANNOT RUN: ${unavailable} (fails unless CONFINE_ALLOW_NO_CONTAINER=1) !!!\n\n`);
  });

  afterAll(async () => {
    if (!started) return;
    await run('podman', ['rm', '-f', '-t', '0', name], PODMAN_ENV);
    await run('podman', ['volume', 'rm', '-f', name], PODMAN_ENV);
  });

  /** A request from inside the container's own network namespace (the test runs it with --network=none). */
  async function call(method: string, path: string, key: string | null, body?: object): Promise<{ status: number; json: Yaml }> {
    const script = `const [m, p, k, b] = process.argv.slice(1);
      const headers = { 'content-type': 'application/json' }; if (k) headers['x-api-key'] = k;
      fetch('http://127.0.0.1:8000' + p, { method: m, headers, ...(b ? { body: b } : {}) })
        .then(async (r) => console.log(JSON.stringify({ status: r.status, text: await r.text() })), (e) => console.log(JSON.stringify({ status: 0, text: String(e) })));`;
    const out = await run('podman', ['exec', name, 'node', '-e', script, method, path, key ?? '', body ? JSON.stringify(body) : ''], PODMAN_ENV);
    const line = JSON.parse(out.stdout.trim().split('\n').pop() || '{"status":0,"text":""}') as { status: number; text: string };
    return { status: line.status, json: line.text.startsWith('{') ? (JSON.parse(line.text) as Yaml) : {} };
  }

  it('compose_service_started_as_written_runs_jails_for_two_tenants_while_one_fork_bombs', async (ctx) => {
    if (unavailable) {
      // Like make test-container: not being able to run is a failure unless the environment accepts it.
      expect(process.env.CONFINE_ALLOW_NO_CONTAINER, `cannot start compose.yaml with podman: ${unavailable} (CONFINE_ALLOW_NO_CONTAINER=1 accepts that)`).toBe('1');
      return ctx.skip();
    }
    const { options, image } = podmanOptions(service, { API_KEYS: `alpha:${KEY_A},bravo:${KEY_B}` }, REPO, () => name);
    const up = await run('podman', ['run', '-d', '--name', name, '--network=none', ...options, image], PODMAN_ENV);
    started = true;
    expect(up.code, up.stderr).toBe(0);

    let ready = { status: 0, json: {} as Yaml };
    for (let i = 0; i < 120 && ready.status !== 200; i++) {
      ready = await call('GET', '/ready', null);
      if (ready.status !== 200) await new Promise((r) => setTimeout(r, 500));
    }
    const logs = async (): Promise<string> => (await run('podman', ['logs', name], PODMAN_ENV)).stderr;
    expect(ready.status, await logs()).toBe(200);

    // The service's own profile is the one in force, not the engine's default: podman's default allows
    // ioprio_set (ionice), security/seccomp.json does not (the service never calls it).
    const ionice = await run('podman', ['exec', name, 'ionice', '-c', '3', 'true'], PODMAN_ENV);
    expect(ionice.code).not.toBe(0);
    expect(ionice.stderr).toContain('ioprio_set failed: Operation not permitted');
    const status = await run('podman', ['exec', name, 'grep', '-E', '^(Seccomp|NoNewPrivs|CapEff):', '/proc/1/status'], PODMAN_ENV);
    expect(status.stdout).toMatch(/NoNewPrivs:\s+1/);
    expect(status.stdout).toMatch(/Seccomp:\s+2/);
    // Exactly the documented capabilities are in effect for the service (pid 1 after the entrypoint's exec).
    const capEff = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(status.stdout)?.[1] ?? '0'}`);
    expect(capEff).toBe(capabilityMask(documentedCapabilities()));

    // The healthcheck exactly as compose runs it.
    const check = (service.healthcheck as { test: string[] }).test;
    expect(check[0]).toBe('CMD');
    expect((await run('podman', ['exec', name, ...check.slice(1)], PODMAN_ENV)).code).toBe(0);

    const [bomb, echo] = await Promise.all([
      call('POST', '/api/v1/runs/scripts?wait=true', KEY_A, { script: 'f() { f | f; }; f\n', max_pids: 16, timeout_seconds: 10 }),
      call('POST', '/api/v1/runs/commands?wait=true', KEY_B, { command: 'echo hello' }),
    ]);
    const runOf = (r: { json: Yaml }): Yaml => ((r.json.result as Yaml | undefined)?.run ?? {}) as Yaml;
    expect(['pids_limit', 'timeout'], JSON.stringify(bomb.json)).toContain(runOf(bomb).exit_reason);
    expect(echo.status).toBe(200);
    expect(runOf(echo).stdout, JSON.stringify(echo.json)).toBe('hello\n');

    const plan = await call('POST', '/api/v1/runs/terraform?wait=true', KEY_A, {
      files: { 'main.tf': 'resource "terraform_data" "a" {\n  input = "compose"\n}\n' }, mode: 'plan',
    });
    expect(plan.json.state, JSON.stringify(plan.json).slice(0, 800)).toBe('succeeded');
    expect((await call('POST', '/api/v1/runs/commands?wait=true', null, { command: 'echo x' })).status).toBe(401);

    // A clean stop within compose's grace period: the service drains and exits 0.
    const grace = Number.parseInt(String(service.stop_grace_period), 10);
    expect((await run('podman', ['stop', '-t', String(grace), name], PODMAN_ENV, (grace + 30) * 1000)).code).toBe(0);
    const exit = await run('podman', ['inspect', '-f', '{{.State.ExitCode}}', name], PODMAN_ENV);
    expect(exit.stdout.trim(), await logs()).toBe('0');
  }, 300_000);
});
