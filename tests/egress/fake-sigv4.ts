// The fake upstream's check of a request's SigV4 signature: recompute it with the real test credentials,
// using the same library the proxy signs with (@smithy/signature-v4), over exactly the headers the
// request says it signed, and compare. A placeholder-signed request fails here, as it would at AWS.
import { SignatureV4 } from '@smithy/signature-v4';
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { Sha256 } from '../../src/egress/sha256.js';
import { parseAuthorization, type SigV4Scope } from '../../src/egress/scope.js';
import type { AwsCredentials } from '../../src/egress/types.js';

export type Verdict = { ok: true; scope: SigV4Scope } | { ok: false; reason: string };

export async function verifySignature(req: IncomingMessage, body: Buffer, credentials: AwsCredentials): Promise<Verdict> {
  const parsed = parseAuthorization(req.headers.authorization);
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  const scope = parsed.scope;
  if (scope.accessKeyId !== credentials.aws_access_key_id) return { ok: false, reason: `unknown access key ${scope.accessKeyId}` };
  const amzDate = req.headers['x-amz-date'];
  if (typeof amzDate !== 'string' || !/^\d{8}T\d{6}Z$/.test(amzDate)) return { ok: false, reason: 'missing X-Amz-Date' };
  if (!amzDate.startsWith(scope.date)) return { ok: false, reason: 'X-Amz-Date does not match the scope date' };
  const headers: Record<string, string> = {};
  for (const name of scope.signedHeaders) {
    const value = req.headers[name];
    if (value === undefined) return { ok: false, reason: `signed header ${name} missing` };
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const url = new URL(req.url ?? '/', 'http://fake');
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(key);
    query[key] = all.length === 1 ? (all[0] ?? '') : all;
  }
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: credentials.aws_access_key_id,
      secretAccessKey: credentials.aws_secret_access_key,
      ...(credentials.aws_session_token === undefined ? {} : { sessionToken: credentials.aws_session_token }),
    },
    region: scope.region,
    service: scope.service,
    sha256: Sha256,
    uriEscapePath: scope.service !== 's3',
    applyChecksum: scope.service === 's3',
  });
  const pathOnly = (req.url ?? '/').split('?')[0] ?? '/';
  const signed = await signer.sign(
    { method: req.method ?? 'GET', protocol: 'http:', hostname: 'fake', path: pathOnly, query, headers, body },
    { signingDate: parseAmzDate(amzDate), signableHeaders: new Set(scope.signedHeaders) },
  );
  const expected = parseAuthorization(signed.headers.authorization);
  if (!expected.ok) return { ok: false, reason: 'could not recompute the signature' };
  if (expected.scope.signedHeaders.join(';') !== scope.signedHeaders.join(';')) {
    return { ok: false, reason: `signed headers differ: ${scope.signedHeaders.join(';')} vs ${expected.scope.signedHeaders.join(';')}` };
  }
  const a = Buffer.from(expected.scope.signature);
  const b = Buffer.from(scope.signature);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'signature does not match' };
  return { ok: true, scope };
}

function parseAmzDate(value: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) throw new Error(`bad X-Amz-Date ${value}`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}
