// How deeply a configuration file nests, counted before any parser sees it. HCL and JSON parsers recurse
// once per level: `a = [[[...]]]` 100k deep (a 200 KB file) overflowed the HCL parser's stack, and 2,000
// levels (4 KB) already did. No real configuration comes near MAX_NESTING; beyond it the file is refused
// with its line, which is clearer than any parser crash.
import { DomainError } from '../../errors.js';

/** Brackets, braces, parentheses and template interpolations open at once. */
export const MAX_NESTING = 100;

/**
 * The deepest nesting in `source`, scanning once: brackets inside string literals and comments do not
 * count, but `${`/`%{` interpolations inside HCL strings do (they hold expressions). Heredoc bodies are
 * scanned like code: their brackets count, which can only over-count (a quote there opens a string that
 * ends with its line) (a parser crash past the check stays
 * contained in the analysis jail anyway). Throws a validation_error at the first line past `limit`.
 */
export function checkNesting(file: string, source: string, syntax: 'hcl' | 'json', limit = MAX_NESTING): number {
  // Each open level remembers what closes it: a bracket, or the end of a string that holds templates.
  const stack: ('bracket' | 'template')[] = [];
  let deepest = 0;
  let line = 1;
  let inString = false;
  const open = (kind: 'bracket' | 'template'): void => {
    stack.push(kind);
    if (stack.length > deepest) deepest = stack.length;
    if (stack.length > limit) {
      throw new DomainError('validation_error', `${file} nests deeper than ${limit} levels`, `${file}:${line}: brackets, braces or interpolations nested more than ${limit} deep`);
    }
  };
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 10) line++;
    if (inString) {
      if (c === 10 && syntax === 'hcl') {
        // An HCL quoted string ends at its line. A lone `"` in a heredoc body (`it's "quoted`) would
        // otherwise open a "string" that hid every bracket of the code after the heredoc from this count.
        inString = false;
      } else if (c === 92 /* \ */) {
        if (source.charCodeAt(i + 1) === 10) {
          if (syntax === 'hcl') continue; // no escaped newline in HCL: the string ends there all the same
          line++;
        }
        i++; // an escaped character never ends the string or opens a template
      } else if (c === 34 /* " */) {
        inString = false;
      } else if (syntax === 'hcl' && (c === 36 || c === 37) && source.charCodeAt(i + 1) === 123 /* ${ %{ */) {
        if (source.charCodeAt(i - 1) === c) continue; // $${ and %%{ are literal text
        inString = false;
        open('template');
        i++;
      }
      continue;
    }
    switch (c) {
      case 34: // "
        inString = true;
        break;
      case 123: // {
      case 91: // [
      case 40: // (
        open('bracket');
        break;
      case 125: // }
        if (stack.at(-1) === 'template') {
          stack.pop();
          inString = true; // back inside the string the interpolation sat in
          break;
        }
        stack.pop();
        break;
      case 93: // ]
      case 41: // )
        stack.pop();
        break;
      case 35: // # comment (HCL)
      case 47: // // or /* comment (HCL)
        if (syntax === 'hcl') i = skipComment(source, i, (n) => (line += n));
        break;
      default:
        break;
    }
  }
  return deepest;
}

function skipComment(source: string, at: number, lines: (n: number) => void): number {
  const c = source[at];
  if (c === '#' || (c === '/' && source[at + 1] === '/')) {
    const end = source.indexOf('\n', at);
    return end === -1 ? source.length : end - 1; // the newline itself is counted by the caller
  }
  if (c === '/' && source[at + 1] === '*') {
    const end = source.indexOf('*/', at + 2);
    const stop = end === -1 ? source.length : end + 1;
    lines(countLines(source, at, stop));
    return stop;
  }
  return at;
}

function countLines(source: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (source.charCodeAt(i) === 10) n++;
  return n;
}
