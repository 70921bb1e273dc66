// The HTTP edge against strangers (issue 9, items 3 and 9): half-open connection floods, slowloris
// headers, stalled bodies, failed logins holding sockets, and errors raised before any route (bad URL
// encoding, malformed or oversized headers) answered in the catalogue's JSON. Each attack is performed
// for real against the whole service on 127.0.0.1; the flood runs in its own process, so this
// process's descriptors are the service's.
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESCRIPTOR_RESERVE, descriptorLimit, fitToDescriptors } from '../../src/api/connections.js';
import { loadConfig } from '../../src/config/settings.js';
import { freshCall, openDescriptors, portOf, rawExchange } from './raw.js';
import { call, KEY_A, KEY_B, startService, until, type Running } from './support.js';

const FLOOD = fileURLToPath(new URL('./flood.mjs', import.meta.url));
// Caps scaled down so a test can exceed them tenfold (the defaults are 4096 and 512).
const LIMITS = {
  HTTP_MAX_CONNECTIONS: '300',
  HTTP_MAX_UNAUTHENTICATED_CONNECTIONS: '200',
  HTTP_HEADERS_TIMEOUT_SECONDS: '3',
  HTTP_BODY_IDLE_TIMEOUT_SECONDS: '2',
  HTTP_REQUEST_TIMEOUT_SECONDS: '20',
  HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: '2',
};
const MAX_UNAUTHENTICATED = Number(LIMITS.HTTP_MAX_UNAUTHENTICATED_CONNECTIONS);
const HEADERS_TIMEOUT_MS = Number(LIMITS.HTTP_HEADERS_TIMEOUT_SECONDS) * 1000;
const BODY_IDLE_MS = Number(LIMITS.HTTP_BODY_IDLE_TIMEOUT_SECONDS) * 1000;
const KEEP_ALIVE_MS = Number(LIMITS.HTTP_KEEP_ALIVE_TIMEOUT_SECONDS) * 1000;

let svc: Running;
let port: number;

beforeAll(async () => {
  svc = await startService({ ...LIMITS, RATE_LIMIT_REQUESTS: '1000' });
  port = portOf(svc.base);
  // Warm-up: the first jail of a shape pays one-time costs the timed assertions should not.
  expect((await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_B, json: { command: 'echo warm' } })).status).toBe(200);
});

afterAll(async () => {
  await svc?.close();
});

interface FloodKind {
  opened: number;
  failed: number;
  closed_by_server: number;
  statuses: Record<string, number>;
}
interface FloodReport {
  phase: string;
  still_open: number;
  half_sent: FloodKind;
  unfinished_headers: FloodKind;
}

function flood(halfSent: number, unfinished: number, holdMs: number): { lines: FloodReport[]; done: Promise<FloodReport> } {
  const child = spawn(process.execPath, [FLOOD, String(port), String(halfSent), String(unfinished), String(holdMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: FloodReport[] = [];
  let buffered = '';
  const done = new Promise<FloodReport>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = JSON.parse(buffered.slice(0, nl)) as FloodReport;
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        if (line.phase === 'done') resolve(line);
      }
    });
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`flood exited ${code}`))));
  });
  return { lines, done };
}

function serverConnections(): Promise<number> {
  return new Promise((resolve, reject) => svc.service.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

describe('connection floods', () => {
  it('half_open_flood_keeps_tenant_requests_answered_and_releases_every_socket', async () => {
    const baseline = openDescriptors();
    let peakConnections = 0;
    let peakDescriptors = 0;
    const baselineRss = process.memoryUsage.rss();
    let peakRss = baselineRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      peakDescriptors = Math.max(peakDescriptors, openDescriptors());
      void serverConnections().then((n) => (peakConnections = Math.max(peakConnections, n)));
    }, 25);
    // 2,000 stranger sockets against a cap of 200: half send full headers and no body, half never finish their headers.
    const attack = flood(1000, 1000, 30_000);
    const answers: { status: number; ms: number; stdout: unknown }[] = [];
    const health: number[] = [];
    // Tenant B keeps working while the flood holds its sockets (until the headers timeout), each request
    // on a new connection (so it too must get past accept and the strangers' cap).
    await until(async () => (attack.lines.some((line) => line.phase === 'opened') ? true : undefined), 30_000);
    for (let i = 0; i < 6; i++) {
      const started = Date.now();
      const r = await freshCall(port, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_B, json: { command: 'echo ok' } });
      const body = JSON.parse(r.body) as { result?: { run?: { stdout?: unknown } } };
      answers.push({ status: r.status, ms: Date.now() - started, stdout: body.result?.run?.stdout });
      for (const path of ['/health', '/ready', '/metrics']) health.push((await freshCall(port, 'GET', path)).status);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const report = await attack.done;
    clearInterval(sampler);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.stdout).toBe('ok\n');
      expect(answer.ms).toBeLessThan(15_000);
    }
    expect(health.every((s) => s === 200)).toBe(true);
    // The server closed every stranger's socket itself, long before the flood gave up on them.
    expect(report.still_open).toBe(0);
    expect(report.half_sent.opened + report.unfinished_headers.opened).toBeGreaterThan(1500);
    expect(report.half_sent.closed_by_server).toBe(report.half_sent.opened);
    expect(report.unfinished_headers.closed_by_server).toBe(report.unfinished_headers.opened);
    // A half-sent POST without credentials is refused at its headers (401) and its socket closed.
    expect(report.half_sent.statuses['401'] ?? 0).toBeGreaterThan(0);
    // Unfinished headers end as 408 (headers timeout) or 503 (evicted by the strangers' cap), never silently held.
    for (const status of Object.keys(report.unfinished_headers.statuses)) expect(['408', '503', '401']).toContain(status);
    expect(report.unfinished_headers.statuses['408'] ?? 0).toBeGreaterThan(0);
    // The service never held more sockets than the strangers' cap (plus the tenant's own and sockets
    // being closed), nor the descriptors for more (measured: 202 connections, +203 descriptors).
    expect(peakConnections).toBeLessThanOrEqual(MAX_UNAUTHENTICATED + 20);
    expect(peakDescriptors - baseline).toBeLessThan(MAX_UNAUTHENTICATED + 60);
    // Nor the memory: 2,000 strangers cost the service (in this process) little (measured: +3 to +22 MiB).
    expect(peakRss - baselineRss).toBeLessThan(100 * 2 ** 20);
    // Operators see it: evictions are counted, and the gauges are exported.
    const metrics = (await call(svc.base, 'GET', '/metrics')).text;
    expect(Number(/confine_http_connections_closed_total\{reason="evicted"\} (\d+)/.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(0);
    expect(metrics).toContain('confine_http_connections{state="unauthenticated"}');
    // Every failed login is accounted for in the audit log, but a flood of them writes a bounded number of records.
    const records = (await svc.audit()).split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event: string; what?: { count?: number } });
    const individual = records.filter((r) => r.event === 'auth_failed').length;
    const suppressed = records.filter((r) => r.event === 'auth_failed_suppressed').reduce((sum, r) => sum + (r.what?.count ?? 0), 0);
    expect(individual + suppressed).toBeGreaterThanOrEqual(report.half_sent.statuses['401'] ?? 0);
    expect(individual).toBeLessThan(300);
    // Nothing stays behind.
    await until(async () => ((await serverConnections()) === 0 ? true : undefined), 10_000);
    await until(async () => (openDescriptors() <= baseline + 10 ? true : undefined), 10_000);
  }, 120_000);

  it('connections_beyond_the_cap_get_503_too_many_connections', async () => {
    const capped = await startService({ HTTP_MAX_CONNECTIONS: '6', HTTP_MAX_UNAUTHENTICATED_CONNECTIONS: '3', HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: '60' });
    const held: Socket[] = [];
    try {
      // Six tenants' keep-alive connections, each authenticated before the next opens, fill the cap.
      for (let i = 0; i < 6; i++) {
        const socket = connect(portOf(capped.base), '127.0.0.1');
        held.push(socket);
        const answer = await new Promise<string>((resolve) => {
          socket.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8')));
          socket.write(`GET /status HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY_A}\r\n\r\n`);
        });
        expect(answer).toMatch(/^HTTP\/1\.1 200/);
      }
      const refused = await rawExchange(portOf(capped.base), [`GET /status HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY_A}\r\n\r\n`], 5_000);
      expect(refused.status).toBe(503);
      expect(refused.body?.error?.code).toBe('too_many_connections');
      expect(refused.closed).toBe(true);
      // One tenant connection closes: the next one is served.
      held.pop()?.destroy();
      const r = await until(async () => {
        const attempt = await call(capped.base, 'GET', '/status', { key: KEY_A }).catch(() => undefined);
        return attempt?.status === 200 ? attempt : undefined;
      }, 10_000);
      expect(r.status).toBe(200);
    } finally {
      for (const socket of held) socket.destroy();
      await capped.close();
    }
  }, 60_000);
});

describe('descriptor limit', () => {
  it('caps_above_the_descriptor_limit_are_lowered_to_fit', async () => {
    const defaults = loadConfig({}).http;
    // This process's real limit (read as the service reads it).
    const real = descriptorLimit();
    expect(real).toBeGreaterThan(0);
    // A host with `ulimit -n 1024`: the default caps (4096 total) could never apply before descriptors ran out.
    const file = `${svc.dir}/limits`;
    await writeFile(file, 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n');
    const small = fitToDescriptors(defaults, descriptorLimit(file));
    expect(small.clamped).toBe(true);
    expect(small.limits.maxConnections).toBe(1024 - DESCRIPTOR_RESERVE);
    expect(small.limits.maxUnauthenticatedConnections).toBeLessThan(small.limits.maxConnections);
    // With room enough, the configured caps stand.
    expect(fitToDescriptors(defaults, 1_048_576)).toEqual({ limits: defaults, clamped: false });
  });
});

describe('timeouts', () => {
  it('unfinished_headers_get_408_and_are_closed_after_the_headers_timeout', async () => {
    const r = await rawExchange(port, ['POST /api/v1/runs/commands HTTP/1.1\r\nHost: x\r\n'], HEADERS_TIMEOUT_MS + 5_000);
    expect(r.closed).toBe(true);
    expect(r.status).toBe(408);
    expect(r.body?.error?.code).toBe('request_timeout');
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 500);
  }, 30_000);

  it('stalled_body_of_an_authenticated_request_gets_408_and_is_closed', async () => {
    const headers = `POST /api/v1/runs/commands?wait=true HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY_A}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n`;
    const r = await rawExchange(port, [headers, '{"command":"echo'], BODY_IDLE_MS + 5_000);
    expect(r.closed).toBe(true);
    expect(r.status).toBe(408);
    expect(r.body?.error?.code).toBe('request_timeout');
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(BODY_IDLE_MS - 500);
    // Meanwhile and afterwards, another tenant is served.
    expect((await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_B, json: { command: 'echo after' } })).status).toBe(200);
  }, 30_000);

  it('idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout', async () => {
    const r = await rawExchange(port, [`GET /status HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY_A}\r\n\r\n`], KEEP_ALIVE_MS + 5_000);
    expect(r.status).toBe(200);
    expect(r.closed).toBe(true);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(KEEP_ALIVE_MS - 500);
  }, 30_000);

  it('failed_login_gets_401_and_its_connection_is_closed', async () => {
    // A keep-alive request with a wrong key, and a half-sent POST with none: both answered 401 and closed at once.
    const wrongKey = await rawExchange(port, ['GET /status HTTP/1.1\r\nHost: x\r\nX-API-Key: not-a-valid-key-000\r\nConnection: keep-alive\r\n\r\n'], 5_000);
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.body?.error?.code).toBe('unauthorized');
    expect(wrongKey.text.toLowerCase()).toContain('connection: close');
    expect(wrongKey.closed).toBe(true);
    expect(wrongKey.closedAfterMs).toBeLessThan(2_000);
    const halfSent = await rawExchange(port, ['POST /api/v1/runs/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"co'], 5_000);
    expect(halfSent.status).toBe(401);
    expect(halfSent.closed).toBe(true);
    expect(halfSent.closedAfterMs).toBeLessThan(2_000);
  }, 30_000);
});

describe('errors before routing answer the catalogue', () => {
  it('bad_percent_encoding_gets_400_invalid_url', async () => {
    const r = await call(svc.base, 'GET', '/api/v1/runs/%E0%A4%A', { key: KEY_A });
    expect(r.status).toBe(400);
    expect(r.body['error']['code']).toBe('invalid_url');
    expect(String(r.body['error']['request_id'])).toMatch(/.+/);
    expect(r.headers.get('content-type')).toContain('application/json');
  });

  it('overlong_path_parameter_gets_400_invalid_url', async () => {
    const r = await call(svc.base, 'GET', `/api/v1/runs/${'a'.repeat(300)}`, { key: KEY_A });
    expect(r.status).toBe(400);
    expect(r.body['error']['code']).toBe('invalid_url');
  });

  it('malformed_header_gets_400_bad_request_json_and_close', async () => {
    const r = await rawExchange(port, ['GET /health HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n'], 5_000);
    expect(r.status).toBe(400);
    expect(r.body?.error?.code).toBe('bad_request');
    expect(r.body?.error?.detail).toContain('HPE_');
    expect(r.closed).toBe(true);
  });

  it('oversized_headers_get_431_headers_too_large_json', async () => {
    const r = await rawExchange(port, [`GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(64 * 1024)}\r\n\r\n`], 5_000);
    expect(r.status).toBe(431);
    expect(r.body?.error?.code).toBe('headers_too_large');
    expect(r.closed).toBe(true);
  });
});
