import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore, tenantNamespace } from '../../src/artifacts/index.js';
import { ownedName } from '../../src/jail/liveness.js';
import { storeConformance } from './store-conformance.js';

let root: string;
let store: LocalArtifactStore;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'confine-artifacts-'));
  store = new LocalArtifactStore(root);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

storeConformance('local', () => store);

describe('local artifact store', () => {
  it('put_leavesNoTempFileAndOpaqueReference', async () => {
    const ref = await store.put('alice', 'plans/p.json', '{}');
    expect(ref).toBe('artifact://plans/p.json'); // no host path leaks into references
    expect(readdirSync(join(root, '.tmp'))).toEqual([]);
    expect(existsSync(join(root, tenantNamespace('alice'), 'plans', 'p.json'))).toBe(true);
  });

  it('sweep_removesDeadOwnersTempFilesOnly', async () => {
    // A pid that surely is gone: a child that has already exited and been reaped.
    const dead = spawnSync('true').pid;
    mkdirSync(join(root, '.tmp'), { recursive: true });
    writeFileSync(join(root, '.tmp', `${dead}-deadbeef`), 'half-written');
    writeFileSync(join(root, '.tmp', ownedName('alive')), 'in progress');
    expect(await store.sweep()).toBe(1);
    expect(readdirSync(join(root, '.tmp'))).toEqual([ownedName('alive')]);
    await rm(join(root, '.tmp', ownedName('alive')));
  });

  it('get_symlinkPlantedAtKey_isNotFollowed', async () => {
    const dir = join(root, tenantNamespace('alice'), 'plans');
    mkdirSync(dir, { recursive: true });
    symlinkSync('/etc/passwd', join(dir, 'link.json'));
    expect(await store.get('alice', 'artifact://plans/link.json')).toBeUndefined();
  });

  it('tenantNamespace_isAHashNotTheName', () => {
    expect(tenantNamespace('../../etc')).toMatch(/^[0-9a-f]{32}$/);
    expect(tenantNamespace('a')).not.toBe(tenantNamespace('b'));
  });
});
