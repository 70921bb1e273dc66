// Issue 9 items 5 and 10 (seed 001), for real over HTTP: what tenants store is bounded and goes away.
// Uploads stream into the store under a byte cap and a per-tenant quota (413 artifact_quota_exceeded),
// can be deleted (tenant-scoped), expire after a TTL (swept at start and periodically); per-run archive
// copies are removed when their run ends; the plan is streamed from the store, and seed 001 returns a
// reference to a plan too large to inline instead of dropping it.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore, tenantNamespace } from '../../src/artifacts/index.js';
import { MAIN_TF, multipart, tarGz } from './fixtures.js';
import { call, KEY_A, KEY_B, startService, until, type Running } from './support.js';

const KiB = 1024;

/** A tar.gz of main.tf plus `kib` KiB of incompressible bytes. */
async function archiveOf(kib: number): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'confine-arch-'));
  await writeFile(join(dir, 'main.tf'), MAIN_TF);
  await writeFile(join(dir, 'blob.bin'), randomBytes(kib * KiB));
  const out = `${dir}.tar.gz`;
  await create({ gzip: true, file: out, cwd: dir, portable: true }, ['main.tf', 'blob.bin']);
  return readFileSync(out);
}

/** Files below <artifacts>/<tenant namespace>/<sub> (empty when the directory does not exist). */
function objects(svc: Running, tenant: string, sub: string): string[] {
  const dir = join(svc.dir, 'artifacts', tenantNamespace(tenant), sub);
  return existsSync(dir) ? readdirSync(dir) : [];
}

function tempFiles(svc: Running): string[] {
  const dir = join(svc.dir, 'artifacts', '.tmp');
  return existsSync(dir) ? readdirSync(dir) : [];
}

async function upload(svc: Running, key: string, archive: Buffer) {
  return call(svc.base, 'POST', '/api/v1/uploads', { key, body: multipart({}, archive) });
}

describe('upload quota and delete', () => {
  let svc: Running;
  beforeAll(async () => {
    svc = await startService({ ARTIFACT_TENANT_QUOTA_MB: '1' });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('upload_overTenantQuota_answers413ArtifactQuotaExceededKeepsNothingOtherTenantUnaffected', async () => {
    const archive = await archiveOf(600);
    const first = await upload(svc, KEY_A, archive);
    expect(first.status).toBe(201);
    const over = await upload(svc, KEY_A, archive);
    expect(over.status).toBe(413);
    expect(over.body['error']['code']).toBe('artifact_quota_exceeded');
    expect(objects(svc, 'alpha', 'uploads')).toHaveLength(1);
    expect(tempFiles(svc)).toEqual([]);
    // The quota is per tenant: bravo stores the same archive.
    expect((await upload(svc, KEY_B, archive)).status).toBe(201);
    // A multipart archive run is an upload too (its per-run copy counts against the quota).
    const run = await call(svc.base, 'POST', '/api/v1/runs/terraform/archive', { key: KEY_A, body: multipart({ mode: 'validate' }, archive) });
    expect(run.status).toBe(413);
    expect(run.body['error']['code']).toBe('artifact_quota_exceeded');
    expect(objects(svc, 'alpha', 'runs')).toEqual([]);
  }, 60_000);

  it('deleteUpload_ownIs204_foreignOrUnknownIs404_andFreesQuota', async () => {
    const archive = await archiveOf(300);
    const mine = await upload(svc, KEY_A, archive);
    expect(mine.status).toBe(201);
    const reference = String(mine.body['upload_id']);
    const lastSegment = reference.split('/').pop()!;
    // Another tenant cannot delete it, by full reference or by name: 404 exactly like an unknown id.
    expect((await call(svc.base, 'DELETE', `/api/v1/uploads/${encodeURIComponent(reference)}`, { key: KEY_B })).status).toBe(404);
    expect((await call(svc.base, 'DELETE', `/api/v1/uploads/${lastSegment}`, { key: KEY_B })).status).toBe(404);
    expect((await call(svc.base, 'DELETE', '/api/v1/uploads/0123456789abcdef0123456789abcdef.zip', { key: KEY_A })).body['error']['code']).toBe('artifact_not_found');
    expect(objects(svc, 'alpha', 'uploads')).toContain(lastSegment);
    // The owner deletes it; a run naming it is then 404 at once.
    expect((await call(svc.base, 'DELETE', `/api/v1/uploads/${encodeURIComponent(reference)}`, { key: KEY_A })).status).toBe(204);
    expect(objects(svc, 'alpha', 'uploads')).not.toContain(lastSegment);
    expect((await call(svc.base, 'DELETE', `/api/v1/uploads/${lastSegment}`, { key: KEY_A })).status).toBe(404);
    const gone = await call(svc.base, 'POST', '/api/v1/runs/terraform', { key: KEY_A, json: { workspace_reference: reference } });
    expect(gone.status).toBe(404);
    expect(gone.body['error']['code']).toBe('artifact_not_found');
    // Plans are not uploads: DELETE never touches them.
    expect((await call(svc.base, 'DELETE', `/api/v1/uploads/${encodeURIComponent('artifact://plans/x.json')}`, { key: KEY_A })).status).toBe(404);
    // Deleting the first test's upload frees the quota again.
    for (const name of objects(svc, 'alpha', 'uploads')) {
      expect((await call(svc.base, 'DELETE', `/api/v1/uploads/${name}`, { key: KEY_A })).status).toBe(204);
    }
    expect((await upload(svc, KEY_A, await archiveOf(600))).status).toBe(201);
  }, 60_000);
});

describe('upload streaming limits', () => {
  let svc: Running;
  beforeAll(async () => {
    svc = await startService({ UPLOAD_LIMIT_MB: '1' });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('upload_overUploadLimit_answers413AndLeavesNoObjectOrTempFile', async () => {
    const reply = await upload(svc, KEY_A, await archiveOf(2 * 1024));
    expect(reply.status).toBe(413);
    expect(reply.body['error']['code']).toBe('payload_too_large');
    expect(objects(svc, 'alpha', 'uploads')).toEqual([]);
    expect(tempFiles(svc)).toEqual([]);
    // The service is fine afterwards: a normal upload from another tenant works.
    expect((await upload(svc, KEY_B, await archiveOf(10))).status).toBe(201);
  });

  it('upload_notAnArchive_answers400InvalidMultipartByMagicBytes', async () => {
    const form = new FormData();
    form.append('archive', new Blob([new TextEncoder().encode('resource "x" "y" {}')], { type: 'application/gzip' }), 'looks.tar.gz');
    const reply = await call(svc.base, 'POST', '/api/v1/uploads', { key: KEY_A, body: form });
    expect(reply.status).toBe(400);
    expect(reply.body['error']['code']).toBe('invalid_multipart');
    expect(objects(svc, 'alpha', 'uploads')).toEqual([]);
  });
});

describe('per-run archive copies', () => {
  let svc: Running;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('archiveRun_finishes_itsScratchCopyIsRemovedAndTheAuditNamesItsDigest', async () => {
    const archive = await tarGz({ 'main.tf': MAIN_TF });
    const reply = await call(svc.base, 'POST', '/api/v1/runs/terraform/archive?wait=true', { key: KEY_A, body: multipart({ mode: 'validate' }, archive) });
    expect(reply.status).toBe(200);
    expect(reply.body['state']).toBe('succeeded');
    await until(async () => (objects(svc, 'alpha', 'runs').length === 0 ? true : undefined), 5_000);
    expect(objects(svc, 'alpha', 'runs')).toEqual([]);
    // The archive was hashed as it streamed past (never buffered): the audit record still names it.
    const submitted = (await svc.audit()).split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((event) => event['event'] === 'run_submitted' && event['run_id'] === reply.body['id']);
    expect(submitted?.['what']).toMatchObject({ input: 'reference', archive_sha256: createHash('sha256').update(archive).digest('hex'), archive_bytes: archive.length });
  }, 60_000);

  it('archiveRun_badFieldAfterTheArchive_answers400AndRemovesTheCopy', async () => {
    const form = new FormData();
    form.append('archive', new Blob([new Uint8Array(await tarGz({ 'main.tf': MAIN_TF }))], { type: 'application/gzip' }), 'c.tar.gz');
    form.append('mode', 'apply');
    const reply = await call(svc.base, 'POST', '/api/v1/runs/terraform/archive', { key: KEY_A, body: form });
    expect(reply.status).toBe(400);
    expect(objects(svc, 'alpha', 'runs')).toEqual([]);
    expect(tempFiles(svc)).toEqual([]);
  });
});

describe('artifact TTL', () => {
  it('startup_sweep_removesExpiredUploadsPlansAndStaleRunCopiesKeepsFreshOnes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'confine-ttl-'));
    const root = join(dir, 'artifacts');
    // What a predecessor left: an old upload and an old plan, and a fresh upload.
    const store = new LocalArtifactStore(root);
    const oldUpload = await store.put('alpha', 'uploads/00000000000000000000000000000001.tar.gz', await tarGz({ 'main.tf': MAIN_TF }));
    const oldPlan = await store.put('alpha', 'plans/0123.json', '{}');
    const fresh = await store.put('alpha', 'uploads/00000000000000000000000000000002.tar.gz', await tarGz({ 'main.tf': MAIN_TF }));
    // A per-run archive copy of a run the predecessor never finished (a day old), and a recent one.
    const staleScratch = await store.put('alpha', 'runs/00000000000000000000000000000003.tar.gz', 'x');
    const recentScratch = await store.put('alpha', 'runs/00000000000000000000000000000004.tar.gz', 'x');
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    for (const key of ['uploads/00000000000000000000000000000001.tar.gz', 'plans/0123.json']) {
      await utimes(join(root, tenantNamespace('alpha'), key), eightDaysAgo, eightDaysAgo);
    }
    const dayAgo = new Date(Date.now() - 24 * 3600 * 1000);
    await utimes(join(root, tenantNamespace('alpha'), 'runs/00000000000000000000000000000003.tar.gz'), dayAgo, dayAgo);
    const svc = await startService({ ARTIFACTS_DIR: root, ARTIFACT_TTL_SECONDS: String(7 * 24 * 3600) });
    try {
      expect(await store.stat('alpha', oldUpload)).toBeUndefined();
      expect(await store.stat('alpha', oldPlan)).toBeUndefined();
      expect(await store.stat('alpha', fresh)).toBeDefined();
      expect(await store.stat('alpha', staleScratch)).toBeUndefined();
      expect(await store.stat('alpha', recentScratch)).toBeDefined();
      const expired = await call(svc.base, 'POST', '/api/v1/runs/terraform', { key: KEY_A, json: { workspace_reference: oldUpload, mode: 'validate' } });
      expect(expired.status).toBe(404);
      const kept = await call(svc.base, 'POST', '/api/v1/runs/terraform?wait=true', { key: KEY_A, json: { workspace_reference: fresh, mode: 'validate' } });
      expect(kept.status).toBe(200);
      expect(kept.body['state']).toBe('succeeded');
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('periodic_sweep_removesAnUploadOnceItsTtlPasses', async () => {
    const svc = await startService({ ARTIFACT_TTL_SECONDS: '2', ARTIFACT_SWEEP_INTERVAL_SECONDS: '1' });
    try {
      const stored = await upload(svc, KEY_A, await tarGz({ 'main.tf': MAIN_TF }));
      expect(stored.status).toBe(201);
      expect(objects(svc, 'alpha', 'uploads')).toHaveLength(1);
      await until(async () => (objects(svc, 'alpha', 'uploads').length === 0 ? true : undefined), 10_000);
      const run = await call(svc.base, 'POST', '/api/v1/runs/terraform', { key: KEY_A, json: { workspace_reference: String(stored.body['upload_id']) } });
      expect(run.status).toBe(404);
    } finally {
      await svc.close();
    }
  }, 30_000);
});

describe('plans by reference', () => {
  let svc: Running;
  beforeAll(async () => {
    // Every plan is "too large to inline": the reference path is the only one.
    svc = await startService({ TF_PLAN_INLINE_MAX_BYTES: '0' });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('seed001_planAboveInlineLimit_answersSuccessWithPlanReferenceAndUrl', async () => {
    const reply = await call(svc.base, 'POST', '/api/v1/execute', { key: KEY_A, json: { job_id: 'job-large', files: { 'main.tf': MAIN_TF } } });
    expect(reply.status).toBe(200);
    expect(reply.body['status']).toBe('SUCCESS');
    expect(reply.body['plan_json']).toBeNull();
    const runId = String(reply.body['run_id']);
    expect(String(reply.body['plan_reference'])).toMatch(/^artifact:\/\/plans\//);
    expect(reply.body['plan_url']).toBe(`/api/v1/runs/${runId}/plan`);
    const plan = await call(svc.base, 'GET', String(reply.body['plan_url']), { key: KEY_A });
    expect(plan.status).toBe(200);
    expect(plan.headers.get('content-type')).toMatch(/^application\/json/);
    expect(plan.body['format_version']).toBeDefined();
    expect(JSON.stringify(plan.body['resource_changes'])).toContain('terraform_data.greeting');
    // Streamed as stored: the bytes are the stored object's, not a re-serialization.
    const stored = readFileSync(join(svc.dir, 'artifacts', tenantNamespace('alpha'), 'plans', `${runId}.json`), 'utf8');
    expect(plan.text).toBe(stored);
    // Another tenant gets 404 for the run (and so for its plan).
    expect((await call(svc.base, 'GET', String(reply.body['plan_url']), { key: KEY_B })).status).toBe(404);
  }, 60_000);
});
