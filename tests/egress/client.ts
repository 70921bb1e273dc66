// What the jail's AWS SDK does, reduced to one call: sign with the PLACEHOLDER credentials (the only ones
// a jail ever has) for a host of 127.0.0.1:8080, and send the request over the proxy's unix socket.
import { request } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '../../src/egress/sha256.js';

export const PLACEHOLDER = { accessKeyId: 'AKIAPLACEHOLDER00000', secretAccessKey: 'placeholder-secret-not-a-real-one' };

export interface Call {
  service: string;
  region?: string;
  method?: string;
  path?: string;
  query?: Record<string, string>;
  form?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export async function signedPlaceholder(
  call: Call,
  host = '127.0.0.1:8080',
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = PLACEHOLDER,
): Promise<{ method: string; path: string; headers: Record<string, string>; body: string }> {
  const method = call.method ?? 'POST';
  const body = call.form !== undefined ? new URLSearchParams(call.form).toString() : (call.body ?? '');
  const headers: Record<string, string> = { host, ...(call.form !== undefined ? { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } : {}), ...call.headers };
  if (body.length > 0) headers['content-length'] = String(Buffer.byteLength(body));
  const signer = new SignatureV4({
    credentials,
    region: call.region ?? 'us-east-1',
    service: call.service,
    sha256: Sha256,
    uriEscapePath: call.service !== 's3',
    applyChecksum: call.service === 's3',
  });
  const signed = await signer.sign({ method, protocol: 'http:', hostname: '127.0.0.1', port: 8080, path: call.path ?? '/', query: call.query ?? {}, headers, body });
  const search = new URLSearchParams(call.query ?? {}).toString();
  return { method, path: (call.path ?? '/') + (search === '' ? '' : `?${search}`), headers: signed.headers, body };
}

/** Sends a placeholder-signed call to a unix socket (the proxy) or a TCP origin (the fake, directly). */
export async function send(call: Call, to: { socketPath: string } | { origin: string }): Promise<Answer> {
  const signed = await signedPlaceholder(call);
  return raw(signed, to);
}

export function raw(
  signed: { method: string; path: string; headers: Record<string, string>; body: string },
  to: { socketPath: string } | { origin: string },
): Promise<Answer> {
  const where = 'socketPath' in to ? { socketPath: to.socketPath } : { host: new URL(to.origin).hostname, port: Number(new URL(to.origin).port) };
  return new Promise((resolve, reject) => {
    const req = request({ ...where, method: signed.method, path: signed.path, headers: signed.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(signed.body);
  });
}
