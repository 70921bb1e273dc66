// Seed 000 over HTTP with S3-compatible storage (s3rver on 127.0.0.1): the upload and the plan live in
// the bucket (`s3://` references); an unreachable store answers 503 storage_unavailable, not a 500.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildZip } from '../terraform/support/archives.js';
import { MAIN_TF, multipart, tarGz } from './fixtures.js';
import { call, KEY_A, KEY_B, startService, type Running } from './support.js';

const BUCKET = 'confine-api';
let dir: string;
let server: S3rver;
let svc: Running;
let down: Running;
let granted: Running;
let endpoint: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'confine-api-s3-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] });
  const address = (await server.run()) as AddressInfo;
  const s3 = { S3_BUCKET: BUCKET, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER', S3_FORCE_PATH_STYLE: 'true' };
  endpoint = `http://127.0.0.1:${address.port}`;
  svc = await startService({ ...s3, S3_ENDPOINT: endpoint });
  // The operator lets tenant alpha (the orchestrator) read what it writes under uploads/ itself.
  granted = await startService({ ...s3, S3_ENDPOINT: endpoint, S3_READ_GRANTS: 'alpha:uploads/' });
  // Port 9 (discard) on loopback: nothing listens, connections are refused at once.
  down = await startService({ ...s3, S3_ENDPOINT: 'http://127.0.0.1:9' });
});

afterAll(async () => {
  await svc?.close();
  await down?.close();
  await granted?.close();
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

  it('seed_000_example_request_with_an_orchestrator_written_key_answers_202', async () => {
    // Seed 000's request as written: the orchestrator put the archive at s3://<bucket>/uploads/<job>.zip.
    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/550e8400.zip', Body: buildZip([{ name: 'main.tf', content: MAIN_TF, mode: 0o100644, deflate: true }]) }));
    const body = {
      job_id: '550e8400-e29b-41d4-a716-446655440000',
      workspace_reference: `s3://${BUCKET}/uploads/550e8400.zip`,
      credentials: { aws_access_key_id: 'AKIASEEDEXAMPLE', aws_secret_access_key: 'seed-secret', aws_session_token: 'seed-token' },
    };
    const r = await call(granted.base, 'POST', '/internal/execute', { key: KEY_A, json: body });
    expect(r.status, r.text).toBe(202);
    expect(r.body['success']).toBe(true);
    expect(r.body['job_id']).toBe(body.job_id);
    expect(String(r.body['plan_reference'])).toMatch(new RegExp(`^s3://${BUCKET}/.*plans/`));
    expect(r.body['metadata']).toEqual(expect.objectContaining({ duration_ms: expect.any(Number), memory_mb: expect.any(Number) }));
    expect(r.text).not.toContain('seed-secret');
    // No grant, no read: bravo, and alpha on a service without the grant, get 404 for the same key.
    for (const [service, key] of [[granted, KEY_B], [svc, KEY_A]] as const) {
      const denied = await call(service.base, 'POST', '/internal/execute', { key, json: body });
      expect(denied.status).toBe(404);
      expect(denied.body['error']['code']).toBe('artifact_not_found');
    }
    // A granted prefix never stretches into tenant namespaces or past '..'.
    const escape = await call(granted.base, 'POST', '/internal/execute', { key: KEY_A, json: { ...body, workspace_reference: `s3://${BUCKET}/uploads/../tenants/x/uploads/a.zip` } });
    expect(escape.status).toBe(404);
  }, 60_000);

  it('unreachable_store_answers_503_storage_unavailable', async () => {
    const upload = await call(down.base, 'POST', '/api/v1/uploads', { key: KEY_A, body: multipart({}, await tarGz({ 'main.tf': MAIN_TF })) });
    expect(upload.status).toBe(503);
    expect(upload.body['error']['code']).toBe('storage_unavailable');
    expect(Number(upload.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(down.logs()).toContain('"code":"storage_unavailable"'); // the cause is logged, not returned
    expect(upload.text).not.toContain('ECONNREFUSED');
  }, 60_000);
});
