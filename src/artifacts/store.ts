// Artifact storage behind one interface (local directory by default, S3-compatible optionally). Every
// object lives in its tenant's namespace, derived from a hash of the tenant name: a reference handed to
// another tenant resolves inside THAT tenant's namespace (or is refused), so no tenant can read another's
// plans or uploads, even by guessing keys. Keys are validated here, at the edge, against path traversal.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { DomainError } from '../domains/errors.js';

export interface GetOptions {
  /** Refuse objects larger than this (they would be read into memory). */
  maxBytes?: number;
}

export interface ObjectInfo {
  bytes: number;
  /** Last write, epoch milliseconds (what the TTL sweep compares). */
  modifiedMs: number;
}

export interface StoredObject {
  reference: string;
  bytes: number;
}

export interface ListedObject extends StoredObject {
  modifiedMs: number;
}

export interface ArtifactStore {
  readonly kind: 'local' | 's3';
  /** Stores bytes under the tenant's key (atomically: readers never see a partial object); returns a reference. */
  put(tenant: string, key: string, bytes: Buffer | string): Promise<string>;
  /** undefined for unknown references and for other tenants' alike. */
  get(tenant: string, reference: string, options?: GetOptions): Promise<Buffer | undefined>;
  /**
   * Streams bytes into the tenant's key without holding them in memory, refusing more than maxBytes
   * (ArtifactTooLargeError; nothing is left behind). Atomic like put. A source error leaves nothing either.
   */
  putStream(tenant: string, key: string, source: AsyncIterable<Buffer>, options: { maxBytes: number }): Promise<StoredObject>;
  /** Size and age of an object the tenant owns, without reading it; undefined like get. */
  stat(tenant: string, reference: string): Promise<ObjectInfo | undefined>;
  /** The object as a stream (served to the client as it is read); undefined like get. */
  open(tenant: string, reference: string): Promise<Readable | undefined>;
  /** false for unknown references and for other tenants' alike. */
  delete(tenant: string, reference: string): Promise<boolean>;
  /**
   * Bytes the tenant's namespace holds (what the per-tenant quota is checked against), each object
   * counted as at least OBJECT_FLOOR_BYTES.
   */
  usage(tenant: string): Promise<number>;
  /** The tenant's objects below a key prefix (`plans/`), with size and age; references as get takes them. */
  list(tenant: string, prefix: string): Promise<ListedObject[]>;
  /**
   * Deletes every object, all tenants, last written before `cutoffMs` (epoch ms), optionally only keys
   * below `keyPrefix` inside each namespace (`runs/`); returns how many.
   */
  expire(cutoffMs: number, keyPrefix?: string): Promise<number>;
  /** Removes what a crashed predecessor left half-written; returns how many entries it removed. */
  sweep(): Promise<number>;
}

/**
 * Each object counts as at least one disk block in a tenant's usage: a byte quota alone would let a
 * tenant store millions of tiny objects (inodes, listing time); this bounds the count by quota / 4 KiB.
 */
export const OBJECT_FLOOR_BYTES = 4096;

/** What one object of `bytes` costs against the quota. */
export function accountedBytes(bytes: number): number {
  return Math.max(bytes, OBJECT_FLOOR_BYTES);
}

/** Opaque, store-independent form: `artifact://plans/<run id>.json`, always read in the caller's namespace. */
export const ARTIFACT_SCHEME = 'artifact://';

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_KEY_LENGTH = 512;
const MAX_SEGMENTS = 8;

/** Throws a validation_error unless the key is a short relative path of safe segments (no `..`, no `/x`). */
export function validateKey(key: string): string {
  const segments = key.split('/');
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || segments.length > MAX_SEGMENTS || !segments.every((s) => SEGMENT.test(s) && !/^\.+$/.test(s))) {
    throw new DomainError('validation_error', 'invalid artifact key', key.slice(0, 80));
  }
  return key;
}

/** The tenant's directory/prefix name: a hash, so any tenant string is a safe single path segment. */
export function tenantNamespace(tenant: string): string {
  return createHash('sha256').update(`confine-tenant\0${tenant}`).digest('hex').slice(0, 32);
}

/** The key inside the tenant's namespace of an `artifact://key` reference, or undefined. */
export function keyOfArtifactReference(reference: string): string | undefined {
  if (!reference.startsWith(ARTIFACT_SCHEME)) return undefined;
  const key = reference.slice(ARTIFACT_SCHEME.length);
  try {
    return validateKey(key);
  } catch {
    return undefined; // a malformed reference is just an unknown one
  }
}

export class ArtifactTooLargeError extends DomainError {
  constructor(readonly limit: number) {
    super('validation_error', `artifact is larger than ${limit} bytes`);
  }
}

/** Counts bytes as they pass and throws ArtifactTooLargeError once more than maxBytes went by. */
export async function* capped(source: AsyncIterable<Buffer>, maxBytes: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of source) {
    seen += chunk.length;
    if (seen > maxBytes) throw new ArtifactTooLargeError(maxBytes);
    yield chunk;
  }
}
