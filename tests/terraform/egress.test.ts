// Issue 11 end to end: with TF_EGRESS=aws a credentialed plan's plan step (only it) reaches the cloud
// through its door and the per-run signing proxy, with placeholder keys in the jail; real terraform, the
// real AWS provider from the mirror, real jails, and a fake AWS upstream that verifies every signature
// against the REAL credentials. Its plan JSON equals bare terraform's straight against the same fake.
// Egress off (the default): a credentialed AWS plan is refused at once instead of hanging.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EgressCallSchema } from '../../src/api/schemas.js';
import { loadConfig } from '../../src/config/settings.js';
import { EGRESS_OFF_MESSAGE, openEgress, PLACEHOLDER_ACCESS_KEY_ID, PLACEHOLDER_SECRET_ACCESS_KEY } from '../../src/domains/terraform/egress-step.js';
import { createTerraformRunner } from '../../src/domains/terraform/index.js';
import { TERRAFORM_BIN_IN_JAIL } from '../../src/domains/terraform/profile.js';
import type { TerraformResult } from '../../src/domains/terraform/types.js';
import type { JailSpec } from '../../src/jail/spec.js';
import { call, KEY_A, KEY_B, startService } from '../api/support.js';
import { startFakeAws, type FakeAws } from '../egress/fake-aws.js';
import { hostPlan } from '../egress/host-terraform.js';
import { REAL } from '../egress/support.js';
import { testHost } from '../support/jail.js';
import { withoutTimestamps } from './support/bare.js';
import { recordingHost } from './support/recording-host.js';
import { files, testConfig } from './support/runner.js';
import { DATA_SOURCES, PROVIDER } from '../egress/configs.js';


const CALLER = `${PROVIDER}data "aws_caller_identity" "me" {}\noutput "account" {\n  value = data.aws_caller_identity.me.account_id\n}\n`;


const PLAIN = 'resource "terraform_data" "a" {\n  input = "plain"\n}\n';

let fake: FakeAws;
beforeAll(async () => {
  fake = await startFakeAws(REAL);
  fake.objects.set('confine-bucket/config/settings.json', { body: '{"size":"small"}', contentType: 'application/json' });
});
afterAll(async () => {
  await fake.close();
});

/** Generous: the AWS provider starts in three steps on a loaded 2-core machine. */
const egressEnv = (): Record<string, string> => ({ TF_EGRESS: 'aws', TF_EGRESS_UPSTREAM_URL: fake.url, MAX_EXECUTION_TIME: '240' });

/** One unsigned GET over the proxy's unix socket (as the door would relay it); resolves to the status. */
function unixGet(socketPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/', method: 'GET', headers: { host: '127.0.0.1:8080' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

function realValuesIn(text: string): string[] {
  return [REAL.aws_access_key_id, REAL.aws_secret_access_key, REAL.aws_session_token ?? ''].filter((value) => value !== '' && text.includes(value));
}

function terraformSpecs(specs: JailSpec[]): Record<string, JailSpec> {
  return Object.fromEntries(specs.filter((spec) => spec.argv[0] === TERRAFORM_BIN_IN_JAIL).map((spec) => [spec.argv[1]!, spec]));
}

async function runWith(env: Record<string, string>, request: Parameters<ReturnType<typeof createTerraformRunner>['run']>[0]): Promise<{ result: TerraformResult; specs: JailSpec[] }> {
  const specs: JailSpec[] = [];
  const runner = createTerraformRunner(recordingHost(await testHost(), specs), testConfig(env));
  return { result: await runner.run(request), specs };
}

describe('terraform egress through the door', () => {
  it('five_data_sources_plan_through_the_door_equal_bare_terraform_and_each_call_is_listed', async () => {
    const before = fake.requests.length;
    const { result, specs } = await runWith(egressEnv(), { mode: 'plan', input: files({ 'main.tf': DATA_SOURCES }), credentials: REAL });
    expect(result.error).toBeNull();
    const upstream = fake.requests.slice(before);
    const bare = await hostPlan(DATA_SOURCES, { endpoint: fake.url, accessKeyId: REAL.aws_access_key_id, secretAccessKey: REAL.aws_secret_access_key, sessionToken: REAL.aws_session_token ?? '' });
    expect(bare.output).toBe('');
    expect(withoutTimestamps(result.plan_json)).toEqual(withoutTimestamps(bare.plan));
    expect(JSON.stringify(result.plan_json)).toContain('ami-0abcdef1234567890'); // the values came from the fake
    // Every call reached the fake re-signed with the real credentials; the result names each one.
    expect(upstream.length).toBeGreaterThanOrEqual(8);
    expect(upstream.every((request) => request.signatureOk)).toBe(true);
    const egress = result.egress ?? [];
    expect(egress.length).toBe(upstream.length);
    for (const entry of egress) expect(Value.Check(EgressCallSchema, entry), JSON.stringify(entry)).toBe(true);
    expect(egress.every((entry) => entry.allowed && entry.status === 200 && entry.region === 'us-east-1')).toBe(true);
    const names = new Set(egress.map((entry) => `${entry.service}:${entry.action}`));
    for (const name of ['sts:GetCallerIdentity', 'ec2:DescribeAvailabilityZones', 'ec2:DescribeImages', 'ec2:DescribeVpcs', 's3:HEAD', 's3:GET']) {
      expect(names.has(name), name).toBe(true);
    }
    // Only the plan step had a door, and it held placeholders; no jail was given a real value.
    const steps = terraformSpecs(specs);
    expect(Object.keys(steps).sort()).toEqual(['init', 'plan', 'show']);
    const plan = steps['plan']!;
    expect(plan.network?.netnsPath).toMatch(/^\/proc\/\d+\/ns\/net$/);
    expect(plan.seccompProfile).toBe('terraform-egress');
    expect(plan.env).toMatchObject({
      AWS_ACCESS_KEY_ID: PLACEHOLDER_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: PLACEHOLDER_SECRET_ACCESS_KEY,
      AWS_ENDPOINT_URL: 'http://127.0.0.1:8080',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    expect(plan.env['AWS_SESSION_TOKEN']).toBeUndefined();
    for (const name of ['init', 'show']) {
      expect(steps[name]!.network).toBeUndefined();
      expect(steps[name]!.seccompProfile).toBe('terraform');
      expect(steps[name]!.env['AWS_ENDPOINT_URL']).toBeUndefined();
    }
    expect(specs.flatMap((spec) => realValuesIn(JSON.stringify(spec)))).toEqual([]);
    expect(realValuesIn(JSON.stringify(result))).toEqual([]);
    // The door was closed with the step: its namespace (a /proc path of the door process) is gone.
    expect(existsSync(plan.network!.netnsPath)).toBe(false);
  }, 300_000);

  it('refused_call_fails_the_plan_naming_it_security_violation_while_another_run_succeeds', async () => {
    const iam = `${PROVIDER}data "aws_iam_user" "admin" {\n  user_name = "admin"\n}\n`;
    const [refused, other] = await Promise.all([
      runWith(egressEnv(), { mode: 'plan', input: files({ 'main.tf': iam }), credentials: REAL }),
      runWith(egressEnv(), { mode: 'plan', input: files({ 'main.tf': PLAIN }) }),
    ]);
    expect(refused.result.error).toMatchObject({ type: 'security_violation', message: 'egress refused iam:GetUser (service iam is not allowlisted)' });
    expect(refused.result.egress).toContainEqual(expect.objectContaining({ service: 'iam', action: 'GetUser', allowed: false, status: 403 }));
    // terraform saw an AWS-shaped AccessDenied naming the reason.
    expect(JSON.stringify(refused.result.diagnostics)).toContain('confine egress: service iam is not allowlisted');
    expect(realValuesIn(JSON.stringify(refused.result))).toEqual([]);
    const door = terraformSpecs(refused.specs)['plan']!.network!.netnsPath;
    expect(existsSync(door)).toBe(false);
    // The concurrent run (no credentials) planned normally, with no door.
    expect(other.result.error).toBeNull();
    expect(other.result.egress).toBeUndefined();
    expect(other.specs.every((spec) => spec.network === undefined)).toBe(true);
  }, 300_000);

  it('over_the_request_cap_is_resource_limit_and_a_failing_door_close_is_reported_not_returned', async () => {
    // A door whose close() fails after really closing: the run's own outcome stands, the failure is reported.
    const host = await testHost();
    const specs: JailSpec[] = [];
    const recorded = recordingHost(host, specs);
    const failingClose = new Proxy(recorded, {
      get(target, prop, receiver) {
        if (prop !== 'openDoor') return Reflect.get(target, prop, receiver);
        return async (options: Parameters<typeof host.openDoor>[0]) => {
          const door = await host.openDoor(options);
          return { ...door, close: async () => { await door.close(); throw new Error('door close failed (test)'); } };
        };
      },
    });
    const cleanupErrors: string[] = [];
    const runner = createTerraformRunner(failingClose, testConfig({ ...egressEnv(), TF_EGRESS_MAX_REQUESTS: '1' }));
    const result = await runner.run(
      { mode: 'plan', input: files({ 'main.tf': CALLER }), credentials: REAL },
      { onCleanupError: (what, error) => cleanupErrors.push(`${what}: ${(error as Error).message}`) },
    );
    expect(result.error?.type).toBe('resource_limit');
    expect(result.error?.message).toMatch(/^egress refused \S+ \(request cap reached for this run\)$/);
    expect(result.egress?.filter((entry) => entry.allowed)).toHaveLength(1);
    expect(result.egress?.filter((entry) => !entry.allowed).length).toBeGreaterThanOrEqual(1);
    expect(cleanupErrors).toEqual(['egress door and proxy: door close failed (test)']);
    expect(existsSync(terraformSpecs(specs)['plan']!.network!.netnsPath)).toBe(false);
  }, 300_000);

  it('http_api_plan_returns_egress_calls_and_the_audit_log_records_them', async () => {
    const svc = await startService(egressEnv());
    try {
      const [r, plain] = await Promise.all([
        call(svc.base, 'POST', '/api/v1/runs/terraform?wait=true', { key: KEY_A, json: { files: { 'main.tf': CALLER }, mode: 'plan', credentials: REAL } }),
        call(svc.base, 'POST', '/api/v1/runs/terraform?wait=true', { key: KEY_B, json: { files: { 'main.tf': PLAIN }, mode: 'plan' } }),
      ]);
      expect(r.status, r.text).toBe(200);
      expect(r.body['state']).toBe('succeeded');
      const egress: unknown = r.body['result']['egress'];
      expect(egress).toContainEqual(expect.objectContaining({ service: 'sts', action: 'GetCallerIdentity', region: 'us-east-1', allowed: true, status: 200 }));
      expect(r.body['result']['plan_json']['planned_values']['outputs']['account']['value']).toMatch(/^\d{12}$/);
      expect(plain.body['state']).toBe('succeeded');
      expect(plain.body['result']['egress']).toBeUndefined();
      const audit = await svc.audit();
      const finished = audit.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((entry) => entry['event'] === 'run_finished' && entry['run_id'] === r.body['id']);
      expect(finished?.['egress']).toEqual(egress);
      expect(realValuesIn(r.text + svc.logs() + audit)).toEqual([]);
    } finally {
      await svc.close();
    }
  }, 300_000);
});

describe('terraform egress switched off or not needed', () => {
  it('egress_off_credentialed_aws_plan_fails_fast_validation_error', async () => {
    const started = performance.now();
    const { result, specs } = await runWith({}, { mode: 'plan', input: files({ 'main.tf': CALLER }), credentials: REAL });
    const ms = performance.now() - started;
    expect(result.error).toEqual({ type: 'validation_error', message: EGRESS_OFF_MESSAGE, detail: 'the plan uses the AWS provider and the request carries credentials' });
    expect(result.steps).toEqual([]);
    expect(Object.keys(terraformSpecs(specs))).toEqual([]); // only the analysis jail ran
    expect(realValuesIn(JSON.stringify(result))).toEqual([]);
    // Generous: measured ~0.2 s; it used to hang until MAX_EXECUTION_TIME (300 s) retrying STS.
    expect(ms).toBeLessThan(20_000);
  });

  it('egress_on_without_credentials_or_without_aws_provider_plans_with_no_door', async () => {
    const runs = await Promise.all([
      runWith(egressEnv(), { mode: 'plan', input: files({ 'main.tf': PLAIN }) }),
      runWith(egressEnv(), { mode: 'plan', input: files({ 'main.tf': PLAIN }), credentials: REAL }),
    ]);
    for (const { result, specs } of runs) {
      expect(result.error).toBeNull();
      expect(result.egress).toBeUndefined();
      const plan = terraformSpecs(specs)['plan']!;
      expect(plan.network).toBeUndefined();
      expect(plan.seccompProfile).toBe('terraform');
      expect(plan.env['AWS_ENDPOINT_URL']).toBeUndefined();
      expect(specs.flatMap((spec) => realValuesIn(JSON.stringify(spec)))).toEqual([]);
    }
  });

  it('calls_past_the_request_cap_are_counted_not_kept_and_the_socket_dir_is_removed', async () => {
    // The proxy answers every call, refused past the cap; a jail looping on refusals must not grow the
    // result (or the audit entry): a few refusals are listed, the rest counted.
    const stateDir = await mkdtemp(join(tmpdir(), 'confine-egress-state-'));
    let socketPath = '';
    const doors = {
      openDoor: (options: { socketPath: string }) => {
        socketPath = options.socketPath;
        return Promise.resolve({ netnsPath: '/proc/self/ns/net', close: () => Promise.resolve() });
      },
    };
    const config = { ...loadConfig({ TF_EGRESS: 'aws', TF_EGRESS_MAX_REQUESTS: '2' }).egress };
    const egress = await openEgress({ doors, stateDir, config, credentials: REAL, owner: { uid: 0, gid: 0 } });
    try {
      for (let i = 0; i < 30; i++) expect(await unixGet(socketPath)).toBe(403);
      expect(egress.calls()).toHaveLength(2 + 10);
      expect(egress.dropped()).toBe(30 - 12);
      expect(egress.calls().slice(2).every((entry) => !entry.allowed && entry.reason === 'request cap reached for this run')).toBe(true);
    } finally {
      await egress.close();
    }
    expect(await readdir(join(stateDir, 'egress'))).toEqual([]);
    await rm(stateDir, { recursive: true, force: true });
  });

  it('egress_settings_are_checked_at_load_naming_the_variable', () => {
    expect(loadConfig({}).egress).toEqual({
      mode: 'off', services: ['sts', 'ec2', 's3'], regions: ['us-east-1'], actions: [], maxRequests: 200, maxBytes: 64 * 1024 * 1024, callTimeoutMs: 30_000, upstreamUrl: '', port: 8080,
    });
    expect(loadConfig({ TF_EGRESS: 'aws', TF_EGRESS_UPSTREAM_URL: 'http://127.0.0.1:9000/', TF_EGRESS_ACTIONS: 'ec2:RunInstances, s3:PUT,ssm:GetParameter*' }).egress).toMatchObject({
      mode: 'aws', upstreamUrl: 'http://127.0.0.1:9000', actions: ['ec2:RunInstances', 's3:PUT', 'ssm:GetParameter*'],
    });
    const refusals: [Record<string, string>, RegExp][] = [
      [{ TF_EGRESS: 'gcp' }, /^TF_EGRESS: expected one of off, aws/],
      [{ TF_EGRESS_UPSTREAM_URL: 'not a url' }, /^TF_EGRESS_UPSTREAM_URL: not a URL/],
      [{ TF_EGRESS_UPSTREAM_URL: 'ftp://example.com' }, /^TF_EGRESS_UPSTREAM_URL: expected http:\/\/ or https:\/\//],
      [{ TF_EGRESS_UPSTREAM_URL: 'https://example.com/prefix' }, /^TF_EGRESS_UPSTREAM_URL: expected an origin only/],
      [{ TF_EGRESS_UPSTREAM_URL: 'https://user:pw@example.com' }, /^TF_EGRESS_UPSTREAM_URL: expected an origin only/],
      [{ TF_EGRESS_ACTIONS: 'RunInstances' }, /^TF_EGRESS_ACTIONS: invalid entry "RunInstances"/],
      [{ TF_EGRESS_PORT: '70000' }, /^TF_EGRESS_PORT: must be at most 65535/],
      [{ TF_EGRESS_MAX_REQUESTS: '0' }, /^TF_EGRESS_MAX_REQUESTS: must be at least 1/],
      [{ TF_EGRESS_SERVICES: 'ec2;iam' }, /^TF_EGRESS_SERVICES: invalid entry/],
    ];
    for (const [env, message] of refusals) expect(() => loadConfig(env), JSON.stringify(env)).toThrow(message);
  });
});
