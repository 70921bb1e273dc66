// The per-tenant artifact quota on a real local store: uploads are refused beyond it (and what a refused
// stream wrote is gone), concurrent uploads cannot overshoot it together, and plans (which are never
// refused: the run already happened) push out the tenant's oldest plans, never its uploads.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactQuotaError, Artifacts, LocalArtifactStore, tenantNamespace } from '../../src/artifacts/index.js';

let root: string;
let store: LocalArtifactStore;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'confine-quota-'));
  store = new LocalArtifactStore(root);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function* gzipOf(size: number): AsyncGenerator<Buffer> {
  yield Buffer.from([0x1f, 0x8b]);
  for (let left = size - 2; left > 0; left -= 1024) yield Buffer.alloc(Math.min(1024, left), 7);
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 15));

describe('artifact quota', () => {
  it('concurrentUploads_neverOvershootTheQuotaTogether', async () => {
    const artifacts = new Artifacts(store, { maxWorkspaceBytes: 64 * 1024, quotaBytes: 100 * 1024 });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => artifacts.storeArchiveStream('burst', gzipOf(30 * 1024), 'upload')));
    const stored = results.filter((r) => r.status === 'fulfilled');
    expect(stored.length).toBeGreaterThanOrEqual(1);
    expect(results.every((r) => r.status === 'fulfilled' || r.reason instanceof ArtifactQuotaError)).toBe(true);
    expect(await store.usage('burst')).toBeLessThanOrEqual(100 * 1024);
    expect(await readdir(join(root, '.tmp'))).toEqual([]);
  });

  it('tinyUploads_eachCostsABlock_soTheObjectCountIsBoundedToo', async () => {
    const artifacts = new Artifacts(store, { maxWorkspaceBytes: 64 * 1024, quotaBytes: 64 * 1024 });
    const emptyZip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x05, 0x06]), Buffer.alloc(18)]);
    let stored = 0;
    let refused = 0;
    for (let i = 0; i < 40; i++) {
      try {
        await artifacts.storeUpload('tiny', emptyZip, 'zip');
        stored++;
      } catch (error) {
        expect(error).toBeInstanceOf(ArtifactQuotaError);
        refused++;
      }
    }
    // 22-byte objects, but 4 KiB each against the quota: 16 fit in 64 KiB, not 2,978.
    expect(stored).toBe(16);
    expect(refused).toBe(24);
    expect(await readdir(join(root, tenantNamespace('tiny'), 'uploads'))).toHaveLength(16);
  });

  it('plansBeyondQuota_evictTheTenantsOldestPlansNeverUploadsNorTheNewest', async () => {
    const artifacts = new Artifacts(store, { maxWorkspaceBytes: 64 * 1024, quotaBytes: 10 * 1024 });
    const upload = await artifacts.storeArchiveStream('planner', gzipOf(4 * 1024), 'upload');
    const plans: string[] = [];
    for (let i = 0; i < 6; i++) {
      plans.push(await artifacts.storePlanText('planner', `run${i}`, JSON.stringify({ i, pad: 'p'.repeat(3 * 1024) })));
      await settle();
      expect(await store.usage('planner')).toBeLessThanOrEqual(10 * 1024 + 4 * 1024);
    }
    expect(await store.usage('planner')).toBeLessThanOrEqual(10 * 1024);
    expect(await store.stat('planner', upload.reference)).toBeDefined();
    expect(await store.stat('planner', plans.at(-1)!)).toBeDefined();
    expect(await store.stat('planner', plans[0]!)).toBeUndefined();
    // Another tenant's plans are not touched by this tenant's quota.
    const other = await artifacts.storePlanText('bystander', 'run0', '{}');
    expect(await store.stat('bystander', other)).toBeDefined();
  });
});
