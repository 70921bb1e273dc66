// compose.yaml, the seeds' quick start: read as compose reads it (interpolation included) and checked
// against the documented privileges, then started with podman exactly as written (tests/deploy/
// compose-podman.ts) to run jails for two tenants while one of them fork-bombs.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interpolate, podmanOptions } from './compose-podman.js';
import { expectDocumentedPrivileges, expectJailsServeTwoTenants, logsOf, waitReady } from './in-container.js';
import { documentedCapabilities, IMAGE, PODMAN_ENV, podmanUnavailable, REPO, run, yamlDocuments, type Yaml } from './support.js';

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

    await waitReady(name);
    await expectDocumentedPrivileges(name);
    // The healthcheck exactly as compose runs it.
    const check = (service.healthcheck as { test: string[] }).test;
    expect(check[0]).toBe('CMD');
    expect((await run('podman', ['exec', name, ...check.slice(1)], PODMAN_ENV)).code).toBe(0);
    await expectJailsServeTwoTenants(name, KEY_A, KEY_B);

    // A clean stop within compose's grace period: the service drains and exits 0.
    const grace = Number.parseInt(String(service.stop_grace_period), 10);
    expect((await run('podman', ['stop', '-t', String(grace), name], PODMAN_ENV, (grace + 30) * 1000)).code).toBe(0);
    const exit = await run('podman', ['inspect', '-f', '{{.State.ExitCode}}', name], PODMAN_ENV);
    expect(exit.stdout.trim(), await logsOf(name)).toBe('0');
  }, 300_000);
});
