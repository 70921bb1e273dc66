// Drops the jail's placeholder signature and signs the same request again with the run's real
// credentials. Everything the placeholder signature covered is kept except what identifies the signer
// (Authorization, X-Amz-Date, X-Amz-Security-Token) and what the hop changes (Host, hop-by-hop headers).
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { Sha256 } from './sha256.js';
import type { AwsCredentials } from './types.js';

const DROPPED = new Set([
  'authorization',
  'x-amz-date',
  'x-amz-security-token',
  'host',
  'date',
  'content-length',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'proxy-authorization',
  'proxy-connection',
]);

export interface UnsignedCall {
  method: string;
  /** Path as sent (already escaped), without the query string. */
  path: string;
  query: URLSearchParams;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Buffer;
  service: string;
  region: string;
}

export async function resign(call: UnsignedCall, target: URL, credentials: AwsCredentials, now: Date = new Date()): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(call.headers)) {
    const key = name.toLowerCase();
    if (value === undefined || DROPPED.has(key) || key.startsWith('proxy-')) continue;
    headers[key] = Array.isArray(value) ? value.join(',') : value;
  }
  headers.host = target.host;
  if (call.body.length > 0 || call.method === 'POST' || call.method === 'PUT') headers['content-length'] = String(call.body.length);
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: credentials.aws_access_key_id,
      secretAccessKey: credentials.aws_secret_access_key,
      ...(credentials.aws_session_token === undefined ? {} : { sessionToken: credentials.aws_session_token }),
    },
    region: call.region,
    service: call.service,
    sha256: Sha256,
    // S3 signs the path as sent and states its payload hash in a header; every other service
    // escapes the path once more (the SigV4 rules differ there).
    uriEscapePath: call.service !== 's3',
    applyChecksum: call.service === 's3',
  });
  const request: HttpRequest = {
    method: call.method,
    protocol: target.protocol,
    hostname: target.hostname,
    ...(target.port === '' ? {} : { port: Number(target.port) }),
    path: call.path,
    query: queryRecord(call.query),
    headers,
    body: call.body,
  };
  const signed = await signer.sign(request, { signingDate: now });
  return signed.headers;
}

function queryRecord(query: URLSearchParams): Record<string, string | string[]> {
  const record: Record<string, string | string[]> = {};
  for (const key of new Set(query.keys())) {
    const values = query.getAll(key);
    record[key] = values.length === 1 ? (values[0] ?? '') : values;
  }
  return record;
}
