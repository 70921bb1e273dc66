// Table of accepted and rejected command lines: quoting edge cases and Judge0-style bypasses.
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domains/errors.js';
import { MAX_COMMAND_BYTES, quoteArgv, tokenize } from '../../src/domains/commands/tokenizer.js';

const argv = (line: string): string[] => tokenize(line).map((t) => t.value);

function rejection(line: string): DomainError {
  try {
    tokenize(line);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(line)}`);
}

const ACCEPTED: [string, string[]][] = [
  ['echo hello', ['echo', 'hello']],
  ['  ls   -la  ', ['ls', '-la']],
  ["echo 'hello world'", ['echo', 'hello world']],
  ['echo "hello world"', ['echo', 'hello world']],
  ["echo ''", ['echo', '']],
  ['echo ""', ['echo', '']],
  ["echo a'b'c\"d\"e", ['echo', 'abcde']],
  ['echo \\ a', ['echo', ' a']],
  ["echo it\\'s", ['echo', "it's"]],
  ["echo 'it'\\''s'", ['echo', "it's"]],
  ['echo "a\\"b"', ['echo', 'a"b']],
  ['echo "a\\\\b"', ['echo', 'a\\b']],
  ['echo "a\\nb"', ['echo', 'a\\nb']], // backslash-n is two characters, not a newline
  ['echo a\\\\b', ['echo', 'a\\b']],
  ["echo 'a\\'", ['echo', 'a\\']], // single quotes: the backslash is literal
  ['echo "a\\\\" b', ['echo', 'a\\', 'b']],
  ['echo "\\$HOME"', ['echo', '$HOME']],
  ["echo '$HOME'", ['echo', '$HOME']],
  ["ls '*.tf'", ['ls', '*.tf']],
  ["echo '#not-a-comment'", ['echo', '#not-a-comment']],
  ['echo a#b', ['echo', 'a#b']],
  ['echo a~b', ['echo', 'a~b']],
  ['cat résumé.txt', ['cat', 'résumé.txt']],
  ['echo Ａ', ['echo', 'Ａ']], // fullwidth letter: NFKC is a letter, not an operator
  ['terraform validate -no-color', ['terraform', 'validate', '-no-color']],
  ['echo key=value a,b:c', ['echo', 'key=value', 'a,b:c']],
];

const REJECTED: [string, string, DomainError['type']][] = [
  // [line, offending token as named in the error, class]
  ['echo a; rm -rf /', '";"', 'security_violation'],
  ["echo a ';' rm -rf /", '";"', 'security_violation'],
  ['echo a && id', '"&&"', 'security_violation'],
  ['echo a || id', '"||"', 'security_violation'],
  ['echo a | cat', '"|"', 'security_violation'],
  ['echo a |& cat', '"|&"', 'security_violation'],
  ['sleep 1 &', '"&"', 'security_violation'],
  ['echo $(id)', '"$("', 'security_violation'],
  ['echo "$(id)"', '"$("', 'security_violation'],
  ["echo '$(id)'", '"$("', 'security_violation'],
  ['echo $((1+1))', '"$(("', 'security_violation'],
  ['echo ${HOME}', '"${"', 'security_violation'],
  ['echo $HOME', '"$H"', 'security_violation'],
  ['echo "$HOME"', '"$H"', 'security_violation'],
  ['echo "\\$(id)"', '"$("', 'security_violation'],
  ['echo `id`', '"`"', 'security_violation'],
  ["echo '`id`'", '"`"', 'security_violation'],
  ['echo \\`id\\`', '"`"', 'security_violation'],
  ['echo \\;', '";"', 'security_violation'],
  ['echo a\\\\; id', '";"', 'security_violation'], // `\\;`: an escaped backslash, then a real separator
  ['echo "a\\\\"; id', '";"', 'security_violation'], // the quote closes after `\\`
  ["echo 'a\\'; id", '";"', 'security_violation'], // no escapes inside single quotes: the quote closes
  ['cat < /etc/shadow', '"<"', 'security_violation'],
  ['echo a > out', '">"', 'security_violation'],
  ['echo a >> out', '">>"', 'security_violation'],
  ['ls nothing 2> err', '"2>"', 'security_violation'],
  ['ls nothing 2>&1', '"2>&"', 'security_violation'],
  ['echo a &> out', '"&>"', 'security_violation'],
  ['cat <<EOF', '"<<"', 'security_violation'],
  ['cat <<-EOF', '"<<-"', 'security_violation'],
  ['cat <<< hi', '"<<<"', 'security_violation'],
  ['(id)', '"("', 'security_violation'],
  ['echo {a,b}', '"{"', 'security_violation'],
  ['ls *', '"*"', 'security_violation'],
  ['ls ?', '"?"', 'security_violation'],
  ['ls [ab]', '"["', 'security_violation'],
  ['echo # comment', '"#"', 'security_violation'],
  ['ls ~', '"~"', 'security_violation'],
  ['echo !!', '"!"', 'security_violation'],
  // Control characters: newline and friends split commands for a shell.
  ['echo a\nid', 'newline', 'security_violation'],
  ["echo 'a\nid'", 'newline', 'security_violation'],
  ['echo a\\\nid', 'newline', 'security_violation'],
  ['echo a\rid', 'carriage return', 'security_violation'],
  ['echo a\u0000id', 'NUL byte', 'security_violation'],
  ['echo a\tb', 'tab', 'security_violation'],
  ['echo a\u001bb', 'control character', 'security_violation'],
  ['echo a\u007fb', 'control character', 'security_violation'],
  ['echo a\u0085b', 'U+0085', 'security_violation'],
  ['echo a\u2028id', 'U+2028', 'security_violation'],
  // Unicode look-alikes and invisible characters.
  ['echo a\uff1b id', 'U+FF1B', 'security_violation'], // FULLWIDTH SEMICOLON
  ['echo a\u037e id', 'U+037E', 'security_violation'], // GREEK QUESTION MARK (NFKC ";")
  ['echo a\ufe54 id', 'U+FE54', 'security_violation'], // SMALL SEMICOLON
  ['echo a\uff5c cat', 'U+FF5C', 'security_violation'], // FULLWIDTH VERTICAL LINE
  ['echo a\uff06\uff06 id', 'U+FF06', 'security_violation'], // FULLWIDTH AMPERSAND
  ['echo \uff04(id)', 'U+FF04', 'security_violation'], // FULLWIDTH DOLLAR
  ['echo a \uff1e out', 'U+FF1E', 'security_violation'], // FULLWIDTH GREATER-THAN
  ['echo \u1fefid\u1fef', 'U+1FEF', 'security_violation'], // GREEK VARIA (NFKC "`")
  ['echo a\u2223cat', 'U+2223', 'security_violation'], // DIVIDES
  ['echo a\u01c0cat', 'U+01C0', 'security_violation'], // LATIN LETTER DENTAL CLICK
  ['echo a\u061b id', 'U+061B', 'security_violation'], // ARABIC SEMICOLON
  ['echo \u201chi\u201d', 'U+201C', 'security_violation'], // smart quotes
  ['echo a\u00a0b', 'U+00A0', 'security_violation'], // NO-BREAK SPACE as a fake separator
  ['echo a\u3000b', 'U+3000', 'security_violation'], // IDEOGRAPHIC SPACE
  ['echo a\u200bb', 'U+200B', 'security_violation'], // ZERO WIDTH SPACE
  ['echo a\u202eb', 'U+202E', 'security_violation'], // RIGHT-TO-LEFT OVERRIDE (Trojan Source)
  ['echo a\ufeffb', 'U+FEFF', 'security_violation'], // BOM
  ['echo \ud800', 'U+D800', 'security_violation'], // unpaired surrogate
  // Malformed lines.
  ["echo 'open", 'unterminated single quote', 'validation_error'],
  ['echo "open', 'unterminated double quote', 'validation_error'],
  ['echo \\', 'dangling backslash', 'validation_error'],
  ['', 'empty command', 'validation_error'],
  ['   ', 'empty command', 'validation_error'],
];

describe('tokenizer', () => {
  it.each(ACCEPTED)('accepted_%j', (line, expected) => {
    expect(argv(line)).toEqual(expected);
  });

  it.each(REJECTED)('rejected_%j', (line, named, type) => {
    const error = rejection(line);
    expect(error.type).toBe(type);
    expect(error.message).toContain(named);
    expect(error.message).toMatch(/column \d+/);
  });

  it('operator_error_names_token_and_column', () => {
    const error = rejection('echo abc; id');
    expect(error.message).toContain('";" (command separator) at column 9');
    expect(error.detail).toBe('token=";" column=9');
  });

  it('redirection_error_names_descriptor_at_word_start', () => {
    expect(rejection('ls x 2>/dev/null').detail).toBe('token="2>" column=6');
  });

  it('very_long_line_rejected_before_parsing', () => {
    const line = `echo ${'a'.repeat(MAX_COMMAND_BYTES)}`;
    const error = rejection(line);
    expect(error.type).toBe('security_violation');
    expect(error.message).toContain(`limit is ${MAX_COMMAND_BYTES}`);
  });

  it('line_at_limit_accepted', () => {
    const line = `echo ${'a'.repeat(MAX_COMMAND_BYTES - 5)}`;
    expect(argv(line)[1]).toHaveLength(MAX_COMMAND_BYTES - 5);
  });

  it('too_many_arguments_rejected', () => {
    expect(rejection(`echo${' a'.repeat(300)}`).message).toContain('more than 256 arguments');
  });

  it('multibyte_line_measured_in_bytes', () => {
    // 2100 × "é" is 2105 characters but 4205 bytes of UTF-8: over the byte limit.
    expect(rejection(`echo ${'é'.repeat(2100)}`).message).toContain('bytes');
  });

  it('quoteArgv_roundtrips_awkward_arguments', () => {
    const args = ['echo', '', 'a b', "it's", '*', '#x', '~', '"', '\\', 'ü', '!'];
    expect(argv(quoteArgv(args))).toEqual(args);
  });

  it('quoteArgv_operator_argument_still_rejected', () => {
    expect(rejection(quoteArgv(['echo', 'a', ';', 'rm', '-rf', '/'])).message).toContain('";"');
  });
});
