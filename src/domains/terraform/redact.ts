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
 * Redacts a byte stream chunk by chunk, in bounded memory: every secret form is replaced within a chunk,
 * and the last (longest form - 1) bytes are held back until the next chunk, so a secret split across two
 * chunks is still found. Replacement works on bytes (Buffer.indexOf), never decoding the stream.
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
    const data = this.replace(this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]));
    const cut = Math.max(0, data.length - this.keep);
    this.carry = Buffer.from(data.subarray(cut));
    return data.subarray(0, cut);
  }

  /** What was held back, at the end of the stream. */
  end(): Buffer {
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    return rest;
  }

  private replace(data: Buffer): Buffer {
    let out = data;
    for (const form of this.forms) {
      let at = out.indexOf(form);
      if (at < 0) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at >= 0) {
        parts.push(out.subarray(from, at), this.marker);
        from = at + form.length;
        at = out.indexOf(form, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }
}
