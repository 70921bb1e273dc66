// Character policy of a command line, applied to every character, quoted or not. The tokenizer never
// hands a shell anything, but the argv may reach one later (an allowlisted `sh` script, a log pasted into
// a terminal), and Judge0-style bypasses hide operators in characters a human or a later normalization
// step reads differently. Policy (documented in README "Commands"):
//   - only U+0020 separates words; every other control (C0, DEL, C1), format (zero-width, bidi
//     overrides: Trojan Source), line/paragraph separator, private-use, unassigned or surrogate code
//     point is rejected, and so is any space other than U+0020 (NBSP and friends fake a separator);
//   - a non-ASCII character whose NFKC form contains ASCII punctuation (U+FF1B FULLWIDTH SEMICOLON -> ";",
//     U+037E GREEK QUESTION MARK -> ";", U+1FEF GREEK VARIA -> "`", U+FE64 SMALL LESS-THAN -> "<") is
//     rejected: a later NFKC step would turn it into an operator;
//   - a short list of visual look-alikes NFKC leaves alone (U+2223 DIVIDES, U+01C0 DENTAL CLICK, U+061B
//     ARABIC SEMICOLON, U+204F REVERSED SEMICOLON, smart quotes...) is rejected too.
// Letters, digits and marks of any script stay allowed (file names such as `résumé.txt`).

export interface CharacterProblem {
  reason: string;
}

/** Look-alikes of operators and quotes that NFKC does not map to ASCII. */
const LOOKALIKES: ReadonlyMap<number, string> = new Map([
  [0x01c0, 'pipe'], // ǀ LATIN LETTER DENTAL CLICK
  [0x2223, 'pipe'], // ∣ DIVIDES
  [0x2502, 'pipe'], // │ BOX DRAWINGS LIGHT VERTICAL
  [0x23d0, 'pipe'], // ⏐ VERTICAL LINE EXTENSION
  [0x05c0, 'pipe'], // ׀ HEBREW PUNCTUATION PASEQ
  [0x061b, 'semicolon'], // ؛ ARABIC SEMICOLON
  [0x204f, 'semicolon'], // ⁏ REVERSED SEMICOLON
  [0x2e35, 'semicolon'], // ⸵ TURNED SEMICOLON
  [0x02bc, 'quote'], // ʼ MODIFIER LETTER APOSTROPHE
  [0x2018, 'quote'], // ‘
  [0x2019, 'quote'], // ’
  [0x201a, 'quote'], // ‚
  [0x201b, 'quote'], // ‛
  [0x201c, 'quote'], // “
  [0x201d, 'quote'], // ”
  [0x201e, 'quote'], // „
  [0x2032, 'quote'], // ′ PRIME
  [0x2033, 'quote'], // ″ DOUBLE PRIME
  [0x02cb, 'backtick'], // ˋ MODIFIER LETTER GRAVE ACCENT
  [0x2035, 'backtick'], // ‵ REVERSED PRIME
  [0x2039, 'redirection'], // ‹
  [0x203a, 'redirection'], // ›
  [0x2329, 'redirection'], // 〈 (canonical to U+3008, not ASCII)
  [0x232a, 'redirection'], // 〉
  [0x3008, 'redirection'], // 〈
  [0x3009, 'redirection'], // 〉
  [0x2216, 'backslash'], // ∖ SET MINUS
  [0x29f5, 'backslash'], // ⧵ REVERSE SOLIDUS OPERATOR
  [0x2044, 'slash'], // ⁄ FRACTION SLASH
  [0x2215, 'slash'], // ∕ DIVISION SLASH
  [0xff04, 'dollar'], // covered by NFKC too; kept explicit for the error message
]);

const FORBIDDEN_CATEGORY = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;
const ASCII_PUNCTUATION = /[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/;
const LONE_SURROGATE = /^[\ud800-\udfff]$/;

function hex(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Why a single character (one code point) is not allowed anywhere in a command line, or null. */
export function characterProblem(char: string): CharacterProblem | null {
  const codePoint = char.codePointAt(0)!;
  if (codePoint === 0x20) return null;
  if (codePoint < 0x20 || codePoint === 0x7f) {
    const name = codePoint === 0x0a ? 'newline' : codePoint === 0x0d ? 'carriage return' : codePoint === 0 ? 'NUL byte' : codePoint === 0x09 ? 'tab' : 'control character';
    return { reason: `${name} (${hex(codePoint)})` };
  }
  if (codePoint < 0x7f) return null;
  if (LONE_SURROGATE.test(char)) return { reason: `unpaired surrogate (${hex(codePoint)})` };
  if (FORBIDDEN_CATEGORY.test(char)) return { reason: `invisible, control or unassigned character (${hex(codePoint)})` };
  if (/\p{Zs}/u.test(char)) return { reason: `non-ASCII space (${hex(codePoint)}); only U+0020 separates words` };
  const lookalike = LOOKALIKES.get(codePoint);
  if (lookalike) return { reason: `look-alike of a shell ${lookalike} (${hex(codePoint)})` };
  const normalized = char.normalize('NFKC');
  if (normalized !== char && ASCII_PUNCTUATION.test(normalized)) {
    return { reason: `look-alike of "${normalized.replace(/[^\x21-\x7e]/g, '')}" (${hex(codePoint)} normalizes to it)` };
  }
  return null;
}
