// Artifacts in an S3-compatible bucket: s3://<bucket>/<prefix>tenants/<tenant namespace>/<key>. A PUT is
// atomic in S3 (readers see the old object or the new one), so there are no temp objects to sweep. A
// reference is honoured only inside the caller's namespace: an s3:// URL naming another tenant's key, or
// any other bucket, is "unknown" (the API answers 404), never fetched — no confused-deputy reads.
// Streamed uploads go through a private temp file first (capped while it is written), then one PutObject
// with a known length: never a whole upload in memory, and no half-written object if the client stops.
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  type _Object,
} from '@aws-sdk/client-s3';
import type { S3Config } from '../config/settings.js';
import {
  accountedBytes,
  ArtifactTooLargeError,
  capped,
  keyOfArtifactReference,
  tenantNamespace,
  validateKey,
  type ArtifactStore,
  type GetOptions,
  type ListedObject,
  type ObjectInfo,
  type StoredObject,
} from './store.js';

export class S3ArtifactStore implements ArtifactStore {
  readonly kind = 's3' as const;
  private readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    prefix = '',
    /** Operator grants: tenant -> key prefixes it may read (get only) outside its namespace. */
    private readonly readGrants: Readonly<Record<string, readonly string[]>> = {},
  ) {
    if (!bucket) throw new Error('S3 artifact store: a bucket is required');
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  }

  static fromConfig(config: Readonly<S3Config>): S3ArtifactStore {
    const clientConfig: S3ClientConfig = {
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      // A streamed PutObject would otherwise be sent aws-chunked with a trailing checksum, which several
      // S3-compatible servers (s3rver among them) store verbatim, chunk headers included. The body has a
      // known length, so plain signed streaming works everywhere.
      requestChecksumCalculation: 'WHEN_REQUIRED',
    };
    if (config.endpoint) clientConfig.endpoint = config.endpoint;
    if (config.accessKeyId) {
      clientConfig.credentials = { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey };
    }
    return new S3ArtifactStore(new S3Client(clientConfig), config.bucket, config.prefix, config.readGrants);
  }

  async put(tenant: string, key: string, bytes: Buffer | string): Promise<string> {
    const objectKey = this.objectKey(tenant, validateKey(key));
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: bytes }));
    return `s3://${this.bucket}/${objectKey}`;
  }

  async putStream(tenant: string, key: string, source: AsyncIterable<Buffer>, options: { maxBytes: number }): Promise<StoredObject> {
    const objectKey = this.objectKey(tenant, validateKey(key));
    const dir = await mkdtemp(join(tmpdir(), 'confine-s3-upload-'));
    try {
      const file = join(dir, 'body');
      let bytes = 0;
      const handle = await open(file, 'wx', 0o600);
      try {
        for await (const chunk of capped(source, options.maxBytes)) {
          await handle.write(chunk);
          bytes += chunk.length;
        }
      } finally {
        await handle.close();
      }
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: createReadStream(file), ContentLength: bytes }));
      return { reference: `s3://${this.bucket}/${objectKey}`, bytes };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async stat(tenant: string, reference: string): Promise<ObjectInfo | undefined> {
    const objectKey = this.resolve(tenant, reference) ?? this.granted(tenant, reference);
    if (objectKey === undefined) return undefined;
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return { bytes: head.ContentLength ?? 0, modifiedMs: head.LastModified?.getTime() ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async open(tenant: string, reference: string): Promise<Readable | undefined> {
    const objectKey = this.resolve(tenant, reference);
    if (objectKey === undefined) return undefined;
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      // In Node the SDK's body is an http.IncomingMessage, a Readable.
      return response.Body instanceof Readable ? response.Body : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async usage(tenant: string): Promise<number> {
    let total = 0;
    await this.eachObject(this.namespace(tenant), (object) => {
      total += accountedBytes(object.Size ?? 0);
      return Promise.resolve();
    });
    return total;
  }

  async list(tenant: string, prefix: string): Promise<ListedObject[]> {
    const listed: ListedObject[] = [];
    await this.eachObject(`${this.namespace(tenant)}${validateKey(prefix.replace(/\/+$/, ''))}/`, (object) => {
      if (object.Key !== undefined) listed.push({ reference: `s3://${this.bucket}/${object.Key}`, bytes: object.Size ?? 0, modifiedMs: object.LastModified?.getTime() ?? 0 });
      return Promise.resolve();
    });
    return listed;
  }

  async expire(cutoffMs: number, keyPrefix = ''): Promise<number> {
    let removed = 0;
    const tenants = `${this.prefix}tenants/`;
    const below = keyPrefix === '' ? '' : `${validateKey(keyPrefix.replace(/\/+$/, ''))}/`;
    // Only below <prefix>tenants/: operator-written keys (S3_READ_GRANTS) are not ours to expire.
    await this.eachObject(tenants, async (object) => {
      if (object.Key === undefined || (object.LastModified?.getTime() ?? Infinity) >= cutoffMs) return;
      // <tenants>/<32-hex namespace>/<key>: the key inside the namespace must lie below the prefix.
      if (!object.Key.slice(tenants.length + 33).startsWith(below)) return;
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: object.Key }));
      removed++;
    });
    return removed;
  }

  async get(tenant: string, reference: string, options: GetOptions = {}): Promise<Buffer | undefined> {
    const objectKey = this.resolve(tenant, reference) ?? this.granted(tenant, reference);
    if (objectKey === undefined) return undefined;
    try {
      if (options.maxBytes !== undefined) {
        // Checked before the body is read: a huge object never reaches memory.
        const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
        if ((head.ContentLength ?? 0) > options.maxBytes) throw new ArtifactTooLargeError(options.maxBytes);
      }
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      if (!response.Body) return undefined;
      const bytes = Buffer.from(await response.Body.transformToByteArray());
      if (options.maxBytes !== undefined && bytes.length > options.maxBytes) throw new ArtifactTooLargeError(options.maxBytes);
      return bytes;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async delete(tenant: string, reference: string): Promise<boolean> {
    const objectKey = this.resolve(tenant, reference);
    if (objectKey === undefined) return false;
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    return true;
  }

  async sweep(): Promise<number> {
    return 0;
  }

  /** The object key a reference names inside the tenant's namespace, or undefined. */
  private resolve(tenant: string, reference: string): string | undefined {
    const artifactKey = keyOfArtifactReference(reference);
    if (artifactKey !== undefined) return this.objectKey(tenant, artifactKey);
    const own = `s3://${this.bucket}/${this.namespace(tenant)}`;
    if (!reference.startsWith(own)) return undefined;
    const key = reference.slice(own.length);
    return keyOfArtifactReference(`artifact://${key}`) === undefined ? undefined : this.objectKey(tenant, key);
  }

  /**
   * A key outside every namespace that the operator let this tenant read (seed 000: an orchestrator
   * writes `s3://bucket/uploads/<job>.zip` itself). Only for get; the key must lie below a granted prefix.
   */
  private granted(tenant: string, reference: string): string | undefined {
    const bucketUrl = `s3://${this.bucket}/`;
    if (!reference.startsWith(bucketUrl)) return undefined;
    const key = reference.slice(bucketUrl.length);
    if (keyOfArtifactReference(`artifact://${key}`) === undefined) return undefined; // '..', empty segments...
    return (this.readGrants[tenant] ?? []).some((prefix) => key.startsWith(prefix)) ? key : undefined;
  }

  /** Visits every object below a prefix, a page (at most 1,000 keys) at a time. */
  private async eachObject(prefix: string, visit: (object: _Object) => Promise<void>): Promise<void> {
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }));
      for (const object of page.Contents ?? []) await visit(object);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  private namespace(tenant: string): string {
    return `${this.prefix}tenants/${tenantNamespace(tenant)}/`;
  }

  private objectKey(tenant: string, key: string): string {
    return `${this.namespace(tenant)}${key}`;
  }
}

function isNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const named = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return named.name === 'NoSuchKey' || named.name === 'NotFound' || named.$metadata?.httpStatusCode === 404;
}
