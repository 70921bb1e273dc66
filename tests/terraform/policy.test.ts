// The static policy on its own (pure, no jail): where findings come from in less common shapes of
// configuration, and which provider addresses the configuration uses (the service lock file's input).
import { describe, expect, it } from 'vitest';
import { evaluatePolicy } from '../../src/domains/terraform/policy/index.js';

const OPTIONS = { allowedProviders: ['aws', 'random', 'null'], warnRules: [] };
const seed = (map: Record<string, string>) => Object.entries(map).map(([path, content]) => ({ path, content: Buffer.from(content) }));

describe('static policy', () => {
  it('data_http_nested_in_check_block_is_found_with_line', async () => {
    const { findings } = await evaluatePolicy(seed({ 'main.tf': 'check "up" {\n  data "http" "probe" {\n    url = "http://10.0.0.1/"\n  }\n  assert {\n    condition     = true\n    error_message = "x"\n  }\n}\n' }), '', OPTIONS);
    expect(findings).toContainEqual(expect.objectContaining({ rule: 'data_http', file: 'main.tf', line: 2, severity: 'block' }));
  });

  it('tf_json_provisioner_in_array_form_is_found', async () => {
    const json = JSON.stringify({ resource: { terraform_data: { a: { provisioner: [{ 'local-exec': { command: 'id' } }] } } } }, null, 2);
    const { findings } = await evaluatePolicy(seed({ 'main.tf.json': json }), '', OPTIONS);
    expect(findings).toContainEqual(expect.objectContaining({ rule: 'provisioner', file: 'main.tf.json', line: 7 }));
  });

  it('aliased_provider_with_foreign_source_is_not_allowed', async () => {
    const { findings, providers } = await evaluatePolicy(seed({
      'main.tf': 'terraform {\n  required_providers {\n    amazon = {\n      source = "evilcorp/aws"\n    }\n  }\n}\nresource "aws_s3_bucket" "b" {\n  provider = amazon\n}\n',
    }), '', OPTIONS);
    expect(findings.filter((f) => f.rule === 'provider_not_allowed').map((f) => f.line)).toEqual([3, 8]);
    // The resource uses the local name "amazon", so terraform needs only evilcorp/aws (not hashicorp/aws).
    expect([...providers]).toEqual(['registry.terraform.io/evilcorp/aws']);
  });

  it('warn_rules_downgrade_only_the_named_rules', async () => {
    const { findings } = await evaluatePolicy(seed({ 'main.tf': 'data "external" "x" {\n  program = ["id"]\n}\n' }), '', { ...OPTIONS, warnRules: ['data_external'] });
    expect(findings.map((f) => `${f.rule}:${f.severity}`).sort()).toEqual(['data_external:warn', 'provider_not_allowed:block']);
  });

  it('local_modules_are_followed_and_checked_transitively', async () => {
    const { findings, providers } = await evaluatePolicy(seed({
      'envs/prod/main.tf': 'module "app" {\n  source = "../../modules/app"\n}\n',
      'modules/app/main.tf': 'module "db" {\n  source = "../db"\n}\nresource "aws_sqs_queue" "q" {}\n',
      'modules/db/main.tf': 'resource "terraform_data" "d" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n',
      'modules/unused/main.tf': 'data "external" "never_loaded" {\n  program = ["id"]\n}\n',
    }), 'envs/prod', OPTIONS);
    expect(findings.map((f) => `${f.rule}@${f.file}:${f.line}`)).toEqual(['provisioner@modules/db/main.tf:2']);
    expect([...providers]).toEqual(['registry.terraform.io/hashicorp/aws']);
  });
});
