// Allowlist and per-command argument rules (no jail: these run before one would exist).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkCommand, type CommandPolicy } from '../../src/domains/commands/allowlist.js';
import { BUILT_IN_RULES, CommandRulesError, loadRules, parseRules } from '../../src/domains/commands/rules.js';
import { tokenize } from '../../src/domains/commands/tokenizer.js';
import { DomainError } from '../../src/domains/errors.js';

const DEFAULT_ALLOWED = ['ls', 'cat', 'echo', 'pwd', 'id', 'whoami', 'sh'];
const defaults: CommandPolicy = { allowed: DEFAULT_ALLOWED, rules: BUILT_IN_RULES };

function check(line: string, policy: CommandPolicy = defaults): string[] {
  return checkCommand(tokenize(line), policy);
}

function rejected(line: string, policy: CommandPolicy = defaults): DomainError {
  try {
    check(line, policy);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error(`accepted: ${line}`);
}

describe('allowlist', () => {
  it.each(['echo hello', 'ls -la', 'cat notes.txt', 'pwd', 'id -u', 'whoami', 'sh run.sh', 'sh dir/run.sh a b'])('allowed_%s', (line) => {
    expect(check(line)).toEqual(tokenize(line).map((t) => t.value));
  });

  it.each([
    ['wget x', '"wget"'],
    ['busybox sh', '"busybox"'],
    ['python3 -c 1', '"python3"'],
    ['/usr/bin/ls', '"/usr/bin/ls"'],
    ['./ls', '"./ls"'],
    ['LS', '"LS"'],
    ['terraform validate -no-color', '"terraform"'], // not allowlisted by default
  ])('not_allowlisted_%s_rejected', (line, token) => {
    const error = rejected(line);
    expect(error.type).toBe('security_violation');
    expect(error.message).toContain(`${token} at column 1`);
    expect(error.message).toContain('not allowlisted');
  });

  it.each([
    ['sh', 'only runs a submitted script file'],
    ['sh -c id', 'takes no options'],
    ['sh -s', 'takes no options'],
    ['sh -i', 'takes no options'],
    ['sh /etc/passwd', 'absolute paths'],
    ['sh ../x.sh', '".." leaves the workspace'],
  ])('sh_%s_rejected', (line, why) => {
    const error = rejected(line);
    expect(error.type).toBe('security_violation');
    expect(error.message).toContain(why);
  });

  const withTerraform: CommandPolicy = { allowed: [...DEFAULT_ALLOWED, 'terraform'], rules: BUILT_IN_RULES };

  it('terraform_validate_no_color_allowed', () => {
    expect(check('terraform validate -no-color', withTerraform)).toEqual(['terraform', 'validate', '-no-color']);
  });

  it.each([
    ['terraform', '"terraform"'],
    ['terraform init', '"init"'],
    ['terraform apply -auto-approve', '"apply"'],
    ['terraform validate', '"terraform"'],
    ['terraform validate -json', '"-json"'],
    ['terraform validate -no-color -chdir=/', '"-chdir=/"'],
    ['terraform -chdir=/etc validate -no-color', '"-chdir=/etc"'],
  ])('terraform_%s_rejected', (line, token) => {
    const error = rejected(line, withTerraform);
    expect(error.type).toBe('security_violation');
    expect(error.message).toContain('only allowed as "terraform validate -no-color"');
    expect(error.message).toContain(token);
  });
});

describe('operator rules', () => {
  const allowed = [...DEFAULT_ALLOWED, 'grep', 'wc', 'true'];
  const yaml = `
commands:
  grep:
    options: [-i, -n, -c]
    operands: paths
    maxArgs: 4
  wc:
    exact: [["-l", "data.txt"]]
  true:
    args: none
`;
  const policy: CommandPolicy = { allowed, rules: new Map([...BUILT_IN_RULES, ...parseRules(yaml, allowed, 'rules.yaml')]) };

  it('options_rule_allows_listed_options_and_path_operands', () => {
    expect(check('grep -i -n data.txt', policy)).toEqual(['grep', '-i', '-n', 'data.txt']);
  });

  it.each([
    ['grep -r x', 'option not allowed', '"-r"'],
    ['grep -i /etc/shadow', 'absolute paths', '"/etc/shadow"'],
    ['grep -i ../x', 'leaves the workspace', '"../x"'],
    ['grep -i a b c d', 'at most 4 arguments', '"d"'],
    ['wc -l other.txt', 'only allowed as "wc -l data.txt"', '"other.txt"'],
    ['true x', 'takes no arguments', '"x"'],
  ])('operator_rule_%s_rejected', (line, why, token) => {
    const error = rejected(line, policy);
    expect(error.type).toBe('security_violation');
    expect(error.message).toContain(why);
    expect(error.message).toContain(token);
  });

  it('rules_file_loaded_from_setting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'confine-rules-'));
    const file = join(dir, 'rules.json');
    writeFileSync(file, JSON.stringify({ commands: { wc: { exact: [['-l', 'data.txt']] } } }));
    const rules = loadRules(file, allowed);
    expect(rules.get('wc')).toEqual({ kind: 'exact', argv: [['-l', 'data.txt']] });
    expect(rules.get('sh')).toEqual({ kind: 'script' });
  });

  it.each([
    ['commands:\n  grep: { args: sometimes }\n', 'does not match the schema'],
    ['commands:\n  grep: { options: [i], operands: any }\n', 'does not match the schema'],
    ['commands:\n  grep: { args: any, extra: 1 }\n', 'does not match the schema'],
    ['rules: {}\n', 'does not match the schema'],
    ['commands:\n  "bad name": { args: any }\n', 'does not match the schema'],
    ['commands:\n  wget: { args: any }\n', 'not in ALLOWED_COMMANDS'],
    ['commands:\n  sh: { args: any }\n', 'fixed and cannot be changed'],
    ['commands: [unclosed\n', 'not valid YAML/JSON'],
  ])('bad_rules_file_%#_stops_startup', (text, why) => {
    expect(() => parseRules(text, [...allowed, 'terraform'], 'rules.yaml')).toThrow(CommandRulesError);
    expect(() => parseRules(text, [...allowed, 'terraform'], 'rules.yaml')).toThrow(why);
  });

  it('terraform_rule_cannot_be_loosened', () => {
    expect(() => parseRules('commands:\n  terraform: { args: any }\n', [...allowed, 'terraform'], 'r.yaml')).toThrow('fixed and cannot be changed');
  });

  it('missing_rules_file_stops_startup', () => {
    expect(() => loadRules('/nonexistent/confine-rules.yaml', allowed)).toThrow(CommandRulesError);
  });
});
