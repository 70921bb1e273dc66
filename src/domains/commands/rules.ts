// Per-command argument rules: data, not code. Built-in rules fix what the seeds fix (`terraform` only as
// `terraform validate -no-color`, seed 002 2.3; `sh` only to run a submitted script file, never `sh -c`);
// operators add rules for other allowlisted programs in a JSON or YAML file named by COMMAND_RULES_FILE,
// checked against a schema when the runner is created so a bad file stops start-up.
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';

export type ArgumentRule =
  /** Any arguments the tokenizer accepts (the default for an allowlisted program without a rule). */
  | { kind: 'any' }
  | { kind: 'none' }
  /** Only these argument vectors, verbatim. */
  | { kind: 'exact'; argv: string[][] }
  /** Options from a fixed list (each a whole token), then operands of one kind. */
  | { kind: 'options'; options: string[]; operands: 'any' | 'none' | 'paths'; maxArgs: number }
  /** `sh FILE [ARG...]`: FILE is a workspace path; no options, so no `-c`, `-s` or `-i`. */
  | { kind: 'script' };

export type CommandRules = ReadonlyMap<string, ArgumentRule>;

/** Fixed by the seeds; operators cannot loosen them (the stricter choice wins). */
export const BUILT_IN_RULES: CommandRules = new Map<string, ArgumentRule>([
  ['terraform', { kind: 'exact', argv: [['validate', '-no-color']] }],
  ['sh', { kind: 'script' }],
]);

const PROGRAM_NAME = /^[A-Za-z0-9._+-]{1,64}$/;
const Arg = Type.String({ minLength: 1, maxLength: 256 });
const RuleSchema = Type.Union([
  Type.Object({ args: Type.Union([Type.Literal('any'), Type.Literal('none')]) }, { additionalProperties: false }),
  Type.Object({ exact: Type.Array(Type.Array(Arg, { maxItems: 64 }), { minItems: 1, maxItems: 256 }) }, { additionalProperties: false }),
  Type.Object(
    {
      options: Type.Array(Type.String({ pattern: '^-', minLength: 2, maxLength: 64 }), { maxItems: 256 }),
      operands: Type.Union([Type.Literal('any'), Type.Literal('none'), Type.Literal('paths')]),
      maxArgs: Type.Optional(Type.Integer({ minimum: 0, maximum: 256 })),
    },
    { additionalProperties: false },
  ),
]);
export const RulesFileSchema = Type.Object({ commands: Type.Record(Type.String(), RuleSchema) }, { additionalProperties: false });
export type RulesFile = Static<typeof RulesFileSchema>;

/** A command setting (ALLOWED_COMMANDS, COMMAND_RULES_FILE) that must stop start-up. */
export class CommandRulesError extends Error {
  override readonly name = 'CommandRulesError';
  constructor(readonly source: string, message: string) {
    super(`${source}: ${message}`);
  }
}

function toRule(entry: RulesFile['commands'][string]): ArgumentRule {
  if ('args' in entry) return { kind: entry.args };
  if ('exact' in entry) return { kind: 'exact', argv: entry.exact };
  return { kind: 'options', options: entry.options, operands: entry.operands, maxArgs: entry.maxArgs ?? 64 };
}

/** Parses and checks an operator rules document (JSON is YAML too). */
export function parseRules(text: string, allowed: readonly string[], file: string): Map<string, ArgumentRule> {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new CommandRulesError(`COMMAND_RULES_FILE ${file}`, `not valid YAML/JSON: ${(error as Error).message}`);
  }
  if (!Value.Check(RulesFileSchema, document)) {
    const first = Value.Errors(RulesFileSchema, document).First();
    throw new CommandRulesError(`COMMAND_RULES_FILE ${file}`, `does not match the schema at ${first?.path || '/'}: ${first?.message ?? 'invalid'}`);
  }
  const rules = new Map<string, ArgumentRule>();
  for (const [program, entry] of Object.entries(document.commands)) {
    if (!PROGRAM_NAME.test(program)) throw new CommandRulesError(`COMMAND_RULES_FILE ${file}`, `does not match the schema at /commands: "${program}" is not a program name`);
    if (BUILT_IN_RULES.has(program)) throw new CommandRulesError(`COMMAND_RULES_FILE ${file}`, `the rule for "${program}" is fixed and cannot be changed`);
    if (!allowed.includes(program)) throw new CommandRulesError(`COMMAND_RULES_FILE ${file}`, `"${program}" has a rule but is not in ALLOWED_COMMANDS`);
    rules.set(program, toRule(entry));
  }
  return rules;
}

/** Built-in rules plus the operator's file (when one is configured). */
export function loadRules(file: string, allowed: readonly string[]): CommandRules {
  const rules = new Map(BUILT_IN_RULES);
  if (file === '') return rules;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CommandRulesError(`COMMAND_RULES_FILE ${file}`, `cannot be read: ${(error as Error).message}`);
  }
  for (const [program, rule] of parseRules(text, allowed, file)) rules.set(program, rule);
  return rules;
}
