// Many hosts (issue 12) vs one process, side by side in one run: command requests
// (`POST /api/v1/runs/commands?wait=true {"command":"echo hi"}`) at a fixed concurrency against
//   embedded     `confine serve` (memory queue, records, waiters), WORKERS=4
//   distributed  one `confine serve --role api` + two `confine worker` (WORKERS=2 each: the same 4 slots)
//                on a redis-server on loopback (AOF, appendfsync always: the documented setup)
// Rounds alternate between the two so the machine's drift hits both alike; the table gives the medians and
// the ratios distributed / embedded. Then one client at a time (concurrency 1): the per-run overhead of the
// Redis path (queue add, claim, records, cross-process wake-up) in ms at p50.
//
//   npx vite-node bench/distributed.ts [seconds per round] [concurrency] [rounds]
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis } from '../tests/support/redis.js';

const seconds = Number(process.argv[2] ?? 6);
const concurrency = Number(process.argv[3] ?? 8);
const rounds = Number(process.argv[4] ?? 3);
const SERIAL_REQUESTS = 60;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist/cli/main.js');
const key = `bench_${randomBytes(16).toString('hex')}`;
const body = JSON.stringify({ command: 'echo hi' });

interface Row {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  failed: number;
}

interface Node {
  child: ChildProcess;
  output: () => string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function start(args: string[], env: Record<string, string>): Node {
  const child = spawn(process.execPath, [main, ...args], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOST: '127.0.0.1',
      API_KEYS: `bench:${key}`,
      RATE_LIMIT_REQUESTS: '100000000',
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function until(what: string, node: Node, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (node.child.exitCode !== null) throw new Error(`${what} exited ${node.child.exitCode}: ${node.output()}`);
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${what} did not become ready: ${node.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const ready = (url: string) => async (): Promise<boolean> => fetch(`${url}/ready`).then((r) => r.ok, () => false);

async function stop(node: Node): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  const exited = new Promise((resolve) => node.child.once('exit', resolve));
  node.child.kill('SIGTERM');
  const timer = setTimeout(() => node.child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

async function drive(url: string, connections: number, amount?: number): Promise<Row> {
  const result = await autocannon({
    url: `${url}/api/v1/runs/commands?wait=true`,
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body,
    connections,
    ...(amount === undefined ? { duration: seconds } : { amount }),
    timeout: 60,
    verifyBody: (b) => (typeof b === 'string' ? b : (b?.toString('utf8') ?? '')).includes('"stdout":"hi\\n"'),
  });
  const elapsed = amount === undefined ? seconds : result.duration;
  return {
    requests: result.requests.total,
    rps: result.requests.total / elapsed,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.non2xx + result.errors + result.mismatches,
  };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function bench(): Promise<void> {
  // bin/confine builds dist/ when sources are newer: once, before anything starts.
  await new Promise<void>((resolve, reject) => spawn(join(root, 'bin/confine'), ['--help'], { stdio: 'ignore' }).once('exit', (c) => (c === 0 ? resolve() : reject(new Error(`build failed (${c})`)))));
  const dir = mkdtempSync(join(tmpdir(), 'confine-bench-dist-'));
  const artifacts = join(dir, 'artifacts');
  mkdirSync(artifacts);
  const redis = await startRedis({ aof: true });
  const nodes: Node[] = [];
  try {
    const embeddedPort = await freePort();
    const embedded = start(['serve'], {
      PORT: String(embeddedPort),
      WORKERS: '4',
      CONFINE_STATE_DIR: '/tmp/confine-bench-dist/embedded',
      CONFINE_UID_BASE: '1950710000',
      CONFINE_UID_COUNT: '64',
      ARTIFACTS_DIR: artifacts,
      AUDIT_LOG_PATH: join(dir, 'audit-embedded.log'),
    });
    nodes.push(embedded);
    const shared = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'bench', QUEUE_SECRET_KEY: randomBytes(32).toString('base64'), ARTIFACTS_DIR: artifacts, ARTIFACTS_DIR_SHARED: 'true' };
    for (const i of [0, 1]) {
      mkdirSync(`/tmp/confine-bench-dist/w${i}`, { recursive: true });
      const worker = start(['worker'], {
        ...shared,
        WORKERS: '2',
        WORKER_ID: `bench-w${i}`,
        CONFINE_STATE_DIR: `/tmp/confine-bench-dist/w${i}`,
        CONFINE_UID_BASE: String(1950711000 + i * 1000),
        CONFINE_UID_COUNT: '64',
        AUDIT_LOG_PATH: join(dir, `audit-w${i}.log`),
      });
      nodes.push(worker);
      await until(`worker ${i}`, worker, async () => worker.output().includes('ready'));
    }
    const apiPort = await freePort();
    const api = start(['serve', '--role', 'api'], { ...shared, PORT: String(apiPort), CONFINE_STATE_DIR: join(dir, 'api-state'), AUDIT_LOG_PATH: join(dir, 'audit-api.log') });
    nodes.push(api);
    const embeddedUrl = `http://127.0.0.1:${embeddedPort}`;
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await until('embedded serve', embedded, ready(embeddedUrl));
    await until('api node', api, ready(apiUrl));

    // Warm-up: program trees, pooled workspaces and launchers, JIT, Redis scripts loaded.
    await drive(embeddedUrl, concurrency, 40);
    await drive(apiUrl, concurrency, 40);

    const rows: Record<'embedded' | 'distributed', Row[]> = { embedded: [], distributed: [] };
    for (let round = 0; round < rounds; round++) {
      for (const [mode, url] of (round % 2 === 0 ? [['embedded', embeddedUrl], ['distributed', apiUrl]] : [['distributed', apiUrl], ['embedded', embeddedUrl]]) as ['embedded' | 'distributed', string][]) {
        const row = await drive(url, concurrency);
        rows[mode].push(row);
        console.log(`  round ${round + 1} ${mode.padEnd(11)} ${row.rps.toFixed(1)} req/s  p50 ${row.p50} ms  p99 ${row.p99} ms  (${row.requests} requests, ${row.failed} failed)`);
      }
    }
    const serial = { embedded: await drive(embeddedUrl, 1, SERIAL_REQUESTS), distributed: await drive(apiUrl, 1, SERIAL_REQUESTS) };
    const serialAgain = { distributed: await drive(apiUrl, 1, SERIAL_REQUESTS), embedded: await drive(embeddedUrl, 1, SERIAL_REQUESTS) };

    const m = (mode: 'embedded' | 'distributed', field: 'rps' | 'p50' | 'p99'): number => median(rows[mode].map((r) => r[field]));
    const failed = [...rows.embedded, ...rows.distributed, ...Object.values(serial), ...Object.values(serialAgain)].reduce((sum, r) => sum + r.failed, 0);
    const overhead = (serial.distributed.p50 + serialAgain.distributed.p50) / 2 - (serial.embedded.p50 + serialAgain.embedded.p50) / 2;
    console.log('');
    console.log(`| distributed (1 API + 2 workers, Redis AOF on loopback) vs embedded, command requests, concurrency ${concurrency}, ${rounds} x ${seconds} s rounds | embedded | distributed | ratio |`);
    console.log('|---|---|---|---|');
    console.log(`| throughput (req/s, median) | ${m('embedded', 'rps').toFixed(1)} | ${m('distributed', 'rps').toFixed(1)} | ${(m('distributed', 'rps') / m('embedded', 'rps')).toFixed(2)}x |`);
    console.log(`| p50 latency (ms, median) | ${m('embedded', 'p50')} | ${m('distributed', 'p50')} | ${(m('distributed', 'p50') / m('embedded', 'p50')).toFixed(2)}x |`);
    console.log(`| p99 latency (ms, median) | ${m('embedded', 'p99')} | ${m('distributed', 'p99')} | ${(m('distributed', 'p99') / m('embedded', 'p99')).toFixed(2)}x |`);
    console.log(`| one client at a time, p50 (ms) | ${((serial.embedded.p50 + serialAgain.embedded.p50) / 2).toFixed(1)} | ${((serial.distributed.p50 + serialAgain.distributed.p50) / 2).toFixed(1)} | +${overhead.toFixed(1)} ms per run (Redis path) |`);
    console.log(`failed requests: ${failed}`);
    if (failed > 0) process.exitCode = 1;
  } finally {
    await Promise.all(nodes.map(stop));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await bench();
