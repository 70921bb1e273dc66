// Secrets never reach the logs, at any level: the service runs at LOG_LEVEL=trace (where
// @fastify/multipart logs the raw request headers), requests carry unique planted secrets in every
// place a client or operator puts one, and no captured log line or audit record contains any of them.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog, createLogger } from '../../src/api/logging.js';
import { MAIN_TF, multipart, tarGz } from './fixtures.js';
import { call, startService, type Running } from './support.js';

const unique = (label: string): string => `${label}-${randomBytes(12).toString('hex')}`;
const SECRETS = {
  apiKey: unique('planted-api-key'),
  wrongKey: unique('planted-wrong-key'),
  jwtSecret: unique('planted-jwt-secret-0123456789'),
  s3Secret: unique('planted-s3-secret'),
  awsSecret: unique('planted-aws-secret'),
  awsSession: unique('planted-aws-session'),
  awsSecretForm: unique('planted-aws-secret-form'),
  cookie: unique('planted-cookie'),
  basic: Buffer.from(`user:${unique('planted-basic')}`).toString('base64'),
};
let jwt: string;
let svc: Running;

beforeAll(async () => {
  jwt = await new SignJWT({ tenant: 'redaction' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(SECRETS.jwtSecret));
  svc = await startService({
    LOG_LEVEL: 'trace',
    API_KEYS: `alpha:${SECRETS.apiKey}`,
    JWT_SECRET: SECRETS.jwtSecret,
    S3_ACCESS_KEY_ID: 'AKIAPLANTEDID',
    S3_SECRET_ACCESS_KEY: SECRETS.s3Secret,
  });
});

afterAll(async () => {
  await svc?.close();
});

describe('log redaction', () => {
  it('trace_level_logs_and_audit_hold_no_planted_secret', async () => {
    const credentials = { aws_access_key_id: 'AKIAPLANTED', aws_secret_access_key: SECRETS.awsSecret, aws_session_token: SECRETS.awsSession };
    const archive = await tarGz({ 'main.tf': MAIN_TF });
    // Multipart with the key in X-API-Key and credentials as a form field (the multipart plugin's trace path).
    const form = multipart({ mode: 'validate', credentials: JSON.stringify({ ...credentials, aws_secret_access_key: SECRETS.awsSecretForm }) }, archive);
    const viaForm = await call(svc.base, 'POST', '/api/v1/runs/terraform/archive?wait=true', { key: SECRETS.apiKey, body: form, headers: { cookie: `session=${SECRETS.cookie}` } });
    expect(viaForm.status, viaForm.text).toBe(200);
    // JSON with a bearer JWT and credentials in the body.
    const viaJwt = await call(svc.base, 'POST', '/api/v1/runs/terraform?wait=true', {
      headers: { authorization: `Bearer ${jwt}` },
      json: { mode: 'validate', files: { 'main.tf': MAIN_TF }, credentials },
    });
    expect(viaJwt.status, viaJwt.text).toBe(200);
    const upload = await call(svc.base, 'POST', '/api/v1/uploads', { key: SECRETS.apiKey, body: multipart({}, archive) });
    expect(upload.status, upload.text).toBe(201);
    const uploadByJwt = await call(svc.base, 'POST', '/api/v1/uploads', { headers: { authorization: `Bearer ${jwt}` }, body: multipart({}, archive) });
    expect(uploadByJwt.status, uploadByJwt.text).toBe(201);
    // Failed logins: a wrong key, a Basic header, a malformed bearer.
    expect((await call(svc.base, 'GET', '/status', { key: SECRETS.wrongKey })).status).toBe(401);
    expect((await call(svc.base, 'GET', '/status', { headers: { authorization: `Basic ${SECRETS.basic}` } })).status).toBe(401);
    expect((await call(svc.base, 'GET', '/status', { headers: { authorization: `Bearer ${jwt}x` } })).status).toBe(401);

    await new Promise((resolve) => setTimeout(resolve, 200)); // pino writes asynchronously
    const logs = svc.logs();
    const audit = await svc.audit();
    // The trace paths ran (so the absence below means something): multipart's options and request logs.
    expect(logs).toContain('busboyOptions');
    expect(logs).toContain('"level":10');
    expect(audit).toContain('auth_failed');
    const leaks = [...Object.entries(SECRETS), ['jwt', jwt] as const].flatMap(([name, secret]) => [
      ...(logs.includes(secret) ? [`${name} in the service log`] : []),
      ...(audit.includes(secret) ? [`${name} in the audit log`] : []),
    ]);
    expect(leaks).toEqual([]);
    expect(logs).toContain('[REDACTED]');
  }, 120_000);

  it('every_logger_path_scrubs_nested_headers_errors_bindings_and_messages', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const configured = unique('configured-secret');
    const log = createLogger('trace', [configured], stream);
    const headers = { 'x-api-key': SECRETS.apiKey, authorization: `Bearer ${jwt}`, cookie: SECRETS.cookie, 'content-type': 'application/json' };
    // Under names no redact path knows, deep inside, in an array, in an error, in a child binding, in the message.
    log.trace({ plugin: { options: { deeper: [{ headers }] } } }, 'plugin options');
    log.error(new Error(`upstream refused ${configured} with token ${jwt}`));
    log.child({ session_token: SECRETS.awsSession }).info({ S3_SECRET_ACCESS_KEY: SECRETS.s3Secret, sessionToken: SECRETS.awsSession }, 'child');
    log.warn('header was %s', `Authorization: Basic ${SECRETS.basic}`);
    log.info({ what: { credentials: { aws_secret_access_key: SECRETS.awsSecret } } }, 'audit-like');
    const audit = createAuditLog(`${svc.dir}/audit-paths.log`, [configured]);
    audit.record({ event: 'probe', what: { request: { headers }, note: `key ${configured}` } });
    await audit.close();
    const text = lines.join('') + (await import('node:fs/promises').then((fs) => fs.readFile(`${svc.dir}/audit-paths.log`, 'utf8')));
    for (const secret of [...Object.values(SECRETS), jwt, configured]) expect(text.includes(secret), secret).toBe(false);
    // What is not secret survives, so the lines stay useful.
    expect(text).toContain('application/json');
    expect(text).toContain('upstream refused');
    expect(text).toContain('"msg":"child"');
    expect(lines).toHaveLength(5);
  });
});
