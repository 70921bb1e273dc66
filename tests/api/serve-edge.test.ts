// The edge in `confine serve` as users start it (bin/confine, a real process, logs on its real stdout):
// at LOG_LEVEL=trace no planted secret reaches its output, and a stranger's half-open flood is closed
// by the server while a tenant is answered; its descriptors come back down.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAIN_TF, multipart, tarGz } from './fixtures.js';
import { freshCall, rawExchange } from './raw.js';
import { serve, type Served } from './served.js';
import { call, until } from './support.js';

const BIN = fileURLToPath(new URL('../../bin/confine', import.meta.url));
const KEY = 'serve-edge-key-5c1b7e0f9a2d4c68';
const JWT_SECRET = 'serve-edge-jwt-secret-7d41a9c3e5b2f086';
const S3_SECRET = 'serve-edge-s3-secret-0a9b8c7d6e5f';

// Every started service, so a failing assertion cannot leave one running (afterEach stops it).
const started = new Set<Served>();

async function serveEdge(env: Record<string, string>): Promise<Served> {
  const svc = await serve({ CONFINE_UID_BASE: '1950452000', CONFINE_UID_COUNT: '32', API_KEYS: `edge:${KEY}`, ...env });
  started.add(svc);
  return svc;
}

const descriptors = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

// bin/confine builds dist/ when sources are newer; do it once, outside the timed tests.
beforeAll(async () => {
  await new Promise<void>((resolve, reject) => {
    spawn(BIN, ['--help'], { stdio: 'ignore' }).once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bin/confine --help exited ${code}`))));
  });
}, 300_000);

afterEach(async () => {
  for (const svc of started) await svc.stop();
  started.clear();
});

describe('confine serve at the edge', () => {
  it('trace_logs_on_stdout_hold_no_planted_secret', async () => {
    const svc = await serveEdge({ LOG_LEVEL: 'trace', JWT_SECRET, S3_SECRET_ACCESS_KEY: S3_SECRET });
    const jwt = await new SignJWT({ tenant: 'serve' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(JWT_SECRET));
    const archive = await tarGz({ 'main.tf': MAIN_TF });
    expect((await call(svc.base, 'POST', '/api/v1/uploads', { key: KEY, body: multipart({}, archive) })).status).toBe(201);
    expect((await call(svc.base, 'POST', '/api/v1/uploads', { headers: { authorization: `Bearer ${jwt}` }, body: multipart({}, archive) })).status).toBe(201);
    expect((await call(svc.base, 'GET', '/status', { key: `${KEY}-wrong` })).status).toBe(401);
    // SIGTERM drains and flushes the asynchronous stdout logger.
    expect(await svc.stop()).toBe(0);
    const output = svc.output();
    expect(output).toContain('busboyOptions'); // the trace path that used to print raw headers ran
    for (const secret of [KEY, jwt, JWT_SECRET, S3_SECRET]) expect(output.includes(secret), secret.slice(0, 12)).toBe(false);
  }, 90_000);

  it('half_open_sockets_are_closed_and_a_tenant_is_answered', async () => {
    const svc = await serveEdge({ LOG_LEVEL: 'warn', HTTP_MAX_CONNECTIONS: '200', HTTP_MAX_UNAUTHENTICATED_CONNECTIONS: '100', HTTP_HEADERS_TIMEOUT_SECONDS: '2' });
    const pid = svc.pid;
    const baseline = descriptors(pid);
    // 600 sockets whose headers never finish, against a strangers' cap of 100.
    const attack = Array.from({ length: 600 }, () => rawExchange(svc.port, ['POST /api/v1/runs/commands HTTP/1.1\r\nHost: x\r\n'], 15_000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const answered = await freshCall(svc.port, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY, json: { command: 'echo ok' } });
    expect(answered.status).toBe(200);
    expect(descriptors(pid) - baseline).toBeLessThan(200);
    const results = await Promise.all(attack);
    // Every one was closed by the server: evicted with 503, or 408 at the headers timeout.
    expect(results.every((r) => r.closed)).toBe(true);
    expect(results.every((r) => r.status === 503 || r.status === 408)).toBe(true);
    await until(async () => (descriptors(pid) <= baseline + 5 ? true : undefined), 10_000);
    expect(await svc.stop()).toBe(0);
  }, 90_000);
});
