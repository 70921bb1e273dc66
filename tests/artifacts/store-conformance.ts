// The behaviour every ArtifactStore must show (local directory, S3-compatible): round trips, tenant
// isolation (a reference is useless to another tenant), key validation, size limits.
import { describe, expect, it } from 'vitest';
import { ArtifactTooLargeError, type ArtifactStore } from '../../src/artifacts/index.js';
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
