// workspace_reference resolution: the archive type comes from magic bytes (never a name), references
// are tenant-scoped, and an oversized object is refused before intake.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Artifacts, ArtifactTooLargeError, LocalArtifactStore, detectArchive } from '../../src/artifacts/index.js';
import { DomainError } from '../../src/domains/errors.js';

let root: string;
let artifacts: Artifacts;
let tarGz: Buffer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'confine-refs-'));
  artifacts = new Artifacts(new LocalArtifactStore(join(root, 'store')), { maxWorkspaceBytes: 64 * 1024 });
  const src = join(root, 'src');
  await (await import('node:fs/promises')).mkdir(src);
  await writeFile(join(src, 'main.tf'), 'resource "null_resource" "x" {}\n');
  const chunks: Buffer[] = [];
  for await (const chunk of createTar({ gzip: true, cwd: src }, ['main.tf'])) chunks.push(chunk as Buffer);
  tarGz = Buffer.concat(chunks);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('workspace references', () => {
  it('detectArchive_usesMagicBytes', () => {
    expect(detectArchive(tarGz)).toBe('tar.gz');
    expect(detectArchive(Buffer.from('PK\u0003\u0004rest'))).toBe('zip');
    expect(detectArchive(Buffer.from('resource "x" {}'))).toBeUndefined();
    expect(detectArchive(Buffer.alloc(0))).toBeUndefined();
  });

  it('fetchWorkspace_storedTarGz_returnsTerraformInput', async () => {
    const ref = await artifacts.storeUpload('alice', tarGz, 'tar.gz');
    expect(ref).toMatch(/^artifact:\/\/uploads\/[0-9a-f]{32}\.tar\.gz$/);
    expect(await artifacts.fetchWorkspace('alice', ref)).toEqual({ kind: 'tar.gz', data: tarGz });
  });

  it('fetchWorkspace_otherTenantOrUnknown_isUndefined', async () => {
    const ref = await artifacts.storeUpload('alice', tarGz, 'tar.gz');
    expect(await artifacts.fetchWorkspace('mallory', ref)).toBeUndefined();
    expect(await artifacts.fetchWorkspace('alice', 'artifact://uploads/nope.zip')).toBeUndefined();
  });

  it('storeUpload_mislabelledArchive_isValidationError', async () => {
    await expect(artifacts.storeUpload('alice', tarGz, 'zip')).rejects.toSatisfy((e: unknown) => e instanceof DomainError && e.type === 'validation_error');
  });

  it('fetchWorkspace_notAnArchive_isValidationError', async () => {
    const ref = await artifacts.store.put('alice', 'uploads/plain.txt', 'just text');
    await expect(artifacts.fetchWorkspace('alice', ref)).rejects.toSatisfy((e: unknown) => e instanceof DomainError && e.type === 'validation_error');
  });

  it('fetchWorkspace_overLimit_isRefusedBeforeIntake', async () => {
    const big = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(128 * 1024)]);
    const ref = await artifacts.store.put('alice', 'uploads/big.tar.gz', big);
    await expect(artifacts.fetchWorkspace('alice', ref)).rejects.toBeInstanceOf(ArtifactTooLargeError);
  });

  it('storePlan_thenFetchPlan_roundTripsJson', async () => {
    const plan = { format_version: '1.2', resource_changes: [{ address: 'null_resource.x' }] };
    const ref = await artifacts.storePlan('alice', 'abc123', plan);
    expect(ref).toBe('artifact://plans/abc123.json');
    expect(await artifacts.fetchPlan('alice', ref)).toEqual(plan);
    expect(await artifacts.fetchPlan('bob', ref)).toBeUndefined();
  });
});
