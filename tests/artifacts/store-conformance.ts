// The behaviour every ArtifactStore must show (local directory, S3-compatible): round trips, tenant
// isolation (a reference is useless to another tenant), key validation, size limits, streamed writes
// capped in bytes, reads as streams, per-tenant usage and TTL expiry.

async function* chunks(...parts: (string | Buffer)[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield Buffer.from(part);
}

async function* failingAfter(first: string): AsyncGenerator<Buffer> {
  yield Buffer.from(first);
  throw new Error('client went away');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(parts);
}
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ArtifactTooLargeError, OBJECT_FLOOR_BYTES, type ArtifactStore } from '../../src/artifacts/index.js';
import { DomainError } from '../../src/domains/errors.js';

export function storeConformance(name: string, store: () => ArtifactStore): void {
  describe(`ArtifactStore conformance: ${name}`, () => {
    it('putThenGet_roundTripsBytes', async () => {
      const bytes = Buffer.from([0, 1, 2, 250, 251, 252]);
      const ref = await store().put('alice', 'plans/run1.json', bytes);
      expect(ref.length).toBeGreaterThan(0);
      expect(await store().get('alice', ref)).toEqual(bytes);
      const again = await store().put('alice', 'plans/run1.json', 'replaced');
      expect(again).toBe(ref);
      expect((await store().get('alice', ref))?.toString()).toBe('replaced');
    });

    it('get_otherTenantsReference_isUnknown', async () => {
      const ref = await store().put('alice', 'plans/secret.json', '{"secret":1}');
      expect(await store().get('mallory', ref)).toBeUndefined();
      expect(await store().delete('mallory', ref)).toBe(false);
      expect((await store().get('alice', ref))?.toString()).toBe('{"secret":1}');
    });

    it('sameKey_differentTenants_areDifferentObjects', async () => {
      const a = await store().put('alice', 'uploads/same.zip', 'alice-data');
      const b = await store().put('bob', 'uploads/same.zip', 'bob-data');
      expect((await store().get('alice', a))?.toString()).toBe('alice-data');
      expect((await store().get('bob', b))?.toString()).toBe('bob-data');
    });

    it('put_traversalOrAbsoluteKeys_rejectedAsValidationError', async () => {
      for (const key of ['../x', 'a/../../b', '/etc/passwd', 'a//b', '', '.', 'a/./b', 'a\\b', 'x'.repeat(600), 'a/b\n']) {
        await expect(store().put('alice', key, 'x')).rejects.toSatisfy((e: unknown) => e instanceof DomainError && e.type === 'validation_error');
      }
    });

    it('get_malformedOrForeignReferences_areUnknown', async () => {
      for (const ref of ['', 'artifact://../../etc/passwd', 'file:///etc/passwd', 's3://other-bucket/x', 'artifact://plans/missing.json', 'https://example.invalid/x']) {
        expect(await store().get('alice', ref)).toBeUndefined();
      }
    });

    it('get_overMaxBytes_throwsTooLarge', async () => {
      const ref = await store().put('alice', 'uploads/big.bin', Buffer.alloc(4096, 7));
      await expect(store().get('alice', ref, { maxBytes: 1024 })).rejects.toBeInstanceOf(ArtifactTooLargeError);
      expect((await store().get('alice', ref, { maxBytes: 4096 }))?.length).toBe(4096);
    });

    it('putStream_roundTripsChunksAndReportsBytes', async () => {
      const stored = await store().putStream('alice', 'uploads/streamed.bin', chunks('PK', Buffer.from([3, 4]), 'x'.repeat(5000)), { maxBytes: 10_000 });
      expect(stored.bytes).toBe(5004);
      const back = await store().get('alice', stored.reference);
      expect(back?.subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 3, 4]));
      expect(back?.length).toBe(5004);
    });

    it('putStream_overMaxBytes_throwsTooLargeAndKeepsNothing', async () => {
      const write = store().putStream('alice', 'uploads/too-big.bin', chunks('a'.repeat(600), 'b'.repeat(600)), { maxBytes: 1000 });
      await expect(write).rejects.toBeInstanceOf(ArtifactTooLargeError);
      expect(await store().stat('alice', 'artifact://uploads/too-big.bin')).toBeUndefined();
    });

    it('putStream_sourceFails_keepsNothing', async () => {
      await expect(store().putStream('alice', 'uploads/broken.bin', failingAfter('partial'), { maxBytes: 1000 })).rejects.toThrow('client went away');
      expect(await store().stat('alice', 'artifact://uploads/broken.bin')).toBeUndefined();
    });

    it('stat_ownObjectOnly_sizeAndAgeWithoutReading', async () => {
      const before = Date.now() - 5_000;
      const ref = await store().put('alice', 'uploads/stat.zip', Buffer.alloc(321, 1));
      const info = await store().stat('alice', ref);
      expect(info?.bytes).toBe(321);
      expect(info!.modifiedMs).toBeGreaterThan(before);
      expect(await store().stat('mallory', ref)).toBeUndefined();
      expect(await store().stat('alice', 'artifact://uploads/none.zip')).toBeUndefined();
    });

    it('open_streamsTheObject_foreignIsUnknown', async () => {
      const body = JSON.stringify({ planned: 'x'.repeat(70_000) });
      const ref = await store().put('alice', 'plans/streamed.json', body);
      const stream = await store().open('alice', ref);
      expect(stream).toBeDefined();
      expect((await readAll(stream!)).toString()).toBe(body);
      expect(await store().open('mallory', ref)).toBeUndefined();
      expect(await store().open('alice', 'artifact://plans/none.json')).toBeUndefined();
    });

    it('usage_countsOnlyTheTenantsOwnBytesEachObjectAtLeastOneBlock', async () => {
      const tenant = `usage-${Date.now()}`;
      expect(await store().usage(tenant)).toBe(0);
      await store().put(tenant, 'uploads/a.zip', Buffer.alloc(10_000));
      await store().putStream(tenant, 'plans/b.json', chunks('y'.repeat(234)), { maxBytes: 1000 });
      await store().put(`${tenant}-other`, 'uploads/c.zip', Buffer.alloc(5000));
      // A tiny object costs a block: a byte quota then also bounds how many objects a tenant keeps.
      expect(await store().usage(tenant)).toBe(10_000 + OBJECT_FLOOR_BYTES);
    });

    it('list_returnsTheTenantsObjectsBelowThePrefixOnly', async () => {
      const tenant = `list-${Date.now()}`;
      const p1 = await store().put(tenant, 'plans/one.json', '1');
      const p2 = await store().put(tenant, 'plans/two.json', '22');
      await store().put(tenant, 'uploads/u.zip', 'PK');
      await store().put(`${tenant}-other`, 'plans/three.json', '333');
      const listed = await store().list(tenant, 'plans/');
      expect(listed.map((o) => o.reference).sort()).toEqual([p1, p2].sort());
      expect(listed.map((o) => o.bytes).sort()).toEqual([1, 2]);
      expect(listed.every((o) => o.modifiedMs > Date.now() - 60_000)).toBe(true);
      // Listed references are ones the store takes back.
      expect(await store().delete(tenant, listed[0]!.reference)).toBe(true);
      expect(await store().list(`${tenant}-nobody`, 'plans/')).toEqual([]);
    });

    it('expire_removesObjectsOlderThanTheCutoffOnly', async () => {
      const old = await store().put('ttl-a', 'uploads/old.zip', 'old');
      const oldOther = await store().put('ttl-b', 'plans/old.json', '{}');
      const oldScratch = await store().put('ttl-b', 'runs/old.tar.gz', 'scratch');
      // Object stores keep modification times to the second: leave a clear gap around the cutoff.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const cutoff = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const fresh = await store().put('ttl-a', 'uploads/fresh.zip', 'fresh');
      const freshScratch = await store().put('ttl-a', 'runs/fresh.zip', 'scratch');
      // Below a key prefix only: the old per-run copy goes, the old upload and plan stay.
      expect(await store().expire(cutoff, 'runs/')).toBeGreaterThanOrEqual(1);
      expect(await store().stat('ttl-b', oldScratch)).toBeUndefined();
      expect(await store().stat('ttl-a', freshScratch)).toBeDefined();
      expect(await store().stat('ttl-a', old)).toBeDefined();
      expect(await store().stat('ttl-b', oldOther)).toBeDefined();
      expect(await store().expire(cutoff)).toBeGreaterThanOrEqual(2);
      expect(await store().stat('ttl-a', old)).toBeUndefined();
      expect(await store().stat('ttl-b', oldOther)).toBeUndefined();
      expect((await store().get('ttl-a', fresh))?.toString()).toBe('fresh');
    });

    it('delete_removesOnlyThatObject', async () => {
      const keep = await store().put('alice', 'plans/keep.json', 'k');
      const drop = await store().put('alice', 'plans/drop.json', 'd');
      expect(await store().delete('alice', drop)).toBe(true);
      expect(await store().delete('alice', drop)).toBe(false);
      expect(await store().get('alice', drop)).toBeUndefined();
      expect((await store().get('alice', keep))?.toString()).toBe('k');
    });
  });
}
