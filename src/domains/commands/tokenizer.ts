// A POSIX-shell-like tokenizer for one command line (single quotes, double quotes, backslash escapes),
// written as a state machine over code points — not a regex — so quoting tricks cannot hide an
// operator. The result is an argv that runs directly, never through a shell; anything a shell would
// treat as an operator or expansion is rejected instead of silently passed on, so the argv always means
// what a reader of the line thinks it means (seed 002 2.1; Judge0-style injection).
import { DomainError } from '../errors.js';
import { characterProblem } from './characters.js';

export interface Token {
  value: string;
  /** 1-based column (in code points) where the word starts in the command line. */
  column: number;
}

export const MAX_COMMAND_BYTES = 4096;
export const MAX_TOKENS = 256;

/** Operators a shell recognizes, longest first so `>>` is named as `>>`, not `>`. */
const OPERATORS: readonly [string, string][] = [
  ['<<<', 'here-string'],
  ['<<-', 'here-document'],
  ['<<', 'here-document'],
  ['>>', 'appending redirection'],
  ['>&', 'descriptor redirection'],
  ['<&', 'descriptor redirection'],
  ['&>', 'redirection'],
  ['>|', 'redirection'],
  ['<>', 'redirection'],
  ['&&', 'command chaining'],
  ['||', 'command chaining'],
  ['|&', 'pipe'],
  [';;', 'command separator'],
  [';', 'command separator'],
  ['&', 'background job'],
  ['|', 'pipe'],
  ['<', 'input redirection'],
  ['>', 'output redirection'],
  ['`', 'command substitution'],
];
const OPERATOR_START = new Set([';', '&', '|', '<', '>', '`']);

/** Characters special to a shell only outside quotes. */
const UNQUOTED_SPECIAL: ReadonlyMap<string, string> = new Map([
  ['(', 'subshell'],
  [')', 'subshell'],
  ['{', 'brace expansion'],
  ['}', 'brace expansion'],
  ['*', 'glob pattern (quote it to pass it literally)'],
  ['?', 'glob pattern (quote it to pass it literally)'],
  ['[', 'glob pattern (quote it to pass it literally)'],
  ['!', 'history expansion'],
]);

function reject(token: string, column: number, what: string): never {
  throw new DomainError(
    'security_violation',
    `command rejected: ${JSON.stringify(token)} (${what}) at column ${column}; commands run as one program with arguments, never through a shell`,
    `token=${JSON.stringify(token)} column=${column}`,
  );
}

function malformed(message: string, column: number): never {
  throw new DomainError('validation_error', `command rejected: ${message} at column ${column}`, `column=${column}`);
}

/** Splits one command line into argv. Throws DomainError (security_violation or validation_error) only. */
export function tokenize(line: string): Token[] {
  const bytes = Buffer.byteLength(line, 'utf8');
  if (bytes > MAX_COMMAND_BYTES) {
    throw new DomainError('security_violation', `command rejected: the line is ${bytes} bytes; the limit is ${MAX_COMMAND_BYTES}`, `bytes=${bytes}`);
  }
  const chars = Array.from(line);
  for (let i = 0; i < chars.length; i++) {
    const problem = characterProblem(chars[i]!);
    if (problem) reject(chars[i]!, i + 1, problem.reason);
  }

  const tokens: Token[] = [];
  let word = '';
  let inWord = false;
  let wordColumn = 0;
  let quote: "'" | '"' | null = null;
  let quoteColumn = 0;

  const startWord = (i: number): void => {
    if (!inWord) {
      inWord = true;
      wordColumn = i + 1;
    }
  };
  const operatorAt = (i: number): void => {
    for (const [op, what] of OPERATORS) {
      if (chars.slice(i, i + op.length).join('') === op) {
        // `2>file`: name the descriptor too, as a reader would.
        const fd = quote === null && inWord && /^\d+$/.test(word) && (op.startsWith('>') || op.startsWith('<')) ? word : '';
        reject(fd + op, fd ? wordColumn : i + 1, what);
      }
    }
  };
  const dollarAt = (i: number): void => {
    const next = chars[i + 1];
    if (next === '(') reject(chars[i + 2] === '(' ? '$((' : '$(', i + 1, chars[i + 2] === '(' ? 'arithmetic expansion' : 'command substitution');
    if (next === '{') reject('${', i + 1, 'parameter expansion');
    // Outside single quotes a shell would expand `$NAME`, `$1`, `$?`...; we would not, so refuse.
    if (quote !== "'") reject(next === undefined ? '$' : `$${next}`, i + 1, 'parameter expansion');
  };

  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (OPERATOR_START.has(c)) operatorAt(i);
    if (c === '$') dollarAt(i);

    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && (chars[i + 1] === '\\' || chars[i + 1] === '"' || chars[i + 1] === '$')) {
        word += chars[i + 1];
        i++;
      } else word += c;
      continue;
    }
    if (c === ' ') {
      if (inWord) tokens.push({ value: word, column: wordColumn });
      if (tokens.length > MAX_TOKENS) malformed(`more than ${MAX_TOKENS} arguments`, i + 1);
      word = '';
      inWord = false;
      continue;
    }
    if (c === "'" || c === '"') {
      startWord(i);
      quote = c;
      quoteColumn = i + 1;
      continue;
    }
    if (c === '\\') {
      const next = chars[i + 1];
      if (next === undefined) malformed('dangling backslash', i + 1);
      startWord(i);
      if (OPERATOR_START.has(next)) operatorAt(i + 1);
      word += next;
      i++;
      continue;
    }
    const special = UNQUOTED_SPECIAL.get(c);
    if (special) reject(c, i + 1, special);
    if (!inWord && c === '#') reject(c, i + 1, 'comment');
    if (!inWord && c === '~') reject(c, i + 1, 'tilde expansion');
    startWord(i);
    word += c;
  }
  if (quote !== null) malformed(`unterminated ${quote === "'" ? 'single' : 'double'} quote`, quoteColumn);
  if (inWord) tokens.push({ value: word, column: wordColumn });
  if (tokens.length > MAX_TOKENS) malformed(`more than ${MAX_TOKENS} arguments`, chars.length);
  if (tokens.length === 0) malformed('empty command', 1);
  // Escapes can assemble `$(` from pieces (`"\$("`); no accepted argument may contain an expansion.
  for (const token of tokens) {
    const hit = /\$[({]/.exec(token.value);
    if (hit) reject(hit[0], token.column, 'expansion assembled from escapes');
  }
  return tokens;
}

/** Quotes an argv so that tokenize() returns exactly it (the CLI's `-- CMD ARGS` path). */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}
