// Reads a request body into memory, bounded: the signature covers the payload hash, so the body must be
// whole before the call can be signed; read calls send small forms, so a small bound is enough.
import type { IncomingMessage } from 'node:http';

export const MAX_REQUEST_BODY_BYTES = 1 << 20;

export type BodyResult = { ok: true; body: Buffer } | { ok: false; reason: string };

export function readBoundedBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (Number.isFinite(declared) && declared > limit) {
      resolve({ ok: false, reason: `request body of ${declared} bytes is over the ${limit}-byte limit` });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        resolve({ ok: false, reason: `request body is over the ${limit}-byte limit` });
        // Stop reading; the answer is written and the connection closed by the caller.
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve({ ok: true, body: Buffer.concat(chunks) });
    });
    req.on('error', reject);
  });
}
