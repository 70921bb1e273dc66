// `confine plan` end to end: the real CLI process, real jails, JSON shape, plan file, exit status.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_STATE_DIR, TEST_UID_BASE } from '../support/jail.js';
import { buildZip } from './support/archives.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../bin/confine', import.meta.url));
const ENV = { ...process.env, CONFINE_STATE_DIR: TEST_STATE_DIR, CONFINE_UID_BASE: String(TEST_UID_BASE), CONFINE_UID_COUNT: '512', NO_COLOR: '1' };

async function confine(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(CLI, args, { env: ENV, maxBuffer: 64 * 1024 * 1024 });
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
