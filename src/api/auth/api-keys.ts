// API keys are kept only as SHA-256 digests: a memory dump or a log line never holds a usable key.
// Lookup compares every stored digest in constant time, so response timing does not reveal a prefix.
import { createHash, timingSafeEqual } from 'node:crypto';

export interface ApiKeyEntry {
  tenant: string;
  digest: Buffer;
}

const TENANT = /^[A-Za-z0-9._-]{1,64}$/;

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** `key` or `tenant:key`, comma-separated. A bare key's tenant is derived from its digest (not the key). */
export function parseApiKeys(raw: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  for (const item of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const colon = item.indexOf(':');
    const tenant = colon > 0 ? item.slice(0, colon) : undefined;
    const key = colon > 0 ? item.slice(colon + 1) : item;
    if (key.length < 8) throw new Error('every API key must be at least 8 characters');
    if (tenant !== undefined && !TENANT.test(tenant)) throw new Error(`invalid tenant name "${tenant}" (use A-Z a-z 0-9 . _ -)`);
    const digest = sha256(key);
    entries.push({ tenant: tenant ?? `key-${digest.toString('hex').slice(0, 12)}`, digest });
  }
  return entries;
}

export class ApiKeyStore {
  constructor(private readonly entries: readonly ApiKeyEntry[]) {}

  get size(): number {
    return this.entries.length;
  }

  /** The tenant owning `key`, or undefined. Every entry is compared (no early exit). */
  lookup(key: string): string | undefined {
    const digest = sha256(key);
    let found: string | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, digest) && found === undefined) found = entry.tenant;
    }
    return found;
  }
}
