// Checks a tokenized command against the allowlist and the program's argument rule. Runs before any
// jail exists: a rejected command starts nothing. The jail remains the boundary (a program that is not
// allowlisted is not even in the jail's filesystem); this gives early, precise errors.
import { DomainError } from '../errors.js';
import { workspacePathSegments } from './paths.js';
import type { ArgumentRule, CommandRules } from './rules.js';
import type { Token } from './tokenizer.js';

export interface CommandPolicy {
  allowed: readonly string[];
  rules: CommandRules;
}

function violation(token: Token, message: string): never {
  throw new DomainError(
    'security_violation',
    `command rejected: ${message} (${JSON.stringify(token.value)} at column ${token.column})`,
    `token=${JSON.stringify(token.value)} column=${token.column}`,
  );
}

/** Returns the argv to run, or throws security_violation naming the offending token. */
export function checkCommand(tokens: readonly Token[], policy: CommandPolicy): string[] {
  const [program, ...args] = tokens;
  if (!program) throw new DomainError('validation_error', 'command rejected: empty command');
  // Names only: `/usr/bin/wget` or `./x` would step around the allowlist.
  if (!policy.allowed.includes(program.value)) {
    violation(program, `program is not allowlisted (allowed: ${policy.allowed.join(', ') || 'none'})`);
  }
  checkArguments(program.value, args, policy.rules.get(program.value) ?? { kind: 'any' }, program);
  return tokens.map((t) => t.value);
}

function checkArguments(name: string, args: readonly Token[], rule: ArgumentRule, program: Token): void {
  switch (rule.kind) {
    case 'any':
      return;
    case 'none':
      if (args[0]) violation(args[0], `${name} takes no arguments`);
      return;
    case 'exact': {
      const given = args.map((a) => a.value);
      if (rule.argv.some((allowed) => allowed.length === given.length && allowed.every((v, i) => v === given[i]))) return;
      const shown = rule.argv.map((a) => [name, ...a].join(' ')).join('" or "');
      violation(firstMismatch(args, rule.argv) ?? program, `${name} is only allowed as "${shown}"`);
    }
    case 'options': {
      if (args.length > rule.maxArgs) violation(args[rule.maxArgs]!, `${name} takes at most ${rule.maxArgs} arguments`);
      let operands = false;
      for (const arg of args) {
        if (!operands && arg.value === '--') {
          operands = true;
          continue;
        }
        if (!operands && arg.value.startsWith('-')) {
          if (!rule.options.includes(arg.value)) violation(arg, `option not allowed for ${name} (allowed: ${rule.options.join(' ') || 'none'})`);
          continue;
        }
        operands = true;
        if (rule.operands === 'none') violation(arg, `${name} takes no operands`);
        if (rule.operands === 'paths') operandPath(arg, name);
      }
      return;
    }
    case 'script': {
      const [script] = args;
      if (!script) violation(program, `${name} only runs a submitted script file: "${name} FILE [ARG...]"`);
      if (script.value.startsWith('-')) violation(script, `${name} takes no options (no -c, -s, -i); give a script file`);
      operandPath(script, name);
      return;
    }
  }
}

function operandPath(arg: Token, name: string): void {
  try {
    workspacePathSegments(arg.value, `${name} operand`);
  } catch (error) {
    if (error instanceof DomainError) violation(arg, error.message);
    throw error;
  }
}

function firstMismatch(args: readonly Token[], allowed: readonly string[][]): Token | undefined {
  const longest = allowed.reduce((a, b) => (b.length > a.length ? b : a), []);
  return args.find((arg, i) => arg.value !== longest[i]) ?? undefined;
}
