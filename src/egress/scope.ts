// Reads the SigV4 scope of a request: who it claims to be for (service, region) and what it signed.
// Service and region end up in a host name, so both are checked against strict shapes here: a crafted
// scope such as `evil.example#` must never steer the proxy to another host (SSRF).

export interface SigV4Scope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AUTH_PREFIX = 'AWS4-HMAC-SHA256 ';
const SERVICE_SHAPE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const REGION_SHAPE = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const DATE_SHAPE = /^\d{8}$/;
const MAX_AUTH_LENGTH = 4096;

export type ScopeResult = { ok: true; scope: SigV4Scope } | { ok: false; reason: string };

export function parseAuthorization(header: string | undefined): ScopeResult {
  if (header === undefined || header.length === 0) return { ok: false, reason: 'unsigned request (no SigV4 Authorization header)' };
  if (header.length > MAX_AUTH_LENGTH) return { ok: false, reason: 'Authorization header too long' };
  if (!header.startsWith(AUTH_PREFIX)) return { ok: false, reason: 'Authorization is not AWS4-HMAC-SHA256' };
  const fields = new Map<string, string>();
  for (const part of header.slice(AUTH_PREFIX.length).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    return { ok: false, reason: 'Authorization lacks Credential, SignedHeaders or Signature' };
  }
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') return { ok: false, reason: 'malformed SigV4 credential scope' };
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  if (!DATE_SHAPE.test(date)) return { ok: false, reason: 'malformed SigV4 scope date' };
  if (!REGION_SHAPE.test(region)) return { ok: false, reason: `malformed region in SigV4 scope` };
  if (!SERVICE_SHAPE.test(service)) return { ok: false, reason: `malformed service in SigV4 scope` };
  return {
    ok: true,
    scope: { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';').filter((h) => h.length > 0), signature },
  };
}
