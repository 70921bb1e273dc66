// Secret scrubbing for every log line, whoever logs it and at whatever level. Path-based redaction
// misses objects logged under names we do not know (at trace, @fastify/multipart logs the raw request
// headers as `busboyOptions.headers`), so the logger's `logMethod` hook passes every argument through
// here: a value under a credential-like key is replaced at any depth, and strings lose bearer tokens,
// JWT-shaped tokens and the literal secrets the operator configured. Nothing is mutated in place
// (a logged object may be a live request's headers). Each finished line is scrubbed once more
// (child-logger bindings and serializer output never pass the hook).

export const CENSOR = '[REDACTED]';

/** Deeper than this, a logged value is cut (also stops reference cycles). */
const MAX_DEPTH = 8;
/** Most keys or items of one object walked; the rest is summarised (a log line stays bounded). */
const MAX_ENTRIES = 200;

/**
 * Key names (lower-cased, without `-` and `_`) whose values are secrets, and suffixes that make any key
 * one (`sessionToken`, `S3_SECRET_ACCESS_KEY`, `proxy-authorization`...).
 */
const SECRET_KEY_SUFFIXES = ['authorization', 'apikey', 'cookie', 'credentials', 'secret', 'secretaccesskey', 'token', 'password', 'privatekey', 'jwt'];

/** `Bearer <anything>` and `Basic <anything>` in free text (a pasted header). */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[^\s"',;]+/gi;
/** `"key":"string value"` in JSON text (escapes included). */
const JSON_STRING_PAIR = /"((?:[^"\\]|\\.)*)":"(?:[^"\\]|\\.)*"/g;
/** A JWS compact token: base64url header starting `{"` (eyJ), payload and signature. */
const JWT_SHAPE = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;

export function isSecretKey(key: string): boolean {
  const normal = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_KEY_SUFFIXES.some((suffix) => normal.endsWith(suffix));
}

export interface Redactor {
  /** A copy of `value` with secrets censored (strings scrubbed, secret keys replaced). */
  value(value: unknown): unknown;
  string(text: string): string;
  /** A finished JSON log line: string values under secret keys censored, then scrubbed as a string. */
  line(json: string): string;
}

/**
 * `secrets`: literal values known to be secret (configured API keys, JWT secret, S3 secret): they are
 * removed from every string even where no key names them (an error message quoting one).
 */
export function createRedactor(secrets: readonly string[] = []): Redactor {
  // Short values would censor ordinary words; the configuration already requires 8+ characters for keys.
  const literals = [...new Set(secrets.filter((s) => s.length >= 8))].sort((a, b) => b.length - a.length);
  const string = (text: string): string => {
    let out = text.replace(AUTH_SCHEME, `$1 ${CENSOR}`).replace(JWT_SHAPE, CENSOR);
    for (const literal of literals) if (out.includes(literal)) out = out.split(literal).join(CENSOR);
    return out;
  };
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return string(value);
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH) return '[Truncated]';
    if (value instanceof Error) return walk(errorObject(value), depth);
    if (Array.isArray(value)) {
      const items = value.slice(0, MAX_ENTRIES).map((item) => walk(item, depth + 1));
      if (value.length > MAX_ENTRIES) items.push(`[${value.length - MAX_ENTRIES} more]`);
      return items;
    }
    if (!isPlainObject(value)) return value; // class instances (Buffers, dates, a Fastify request) go to their serializers
    const out: Record<string, unknown> = {};
    let count = 0;
    for (const [key, item] of Object.entries(value)) {
      if (count++ >= MAX_ENTRIES) {
        out['…'] = `[${Object.keys(value).length - MAX_ENTRIES} more keys]`;
        break;
      }
      out[key] = isSecretKey(key) && item !== undefined && item !== null && item !== '' ? CENSOR : walk(item, depth + 1);
    }
    return out;
  };
  const line = (json: string): string =>
    string(json.replace(JSON_STRING_PAIR, (pair: string, key: string) => (isSecretKey(key) ? `"${key}":"${CENSOR}"` : pair)));
  return { value: (value) => walk(value, 0), string, line };
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** What pino's err serializer keeps, as a plain object so it can be scrubbed (messages quote inputs). */
function errorObject(error: Error): Record<string, unknown> {
  // Own enumerable fields too (code, statusCode, validation, an SDK's $metadata), as pino's serializer keeps them.
  const out: Record<string, unknown> = { type: error.name, message: error.message, stack: error.stack, ...Object.fromEntries(Object.entries(error)) };
  if (error.cause !== undefined) out['cause'] = error.cause;
  return out;
}
