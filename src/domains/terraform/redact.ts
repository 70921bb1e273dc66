// Credentials are replaced wherever they appear in anything returned: step output, diagnostics, plan
// JSON (as text and, after parsing, in every string, since JSON escaping could hide a match in text).

export const REDACTED = '[REDACTED]';

export class Redactor {
  private readonly secrets: string[];

  constructor(secrets: readonly (string | undefined)[]) {
    // Longest first, so a secret containing another is replaced whole.
    this.secrets = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length > 0))].sort((a, b) => b.length - a.length);
  }

  get active(): boolean {
    return this.secrets.length > 0;
  }

  /** The values redacted (for a StreamRedactor over the same secrets). */
  get values(): readonly string[] {
    return this.secrets;
  }

  text(value: string): string {
    let out = value;
    for (const secret of this.secrets) out = out.split(secret).join(REDACTED);
    return out;
  }

  /** Deep copy with every string (keys included) redacted. */
  deep<T>(value: T): T {
    if (!this.active) return value;
    return this.walk(value) as T;
  }

  private walk(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.walk(item));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [this.text(key), this.walk(item)]));
    }
    return value;
  }
}

/**
 * The forms a secret takes in JSON that Go's encoder wrote (terraform `show -json`): as it is, and with
 * `"`, `\`, `<`, `>`, `&` escaped the way encoding/json escapes them. Redacting both in the bytes is complete
 * for terraform's output, whose encoding a tenant cannot choose.
 */
export function jsonForms(secret: string): string[] {
  const escaped = secret
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
  return escaped === secret ? [secret] : [secret, escaped];
}

/**
 * Redacts a byte stream chunk by chunk, in bounded memory. The stream is scanned once, left to right: at
 * each place the longest secret form starting there is replaced. Only matches starting before the last
 * (longest form - 1) bytes are decided; those bytes are held back, unredacted, until the next chunk, so a
 * secret split across two chunks is still found and the output is the same wherever the chunks split.
 * (Replacing form by form within a chunk, as before, let a shorter secret held in the tail be replaced
 * first and hide the longer secret containing it, whose other bytes then passed.) Replacement works on
 * bytes (Buffer.indexOf), never decoding the stream.
 */
export class StreamRedactor {
  private readonly forms: Buffer[];
  private readonly keep: number;
  private carry = Buffer.alloc(0);
  private readonly marker = Buffer.from(REDACTED, 'utf8');

  constructor(secrets: readonly string[]) {
    this.forms = [...new Set(secrets.filter((s) => s.length > 0).flatMap(jsonForms))]
      .sort((a, b) => b.length - a.length)
      .map((form) => Buffer.from(form, 'utf8'));
    this.keep = Math.max(0, ...this.forms.map((form) => form.length - 1));
  }

  /** Redacted bytes that are safe to pass on now. */
  push(chunk: Buffer): Buffer {
    if (this.forms.length === 0) return chunk;
    const data = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    const { done, rest } = this.replace(data, data.length - this.keep);
    this.carry = Buffer.from(rest);
    return done;
  }

  /** What was held back, redacted, at the end of the stream. */
  end(): Buffer {
    const { done } = this.replace(this.carry, this.carry.length);
    this.carry = Buffer.alloc(0);
    return done;
  }

  /** Replaces every match starting before `limit`; `done` runs to `limit` (or the end of the last match). */
  private replace(data: Buffer, limit: number): { done: Buffer; rest: Buffer } {
    const next = this.forms.map((form) => data.indexOf(form));
    const parts: Buffer[] = [];
    let from = 0;
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.forms.length; i++) {
        if (next[i]! >= 0 && next[i]! < from) next[i] = data.indexOf(this.forms[i]!, from);
        const at = next[i]!;
        // forms are sorted longest first: at one position the first found is the longest
        if (at >= 0 && at < limit && (best < 0 || at < next[best]!)) best = i;
      }
      if (best < 0) break;
      parts.push(data.subarray(from, next[best]), this.marker);
      from = next[best]! + this.forms[best]!.length;
    }
    const cut = Math.max(from, limit, 0);
    parts.push(data.subarray(from, cut));
    return { done: Buffer.concat(parts), rest: data.subarray(cut) };
  }
}
