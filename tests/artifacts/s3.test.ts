// The S3 store against a real S3-compatible server (s3rver) listening on 127.0.0.1 in this process.
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactQuotaError, Artifacts, NotAnArchiveError, S3ArtifactStore, createArtifactStore, tenantNamespace } from '../../src/artifacts/index.js';
import { loadConfig } from '../../src/config/settings.js';
import { storeConformance } from './store-conformance.js';

const BUCKET = 'confine-test';
let dir: string;
let server: S3rver;
let endpoint: string;
let store: S3ArtifactStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'confine-s3rver-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] });
  const address = (await server.run()) as AddressInfo;
  endpoint = `http://127.0.0.1:${address.port}`;
  // Built from the same settings table the service reads (S3_* variables).
  const config = loadConfig({
    S3_BUCKET: BUCKET,
    S3_ENDPOINT: endpoint,
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: 'true',
    S3_PREFIX: 'confine',
  });
  const made = createArtifactStore(config);
  if (!(made instanceof S3ArtifactStore)) throw new Error('expected the S3 store when S3_BUCKET is set');
  store = made;
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

storeConformance('s3 (s3rver)', () => store);

describe('s3 artifact store', () => {
  it('put_returnsS3ReferenceInsideTheTenantsNamespace', async () => {
    const ref = await store.put('alice', 'plans/run9.json', '{"a":1}');
    expect(ref).toBe(`s3://${BUCKET}/confine/tenants/${tenantNamespace('alice')}/plans/run9.json`);
    // The object really is in the bucket, readable by a plain S3 client.
    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `confine/tenants/${tenantNamespace('alice')}/plans/run9.json` }));
    expect(await object.Body?.transformToString()).toBe('{"a":1}');
    expect((await store.get('alice', 'artifact://plans/run9.json'))?.toString()).toBe('{"a":1}');
  });

  it('get_s3UrlOutsideTheTenantsNamespace_isNotFetched', async () => {
    const bobs = await store.put('bob', 'uploads/x.zip', 'PK\u0005\u0006');
    expect(await store.get('alice', bobs)).toBeUndefined();
    // A seed-style reference to a key outside every namespace is not fetched either.
    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/shared.zip', Body: 'x' }));
    expect(await store.get('alice', `s3://${BUCKET}/uploads/shared.zip`)).toBeUndefined();
    expect(await store.get('alice', `s3://${BUCKET}/confine/tenants/${tenantNamespace('alice')}/../${tenantNamespace('bob')}/uploads/x.zip`)).toBeUndefined();
  });

  it('fetchWorkspace_uploadedZip_resolvesByMagicBytes', async () => {
    const artifacts = new Artifacts(store, { maxWorkspaceBytes: 1024 * 1024 });
    const emptyZip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x05, 0x06]), Buffer.alloc(18)]);
    const ref = await artifacts.storeUpload('alice', emptyZip, 'zip');
    expect(ref.startsWith(`s3://${BUCKET}/`)).toBe(true);
    expect(await artifacts.fetchWorkspace('alice', ref)).toEqual({ kind: 'zip', data: emptyZip });
    expect(await artifacts.fetchWorkspace('bob', ref)).toBeUndefined();
  });

  it('storeArchiveStream_quotaCheckDeleteOnS3_boundedAndTenantScoped', async () => {
    const tenant = `quota-${Date.now()}`;
    const artifacts = new Artifacts(store, { maxWorkspaceBytes: 1024 * 1024, quotaBytes: 64 * 1024 });
    const gzip = (size: number): AsyncGenerator<Buffer> => (async function* () {
      yield Buffer.from([0x1f, 0x8b]);
      yield Buffer.alloc(size - 2, 1);
    })();
    const first = await artifacts.storeArchiveStream(tenant, gzip(40 * 1024), 'upload');
    expect(first).toMatchObject({ kind: 'tar.gz', bytes: 40 * 1024 });
    expect(await artifacts.checkWorkspace(tenant, first.reference)).toBe(true);
    expect(await artifacts.checkWorkspace('someone-else', first.reference)).toBe(false);
    // 40 KiB stored of 64: another 40 KiB runs into the quota midway and leaves nothing behind.
    await expect(artifacts.storeArchiveStream(tenant, gzip(40 * 1024), 'upload')).rejects.toBeInstanceOf(ArtifactQuotaError);
    expect(await store.usage(tenant)).toBe(40 * 1024);
    await expect(artifacts.storeArchiveStream(tenant, (async function* () { yield Buffer.from('not an archive'); })(), 'upload')).rejects.toBeInstanceOf(NotAnArchiveError);
    expect(await artifacts.deleteUpload('someone-else', first.reference)).toBe(false);
    expect(await artifacts.deleteUpload(tenant, first.reference)).toBe(true);
    expect(await store.usage(tenant)).toBe(0);
    expect((await artifacts.storeArchiveStream(tenant, gzip(40 * 1024), 'scratch')).reference).toMatch(/\/runs\/[0-9a-f]{32}\.tar\.gz$/);
  });
});
