// Property-based tests of the tokenizer. The suite runs a short pass; `npm run fuzz:tokenizer` runs the
// same properties with FUZZ_RUNS=100000 cases each.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { characterProblem } from '../../src/domains/commands/characters.js';
import { quoteArgv, tokenize, type Token } from '../../src/domains/commands/tokenizer.js';
import { DomainError } from '../../src/domains/errors.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const SEED = process.env.FUZZ_SEED === undefined ? {} : { seed: Number(process.env.FUZZ_SEED) };
const params = { numRuns: RUNS, ...SEED };

const OPERATORS = [';', '&', '|', '&&', '||', '<', '>', '>>', '2>', '<<', '<<<', '`', '$(', '${', '|&', '&>', '>&', ';;'];
// Characters a shell (or a confused reader) treats specially, plus look-alikes and controls, so the
// generator reaches the interesting states instead of plain letters.
const SHELLY = [' ', "'", '"', '\\', '$', '(', ')', '{', '}', '`', ';', '&', '|', '<', '>', '#', '~', '*', '?', '[', '!', '\n', '\r', '\t', '\u0000',
  '\uff1b', '\u037e', '\ufe54', '\u2223', '\u00a0', '\u200b', '\u202e', '\u201c', '\u1fef', '\ud800', 'a', 'b', '-', '/', '.', '=', 'é'];
const shellyChar = fc.constantFrom(...SHELLY);
const anyChar = fc.oneof(shellyChar, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }));
const line = fc.array(anyChar, { maxLength: 60 }).map((chars) => chars.join(''));

function outcome(input: string): Token[] | DomainError {
  try {
    return tokenize(input);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error; // anything else fails the property
  }
}

function containsOperator(value: string): boolean {
  return /[;&|<>`]|\$[({]/.test(value);
}

describe('tokenizer properties', () => {
  it('any_input_accepted_or_domain_error', () => {
    fc.assert(
      fc.property(fc.oneof(line, fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ maxLength: 5000 })), (input) => {
        const result = outcome(input);
        if (result instanceof DomainError) expect(['security_violation', 'validation_error']).toContain(result.type);
        else expect(result.length).toBeGreaterThan(0);
      }),
      params,
    );
  });

  it('accepted_tokens_never_hold_operator_or_forbidden_character', () => {
    fc.assert(
      fc.property(line, (input) => {
        const result = outcome(input);
        if (result instanceof DomainError) return;
        for (const token of result) {
          expect(containsOperator(token.value)).toBe(false);
          for (const char of token.value) expect(characterProblem(char)).toBeNull();
        }
      }),
      params,
    );
  });

  it('inserted_operator_always_rejected', () => {
    fc.assert(
      fc.property(line, fc.nat(), fc.constantFrom(...OPERATORS), fc.constantFrom('', "'", '"', '\\'), (input, at, op, wrap) => {
        const position = at % (input.length + 1);
        // The operator bare, quoted or escaped: quoting must never smuggle it through.
        const injected = `${input.slice(0, position)}${wrap}${op}${wrap === '\\' ? '' : wrap}${input.slice(position)}`;
        expect(outcome(injected)).toBeInstanceOf(DomainError);
      }),
      params,
    );
  });

  it('quoted_safe_argv_roundtrips', () => {
    const safeArg = fc.string({ unit: fc.constantFrom(...SHELLY, 'x', 'ü', 'Ａ', '%', '@', ':', ','), maxLength: 20 }).filter(
      (s) => !containsOperator(s) && !/\$/.test(s) && Array.from(s).every((c) => characterProblem(c) === null),
    );
    fc.assert(
      fc.property(fc.array(safeArg, { minLength: 1, maxLength: 8 }), (args) => {
        const argv = ['echo', ...args];
        expect(tokenize(quoteArgv(argv)).map((t) => t.value)).toEqual(argv);
      }),
      params,
    );
  });

  it('rejection_names_a_column_inside_the_line', () => {
    fc.assert(
      fc.property(line, (input) => {
        const result = outcome(input);
        if (!(result instanceof DomainError)) return;
        const column = /column (\d+)/.exec(result.message);
        if (column) {
          const n = Number(column[1]);
          expect(n).toBeGreaterThanOrEqual(1);
          expect(n).toBeLessThanOrEqual(Math.max(1, Array.from(input).length));
        }
      }),
      params,
    );
  });
});
