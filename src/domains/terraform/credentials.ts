// The one rule for a request's AWS credentials (issue 15 item 1): the HTTP JSON schema, the multipart
// form and the domain entry all call checkCredentials, so a value accepted at one door is accepted at all.
// The values are secrets: no message ever quotes them, only the field name.
import type { AwsCredentials } from './types.js';

/** Lengths AWS issues with room to spare (session tokens of chained roles run to a few KiB). */
export const CREDENTIAL_LIMITS = {
  aws_access_key_id: { min: 8, max: 128 },
  aws_secret_access_key: { min: 8, max: 256 },
  aws_session_token: { min: 8, max: 8192 },
} as const;

type Field = keyof typeof CREDENTIAL_LIMITS;
const FIELDS = Object.keys(CREDENTIAL_LIMITS) as Field[];

/**
 * Key ids are upper-case alphanumerics (AKIA..., ASIA...); secrets and tokens are base64 (plus `_-`).
 * A minimum length keeps the redactor from blanking every short common substring of the output.
 * Exported as pattern sources so the HTTP schema (api/schemas.ts) states the same rule.
 */
export const CREDENTIAL_PATTERNS: Record<Field, string> = {
  aws_access_key_id: '^[A-Z0-9]+$',
  aws_secret_access_key: '^[A-Za-z0-9+/=_-]+$',
  aws_session_token: '^[A-Za-z0-9+/=_-]+$',
};
const CHARSETS: Record<Field, RegExp> = {
  aws_access_key_id: new RegExp(CREDENTIAL_PATTERNS.aws_access_key_id),
  aws_secret_access_key: new RegExp(CREDENTIAL_PATTERNS.aws_secret_access_key),
  aws_session_token: new RegExp(CREDENTIAL_PATTERNS.aws_session_token),
};

export type CredentialsCheck = { ok: true; credentials: AwsCredentials } | { ok: false; field: string; message: string };

/** Validates an untrusted value (parsed JSON) as credentials: exactly these fields, each within its rule. */
export function checkCredentials(value: unknown): CredentialsCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, field: 'credentials', message: 'credentials must be an object with aws_access_key_id and aws_secret_access_key (and optionally aws_session_token)' };
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).find((key) => !(FIELDS as string[]).includes(key));
  if (unknown !== undefined) return { ok: false, field: 'credentials', message: 'credentials may hold only aws_access_key_id, aws_secret_access_key and aws_session_token' };
  for (const field of FIELDS) {
    const problem = checkField(field, record[field]);
    if (problem !== undefined) return { ok: false, field, message: problem };
  }
  const token = record['aws_session_token'];
  return {
    ok: true,
    credentials: {
      aws_access_key_id: record['aws_access_key_id'] as string,
      aws_secret_access_key: record['aws_secret_access_key'] as string,
      ...(typeof token === 'string' ? { aws_session_token: token } : {}),
    },
  };
}

function checkField(field: Field, value: unknown): string | undefined {
  if (value === undefined && field === 'aws_session_token') return undefined;
  const { min, max } = CREDENTIAL_LIMITS[field];
  if (typeof value !== 'string' || value.length < min || value.length > max || !CHARSETS[field].test(value)) {
    return `credentials.${field} must be ${min}-${max} characters of ${describeCharset(field)}`;
  }
  return undefined;
}

function describeCharset(field: Field): string {
  return field === 'aws_access_key_id' ? 'A-Z and 0-9' : 'A-Z, a-z, 0-9 and + / = _ -';
}
