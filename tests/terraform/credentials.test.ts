// Credentials (threat row 16, issue 11): a request's keys enter no jail at all (no environment, argv or
// file of any step, the analysis jail included); they come back nowhere; one rule validates them at every
// door (HTTP schema, multipart form, domain entry, CLI).
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { Credentials } from '../../src/api/schemas.js';
import { createTerraformRunner } from '../../src/domains/terraform/index.js';
import { checkCredentials } from '../../src/domains/terraform/credentials.js';
import { Redactor, StreamRedactor } from '../../src/domains/terraform/redact.js';
import type { JailSpec } from '../../src/jail/spec.js';
import { testHost } from '../support/jail.js';
import { errorText, stepNames } from './support/expect.js';
import { recordingHost } from './support/recording-host.js';
import { PLANTED, assertNoPlantedSecret, files, runTerraform, testConfig } from './support/runner.js';

// No keys in the configuration: the provider would have to take them from the plan step's environment.
const CONFIG = `provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}
resource "aws_sqs_queue" "q" {
  name = "creds-test"
}
`;

describe('credentials', () => {
  it('request_credentials_enter_no_jail_env_argv_or_file', async () => {
    // A plan that carries credentials but needs no cloud (seed 000 sends them with every plan): it runs,
    // and no jail of the run (analysis, init, plan, show) is given the values in any form.
    const specs: JailSpec[] = [];
    const runner = createTerraformRunner(recordingHost(await testHost(), specs), testConfig());
    const result = await runner.run({ mode: 'plan', input: files({ 'main.tf': 'resource "terraform_data" "a" {}\n' }), credentials: PLANTED });
    expect(result.error).toBeNull();
    expect(result.egress).toBeUndefined(); // egress is off: no door, no proxy
    const argv1 = specs.map((spec) => spec.argv[1]);
    for (const step of ['init', 'plan', 'show']) expect(argv1).toContain(step);
    expect(specs.length).toBeGreaterThanOrEqual(5); // + the analysis jail (policy, summary)
    for (const spec of specs) {
      assertNoPlantedSecret(JSON.stringify(spec)); // env, argv, cwd and every mount, file contents included
      expect(spec.network).toBeUndefined();
      expect(spec.env['AWS_ACCESS_KEY_ID']).toBeUndefined();
    }
    assertNoPlantedSecret(JSON.stringify(result));
  });

  it('without_request_credentials_the_provider_finds_none_provider_error', async () => {
    // No credentials in the request: nothing ambient (host env, ~/.aws, instance metadata) stands in for
    // them, so the plan step cannot configure the provider; IMDS is disabled in the jail, so it says so at once.
    const result = await runTerraform({ input: files({ 'main.tf': CONFIG }) }, {}, { credentials: false });
    expect(result.error?.type).toBe('provider_error');
    expect(stepNames(result)).toEqual(['init', 'plan']);
    expect(errorText(result)).toMatch(/No valid credential sources found/);
    const plan = result.steps.find((step) => step.name === 'plan')!.result;
    expect(plan.wall_ms).toBeLessThan(30_000); // generous: measured ~1-2 s; IMDS retries used to add seconds
  });

  it('one_credentials_rule_for_schema_form_domain_and_cli', async () => {
    // checkCredentials is the rule; the JSON schema (also used by the CLI) states the same lengths and
    // charsets, so every sample is accepted or refused alike at every door.
    const good = { aws_access_key_id: 'ASIAEXAMPLEKEY000001', aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+=', aws_session_token: 'IQoJb3JpZ2luX2VjEJr_-/+=' };
    const samples: [unknown, boolean][] = [
      [good, true],
      [{ aws_access_key_id: good.aws_access_key_id, aws_secret_access_key: good.aws_secret_access_key }, true],
      [{ ...good, aws_access_key_id: 'asia-lowercase-key' }, false],
      [{ ...good, aws_access_key_id: 'SHORT' }, false],
      [{ ...good, aws_secret_access_key: 'has space in it 123' }, false],
      [{ ...good, aws_secret_access_key: 'line\nbreak-secret' }, false],
      [{ ...good, aws_secret_access_key: 'x'.repeat(257) }, false],
      [{ ...good, aws_session_token: 't'.repeat(8193) }, false],
      [{ ...good, aws_session_token: '' }, false],
      [{ ...good, extra: 'field' }, false],
      [{ aws_access_key_id: good.aws_access_key_id }, false],
      ['not-an-object', false],
      [null, false],
    ];
    for (const [value, ok] of samples) {
      expect(checkCredentials(value).ok, JSON.stringify(value)).toBe(ok);
      expect(Value.Check(Credentials, value), JSON.stringify(value)).toBe(ok);
    }
    // A refusal names the field, never the value (which may be the secret).
    const refused = checkCredentials({ ...good, aws_secret_access_key: 'has space in it 123' });
    expect(refused).toEqual({ ok: false, field: 'aws_secret_access_key', message: expect.stringMatching(/^credentials\.aws_secret_access_key must be 8-256 characters/) });
    expect(JSON.stringify(refused)).not.toContain('has space');
    // The domain entry (CLI and tests reach it without the HTTP schema) applies the same rule before any jail.
    const specs: JailSpec[] = [];
    const runner = createTerraformRunner(recordingHost(await testHost(), specs), testConfig());
    const result = await runner.run({ mode: 'plan', input: files({ 'main.tf': 'resource "terraform_data" "a" {}\n' }), credentials: { ...good, aws_access_key_id: 'SHORT' } });
    expect(result.error).toMatchObject({ type: 'validation_error', detail: 'aws_access_key_id' });
    expect(specs).toEqual([]);
  });

  it('stream_redactor_finds_secrets_split_across_chunks_and_json_escaped', () => {
    const secret = 'ab"c<d>&e\\f';
    const escaped = 'ab\\"c\\u003cd\\u003e\\u0026e\\\\f';
    const text = `{"a":"${escaped}","b":"x${secret}y","c":"${PLANTED.aws_secret_access_key}"}`;
    // Every split point: a secret cut across two chunks is still found.
    for (let cut = 0; cut <= text.length; cut++) {
      const redactor = new StreamRedactor([secret, PLANTED.aws_secret_access_key]);
      const bytes = Buffer.from(text);
      const out = Buffer.concat([redactor.push(bytes.subarray(0, cut)), redactor.push(bytes.subarray(cut)), redactor.end()]).toString();
      expect(out).toBe('{"a":"[REDACTED]","b":"x[REDACTED]y","c":"[REDACTED]"}');
    }
  });

  it('stream_redactor_replaces_a_secret_containing_another_whole_at_every_split', () => {
    // A shorter secret inside a longer one, held back in one chunk's tail, was replaced first and left the
    // rest of the longer secret in the output ("ab[REDACTED]ef").
    const text = 'x abcdef y cd z';
    for (let cut = 0; cut <= text.length; cut++) {
      const redactor = new StreamRedactor(['abcdef', 'cd']);
      const bytes = Buffer.from(text);
      const out = Buffer.concat([redactor.push(bytes.subarray(0, cut)), redactor.push(bytes.subarray(cut)), redactor.end()]).toString();
      expect(out).toBe('x [REDACTED] y [REDACTED] z');
    }
  });

  it('redactor_replaces_every_occurrence_in_text_and_nested_json', () => {
    const redactor = new Redactor([PLANTED.aws_secret_access_key, PLANTED.aws_access_key_id]);
    const text = `a ${PLANTED.aws_secret_access_key} b ${PLANTED.aws_secret_access_key}${PLANTED.aws_access_key_id}`;
    expect(redactor.text(text)).toBe('a [REDACTED] b [REDACTED][REDACTED]');
    const deep = redactor.deep({ [PLANTED.aws_access_key_id]: [{ v: `x${PLANTED.aws_secret_access_key}` }], n: 1 });
    expect(deep).toEqual({ '[REDACTED]': [{ v: 'x[REDACTED]' }], n: 1 });
  });
});
