// Error classes decided from terraform's structured diagnostics, with real terraform and the real mirror
// (issue 9 item 10): a configuration error is the tenant's (validation_error) even when terraform's
// accompanying text mentions providers; provider_error is kept for providers that could not be installed
// or configured. Each case runs the whole runner (intake, policy, jailed pipeline) in validate mode.
import { describe, expect, it } from 'vitest';
import type { TerraformResult } from '../../src/domains/terraform/types.js';
import { buildZip } from './support/archives.js';
import { stepNames } from './support/expect.js';
import { files, runTerraform } from './support/runner.js';

const AWS_REQUIRED = (version: string): string =>
  `terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n      version = "${version}"\n    }\n  }\n}\n`;

async function validate(mainTf: string): Promise<TerraformResult> {
  return runTerraform({ input: files({ 'main.tf': mainTf }), mode: 'validate' });
}

function expectClass(result: TerraformResult, type: string, summary: RegExp): void {
  expect(result.status).toBe('failed');
  expect(result.error?.type).toBe(type);
  expect(result.error?.message).toMatch(summary);
}

describe('terraform error classes', () => {
  it('unknown_block_foo_is_validation_error', async () => {
    const result = await validate('foo {}\n');
    // terraform's trailer says "...which modules and providers need to be installed": not a provider error.
    expectClass(result, 'validation_error', /^Unsupported block type$/);
    expect(result.diagnostics).toContainEqual(expect.objectContaining({ severity: 'error', file: 'main.tf', line: 1 }));
  });

  it('invalid_utf8_in_main_tf_is_validation_error', async () => {
    // A JSON files map cannot carry invalid UTF-8: the bytes come in a zip, as from a tenant's editor.
    const bytes = Buffer.concat([Buffer.from('resource "terraform_data" "x" {\n  input = "'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"\n}\n')]);
    const result = await runTerraform({ input: { kind: 'zip', data: buildZip([{ name: 'main.tf', content: bytes }]) }, mode: 'validate' });
    expect(result.error?.type).toBe('validation_error');
    expect(result.error?.message).toMatch(/character encoding|UTF-8/i);
  });

  it('unknown_resource_type_is_validation_error', async () => {
    const result = await validate('resource "terraform_nope" "x" {}\n');
    expectClass(result, 'validation_error', /^Invalid resource type$/);
    expect(stepNames(result)).toEqual(['init', 'validate']);
  });

  it('missing_required_argument_of_a_block_is_validation_error', async () => {
    const result = await validate('output "x" {}\n');
    expectClass(result, 'validation_error', /^Missing required argument$/);
    expect(result.diagnostics).toContainEqual(expect.objectContaining({ detail: expect.stringMatching(/"value" is required/) }));
  });

  it('missing_required_argument_of_a_provider_resource_is_validation_error', async () => {
    // The provider's schema decides here (the validate step loads hashicorp/aws from the mirror).
    const result = await validate(`${AWS_REQUIRED('5.100.0')}resource "aws_iam_role" "r" {\n  name = "r"\n}\n`);
    expectClass(result, 'validation_error', /^Missing required argument$/);
    expect(stepNames(result)).toEqual(['init', 'validate']);
    expect(result.diagnostics).toContainEqual(expect.objectContaining({ detail: expect.stringMatching(/"assume_role_policy" is required/) }));
  });

  it('provider_version_constraint_with_bad_syntax_is_validation_error', async () => {
    const result = await validate(AWS_REQUIRED('~> banana'));
    expectClass(result, 'validation_error', /^Invalid version constraint$/);
    expect(stepNames(result)).toEqual(['init']);
  });

  it('provider_version_constraint_the_mirror_cannot_meet_is_provider_error', async () => {
    const result = await validate(AWS_REQUIRED('>= 99.0'));
    expectClass(result, 'provider_error', /available provider packages/);
    expect(result.diagnostics.map((d) => d.detail ?? '').join('\n')).toMatch(/>= 99\.0\.0/);
  });

  it('allowed_provider_not_in_the_mirror_is_provider_error', async () => {
    // null is on the default allowlist (policy passes) but this host's mirror holds only aws.
    const result = await validate('resource "null_resource" "x" {}\n');
    expectClass(result, 'provider_error', /available provider packages/);
    expect(result.diagnostics.map((d) => d.detail ?? '').join('\n')).toMatch(/hashicorp\/null was not found/);
  });

  it('unsupported_terraform_core_version_is_validation_error', async () => {
    const result = await validate('terraform {\n  required_version = ">= 99.0"\n}\n');
    expectClass(result, 'validation_error', /^Unsupported Terraform Core version$/);
  });
});
