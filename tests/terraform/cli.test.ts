// `confine plan` end to end: the real CLI process, real jails, JSON shape, plan file, exit status.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_STATE_DIR, TEST_UID_BASE } from '../support/jail.js';
import { ACCOUNT_ID } from '../egress/fake-aws-bodies.js';
import { startFakeAws, type FakeAws } from '../egress/fake-aws.js';
import { buildZip } from './support/archives.js';
import { PLANTED } from './support/runner.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../bin/confine', import.meta.url));
const ENV = { ...process.env, CONFINE_STATE_DIR: TEST_STATE_DIR, CONFINE_UID_BASE: String(TEST_UID_BASE), CONFINE_UID_COUNT: '512', NO_COLOR: '1' };

async function confine(args: string[], env: NodeJS.ProcessEnv = ENV): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(CLI, args, { env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('confine plan', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'confine-cli-'));
    await writeFile(join(dir, 'main.tf'), 'resource "terraform_data" "a" {\n  input = "x"\n}\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('plan_json_prints_contract_and_writes_plan_file_exit_0', async () => {
    const out = join(dir, 'plan.json');
    const result = await confine(['plan', dir, '--json', '--out', out]);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual(['diagnostics', 'error', 'findings', 'plan_path', 'status', 'steps', 'summary']);
    expect(parsed).toMatchObject({ status: 'succeeded', error: null, plan_path: out, summary: { add: 1 } });
    const plan = JSON.parse(await readFile(out, 'utf8')) as { resource_changes: { address: string }[] };
    expect(plan.resource_changes.map((r) => r.address)).toEqual(['terraform_data.a']);
    expect((await stat(out)).mode & 0o777).toBe(0o600); // the plan may hold sensitive values
    // Progress per step on stderr while it runs.
    expect(result.stderr).toMatch(/terraform init[\s\S]*terraform plan[\s\S]*terraform show/);
  });

  it('readable_summary_shows_table_steps_and_findings_with_lines', async () => {
    const zip = join(dir, 'upload.zip');
    await writeFile(zip, buildZip([
      { name: 'main.tf', content: 'resource "terraform_data" "a" {}\n\nresource "terraform_data" "b" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n' },
    ]));
    const warned = await run(CLI, ['plan', zip], { env: { ...ENV, TF_POLICY_WARN: 'provisioner' } });
    expect(warned.stdout).toMatch(/Plan: 2 to add/);
    expect(warned.stdout).toMatch(/terraform_data\.b/);
    expect(warned.stdout).toMatch(/warn\s+provisioner main\.tf:4/);
    expect(warned.stdout).toMatch(/plan\s.*exited 0/);
  });

  it('validate_mode_with_error_exits_non_zero', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'confine-cli-bad-'));
    try {
      await writeFile(join(bad, 'main.tf'), 'output "x" {\n  value = nope.x\n}\n');
      const result = await confine(['plan', bad, '--mode', 'validate', '--json']);
      expect(result.code).toBe(1);
      expect(JSON.parse(result.stdout)).toMatchObject({ status: 'failed', error: { type: 'validation_error' }, plan_path: null });
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });

  it('blocked_policy_exits_non_zero_with_security_violation', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'confine-cli-bad-'));
    try {
      await writeFile(join(bad, 'main.tf'), 'data "http" "x" {\n  url = "http://169.254.169.254/"\n}\n');
      const result = await confine(['plan', bad]);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/security_violation/);
      expect(result.stdout).toMatch(/data_http main\.tf:1/);
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });
});

// Issue 11: the person running the CLI is the operator. Credentials given on the command line turn egress
// on for that run (read-only default policy) unless TF_EGRESS is set; the real AWS provider plans through
// the host-side proxy against a fake AWS that accepts only the planted credentials' signatures.
describe('confine plan with credentials', () => {
  const CALLER = 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "5.100.0" }\n  }\n}\nprovider "aws" {\n  region = "us-east-1"\n}\ndata "aws_caller_identity" "me" {}\nresource "terraform_data" "account" {\n  input = data.aws_caller_identity.me.account_id\n}\n';
  let dir: string;
  let fake: FakeAws;
  let egressEnv: NodeJS.ProcessEnv;
  beforeAll(async () => {
    fake = await startFakeAws(PLANTED);
    dir = await mkdtemp(join(tmpdir(), 'confine-cli-egress-'));
    await writeFile(join(dir, 'main.tf'), CALLER);
    // TF_EGRESS unset (the CLI turns it on) and no AWS_* of whoever runs the tests.
    const unset = new Set(['TF_EGRESS', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);
    egressEnv = { ...Object.fromEntries(Object.entries(ENV).filter(([name]) => !unset.has(name))), TF_EGRESS_UPSTREAM_URL: fake.url };
  });
  afterAll(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  const noSecret = (text: string): void => {
    for (const value of Object.values(PLANTED)) expect(text.includes(value), 'planted credential in CLI output').toBe(false);
  };

  it('credentials_file_turns_egress_on_and_json_lists_the_calls_exit_0', async () => {
    const file = join(dir, 'creds.json');
    await writeFile(file, JSON.stringify(PLANTED), { mode: 0o600 });
    const before = fake.requests.length;
    const result = await confine(['plan', join(dir), '--credentials-file', file, '--json'], egressEnv);
    expect(result.stderr).not.toMatch(/warning/);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { status: string; egress: { service: string; action: string; allowed: boolean; status: number }[] };
    expect(parsed).toMatchObject({ status: 'succeeded', error: null, summary: { add: 1 } });
    expect(parsed.egress).toContainEqual(expect.objectContaining({ service: 'sts', action: 'GetCallerIdentity', region: 'us-east-1', allowed: true, status: 200 }));
    // The call reached the upstream re-signed with the real credentials, which only the CLI process held.
    const upstream = fake.requests.slice(before);
    expect(upstream.length).toBeGreaterThan(0);
    expect(upstream.every((r) => r.signatureOk)).toBe(true);
    noSecret(result.stdout + result.stderr);
  }, 240_000);

  it('aws_env_flag_takes_the_environment_credentials_and_prints_the_egress_table', async () => {
    const env = { ...egressEnv, AWS_ACCESS_KEY_ID: PLANTED.aws_access_key_id, AWS_SECRET_ACCESS_KEY: PLANTED.aws_secret_access_key, AWS_SESSION_TOKEN: PLANTED.aws_session_token };
    const out = join(dir, 'plan-env.json');
    const result = await confine(['plan', dir, '--aws-env', '--out', out], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Egress 1 call\b|Egress \d+ calls/);
    expect(result.stdout).toMatch(/sts\s*│\s*GetCallerIdentity\s*│\s*us-east-1\s*│\s*200/);
    expect(result.stdout).toMatch(/allowed/);
    expect(await readFile(out, 'utf8')).toContain(ACCOUNT_ID); // the plan holds what the cloud answered
    noSecret(result.stdout + result.stderr + (await readFile(out, 'utf8')));
  }, 240_000);

  it('credentials_with_tf_egress_off_fail_fast_with_validation_error', async () => {
    const file = join(dir, 'creds-off.json');
    await writeFile(file, JSON.stringify(PLANTED), { mode: 0o600 });
    const before = fake.requests.length;
    const started = performance.now();
    const result = await confine(['plan', dir, '--credentials-file', file, '--json'], { ...egressEnv, TF_EGRESS: 'off' });
    // Before issue 11 this hung until the 300 s run timeout; the bound is generous, not an expectation.
    expect(performance.now() - started).toBeLessThan(60_000);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'failed', error: { type: 'validation_error', message: expect.stringContaining('TF_EGRESS') } });
    expect(fake.requests.length).toBe(before);
    noSecret(result.stdout + result.stderr);
  }, 120_000);

  it('world_readable_credentials_file_runs_with_a_warning', async () => {
    const file = join(dir, 'creds-open.json');
    await writeFile(file, JSON.stringify(PLANTED));
    await chmod(file, 0o644);
    // validate mode: the credentials are read and checked, no plan step (so no door) is needed.
    const result = await confine(['plan', dir, '--mode', 'validate', '--credentials-file', file, '--json'], egressEnv);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`confine: warning: ${file} is readable by other users (chmod 600 ${file})`);
    noSecret(result.stdout + result.stderr);
  }, 120_000);

  it('bad_credentials_input_is_a_usage_error_exit_2_without_echoing_values', async () => {
    const cases: { args: string[]; env?: NodeJS.ProcessEnv; message: RegExp }[] = [];
    const wrongField = join(dir, 'wrong-field.json');
    await writeFile(wrongField, JSON.stringify({ aws_access_key_id: PLANTED.aws_access_key_id, aws_secret_access_key: `${PLANTED.aws_secret_access_key} with spaces` }), { mode: 0o600 });
    cases.push({ args: ['--credentials-file', wrongField], message: /credentials\.aws_secret_access_key must be/ });
    const extra = join(dir, 'extra.json');
    await writeFile(extra, JSON.stringify({ ...PLANTED, region: 'us-east-1' }), { mode: 0o600 });
    cases.push({ args: ['--credentials-file', extra], message: /may hold only/ });
    const notJson = join(dir, 'not-json.json');
    await writeFile(notJson, `aws_secret_access_key = ${PLANTED.aws_secret_access_key}\n`, { mode: 0o600 });
    cases.push({ args: ['--credentials-file', notJson], message: /not valid JSON/ });
    const huge = join(dir, 'huge.json');
    await writeFile(huge, JSON.stringify({ ...PLANTED, aws_session_token: 'x'.repeat(100_000) }), { mode: 0o600 });
    cases.push({ args: ['--credentials-file', huge], message: /larger than 65536 bytes/ });
    cases.push({ args: ['--credentials-file', '/dev/zero'], message: /not a regular file/ });
    cases.push({ args: ['--credentials-file', join(dir, 'missing.json')], message: /cannot be opened \(ENOENT\)/ });
    cases.push({ args: ['--credentials-file', wrongField, '--aws-env'], message: /not both/ });
    cases.push({ args: ['--aws-env'], env: { ...egressEnv, AWS_ACCESS_KEY_ID: PLANTED.aws_access_key_id }, message: /--aws-env needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/ });
    for (const { args, env, message } of cases) {
      const result = await confine(['plan', dir, ...args], env ?? egressEnv);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
      expect(result.stdout).toBe('');
      noSecret(result.stderr);
    }
  }, 120_000);
});
