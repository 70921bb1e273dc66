// Seed 000 over HTTP with S3-compatible storage (s3rver on 127.0.0.1): the upload and the plan live in
// the bucket (`s3://` references); an unreachable store answers 503 storage_unavailable, not a 500.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN_TF, multipart, tarGz } from './fixtures.js';
import { call, KEY_A, KEY_B, startService, type Running } from './support.js';

const BUCKET = 'confine-api';
let dir: string;
let server: S3rver;
let svc: Running;
let down: Running;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'confine-api-s3-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] });
  const address = (await server.run()) as AddressInfo;
  const s3 = { S3_BUCKET: BUCKET, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER', S3_FORCE_PATH_STYLE: 'true' };
  svc = await startService({ ...s3, S3_ENDPOINT: `http://127.0.0.1:${address.port}` });
  // Port 9 (discard) on loopback: nothing listens, connections are refused at once.
  down = await startService({ ...s3, S3_ENDPOINT: 'http://127.0.0.1:9' });
});

afterAll(async () => {
  await svc?.close();
  await down?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('S3-compatible artifact storage over HTTP', () => {
  it('seed_000_flow_keeps_upload_and_plan_in_the_bucket', async () => {
    const upload = await call(svc.base, 'POST', '/api/v1/uploads', { key: KEY_A, body: multipart({}, await tarGz({ 'main.tf': MAIN_TF })) });
    expect(upload.status).toBe(201);
    const reference = String(upload.body['workspace_reference']);
    expect(reference).toMatch(new RegExp(`^s3://${BUCKET}/`));
    const r = await call(svc.base, 'POST', '/internal/execute', { key: KEY_A, json: { job_id: 'job-s3', workspace_reference: reference } });
    expect(r.status).toBe(202);
    expect(r.body['success'], r.text).toBe(true);
    expect(String(r.body['plan_reference'])).toMatch(new RegExp(`^s3://${BUCKET}/.*plans/`));
    // The same reference in another tenant's hands resolves to nothing.
    const foreign = await call(svc.base, 'POST', '/internal/execute', { key: KEY_B, json: { job_id: 'job-s3', workspace_reference: reference } });
    expect(foreign.status).toBe(404);
    expect(foreign.body['error']['code']).toBe('artifact_not_found');
  });

  it('unreachable_store_answers_503_storage_unavailable', async () => {
    const upload = await call(down.base, 'POST', '/api/v1/uploads', { key: KEY_A, body: multipart({}, await tarGz({ 'main.tf': MAIN_TF })) });
    expect(upload.status).toBe(503);
    expect(upload.body['error']['code']).toBe('storage_unavailable');
    expect(Number(upload.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(down.logs()).toContain('"code":"storage_unavailable"'); // the cause is logged, not returned
    expect(upload.text).not.toContain('ECONNREFUSED');
  }, 60_000);
});
