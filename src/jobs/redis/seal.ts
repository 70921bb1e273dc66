// Queued payloads sealed with AES-256-GCM under QUEUE_SECRET_KEY (issue 12): a run's credentials
// (Terraform with egress) sit in Redis only inside its queued job, and only encrypted. Whoever reads
// Redis (a backup, a replica, an operator's redis-cli, a leaked AOF) without the key sees sizes and
// tenants, not payloads. The run id is authenticated with the payload (AAD), so a sealed payload copied
// onto another job fails to open instead of running under another run's id.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1';

export class SealError extends Error {
  override readonly name = 'SealError';
}

export function parseSecretKey(base64: string): Buffer {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32) throw new SealError('QUEUE_SECRET_KEY must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)');
  return key;
}

/** `v1.<iv>.<tag>.<ciphertext>` (base64url): the payload's JSON, encrypted and bound to the run id. */
export function seal(key: Buffer, runId: string, payload: unknown): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(runId, 'utf8'));
  const body = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), body].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
}

/** The payload, or SealError when the key differs, the text was altered, or it belongs to another run. */
export function unseal<T>(key: Buffer, runId: string, sealed: string): T {
  const [version, iv, tag, body, ...rest] = sealed.split('.');
  if (version !== VERSION || iv === undefined || tag === undefined || body === undefined || rest.length > 0) throw new SealError('sealed payload: unknown format');
  const ivBytes = Buffer.from(iv, 'base64url');
  const tagBytes = Buffer.from(tag, 'base64url');
  if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) throw new SealError('sealed payload: unknown format');
  const decipher = createDecipheriv('aes-256-gcm', key, ivBytes);
  decipher.setAAD(Buffer.from(runId, 'utf8'));
  decipher.setAuthTag(tagBytes);
  let text: string;
  try {
    text = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new SealError(`sealed payload does not open (QUEUE_SECRET_KEY differs between API nodes and this worker, or the payload was altered): ${error instanceof Error ? error.message : String(error)}`);
  }
  return JSON.parse(text) as T;
}
