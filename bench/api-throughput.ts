// Command requests per second and p50/p99 latency at a fixed concurrency against the running service.
// Each request is `POST /api/v1/runs/commands?wait=true {"command":"echo hi"}`: auth, rate limit, queue,
// a fresh jail (workspace tmpfs, cgroup, uid, bwrap, seccomp), the result. GET /health at the same
// concurrency is measured beside it (the HTTP layer's own cost), then JailHost.run alone (the engine), then
// bubblewrap alone with the same arguments (the machine's floor), all in one run, each with the CPU it
// cost per request.
//
//   npx vite-node bench/api-throughput.ts [seconds per row] [concurrency]
// With CONFINE_URL and CONFINE_KEY set it drives that service; otherwise it starts `bin/confine serve`
// (as root) on a free port with its own key, state dir and uid range (WORKERS=4 unless set: the
// default of 2 is sized for Terraform plans), and stops it afterwards.
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JailAgent, type LaunchRequest } from '../src/jail/agent/client.js';
import { bwrapArgs } from '../src/jail/bwrap-args.js';
import { JailHost } from '../src/jail/host.js';
import { launchRlimits } from '../src/jail/launcher.js';
import { DEFAULT_LIMITS } from '../src/jail/limits.js';
import { buildShellProfile, shellSpec } from '../src/jail/profiles/shell.js';
import type { JailSpec } from '../src/jail/spec.js';

const seconds = Number(process.argv[2] ?? 6);
const WARM_UP = 40;
const concurrency = Number(process.argv[3] ?? 8);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Sample {
  ms: number;
  status: number;
  ok: boolean;
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

async function startService(): Promise<{ url: string; key: string; child: ChildProcess }> {
  const port = await freePort();
  const key = `bench_${randomBytes(16).toString('hex')}`;
  const child = spawn(join(root, 'bin/confine'), ['serve'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOST: '127.0.0.1',
      PORT: String(port),
      API_KEYS: `bench:${key}`,
      RATE_LIMIT_REQUESTS: '100000000',
      LOG_LEVEL: 'warn',
      AUDIT_LOG_PATH: '/tmp/confine-bench-state/audit.log',
      CONFINE_STATE_DIR: process.env.CONFINE_BENCH_STATE_DIR ?? '/tmp/confine-bench-state',
      CONFINE_UID_BASE: '1950600000',
      CONFINE_UID_COUNT: '256',
      // Command jails are light (echo): two per core keep both cores busy while others wait in the kernel,
      // and fewer jails at once than clients keeps the latency spread down (measured against 2, 3 and 8).
      // The service's default of 2 workers is sized for Terraform plans.
      WORKERS: process.env.WORKERS ?? '4',
      ...pick(['QUEUE_SIZE', 'QUEUE_TENANT_SHARE', 'WORKSPACE_POOL', 'LAUNCHER_POOL', 'ASYNC_CLEANUP']),
    },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`confine serve exited ${child.exitCode}: ${stderr}`);
    const up = await fetch(`${url}/ready`).then((r) => r.ok, () => false);
    if (up) return { url, key, child };
    if (Date.now() > deadline) throw new Error(`confine serve did not become ready: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function pick(names: string[]): Record<string, string> {
  return Object.fromEntries(names.filter((n) => process.env[n] !== undefined).map((n) => [n, process.env[n]!]));
}

/**
 * HTTP load with autocannon (raw sockets and an HTTP parser: about a third of the client CPU per request
 * that fetch costs, which matters when client and service share two cores). Keep-alive connections, one
 * request in flight per connection, `count` requests in all; every body is checked.
 */
async function driveHttp(
  count: number | 'timed',
  request: { url: string; method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
  verify: (body: string) => boolean,
): Promise<Row> {
  const started = performance.now();
  const result = await autocannon({
    url: request.url,
    method: request.method ?? 'GET',
    ...(request.headers ? { headers: request.headers } : {}),
    ...(request.body ? { body: request.body } : {}),
    connections: concurrency,
    // Timed rows run for whole seconds (autocannon ends `amount` runs on its one-second tick, which
    // would round the elapsed time up).
    ...(count === 'timed' ? { duration: seconds } : { amount: count }),
    timeout: 60,
    verifyBody: (body) => verify(typeof body === 'string' ? body : (body?.toString('utf8') ?? '')),
  });
  return {
    requests: result.requests.total,
    seconds: count === 'timed' ? seconds : (performance.now() - started) / 1000,
    failed: result.non2xx + result.errors + result.mismatches,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    statuses: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count ?? 0])),
  };
}

interface Row {
  requests: number;
  seconds: number;
  failed: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
}

/** `concurrency` loops calling `op`: `count` calls in all, or as many as start within `seconds`. */
async function driveOp(count: number | 'timed', op: () => Promise<{ status: number; ok: boolean }>): Promise<Row> {
  const samples: Sample[] = [];
  let next = 0;
  const started = performance.now();
  const more = (): boolean => (count === 'timed' ? performance.now() - started < seconds * 1000 : next < count);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more()) {
        next++;
        const t0 = performance.now();
        const outcome = await op();
        samples.push({ ms: performance.now() - t0, ...outcome });
      }
    }),
  );
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const statuses: Record<string, number> = {};
  for (const s of samples) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  return {
    requests: samples.length,
    seconds: (performance.now() - started) / 1000,
    failed: samples.filter((s) => !s.ok).length,
    p50: percentile(ms, 50),
    p90: percentile(ms, 90),
    p99: percentile(ms, 99),
    max: ms.at(-1) ?? NaN,
    statuses,
  };
}

/** CPU time (ms) a process has used, from /proc/<pid>/stat (utime + stime, clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU time (ms) the whole machine has used (user, nice, system, irq, softirq). */
function machineCpuMs(): number {
  const n = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (n[0]! + n[1]! + n[2]! + n[5]! + n[6]!) * 10;
}

/** Runs `phase` and prints the CPU it cost per request: the service process's own, and the machine's. */
async function withCpu(label: string, pid: number | undefined, phase: () => Promise<Row>): Promise<Row> {
  const service0 = pid === undefined ? 0 : processCpuMs(pid);
  const machine0 = machineCpuMs();
  const client0 = process.cpuUsage();
  const result = await phase();
  const n = result.requests;
  const client = process.cpuUsage(client0);
  const service = pid === undefined || pid === process.pid ? '' : `service process ${((processCpuMs(pid) - service0) / n).toFixed(2)} ms, `;
  const clientMs = ((client.user + client.system) / 1000 / n).toFixed(2);
  console.log(`  ${label}: CPU per request: ${service}this bench process ${clientMs} ms, whole machine ${((machineCpuMs() - machine0) / n).toFixed(2)} ms`);
  return result;
}

/** The jail's bubblewrap invocation with nothing around it, through a JailAgent of its own. */
async function bareBubblewrap(host: JailHost, spec: JailSpec): Promise<{ op: () => Promise<{ status: number; ok: boolean }>; close: () => void }> {
  const agent = new JailAgent();
  const dir = mkdtempSync(join(tmpdir(), 'confine-bench-bare-'));
  chmodSync(dir, 0o711); // the jail's uid must reach its two directories
  const uid = 1_950_600_399;
  for (const sub of ['workspace', 'tmp']) {
    mkdirSync(join(dir, sub));
    chownSync(join(dir, sub), uid, uid);
  }
  const plan = bwrapArgs(spec, { workspaceHostPath: join(dir, 'workspace'), tmpHostPath: join(dir, 'tmp'), seccompFd: 3, firstDataFd: 4 });
  const launch: LaunchRequest = {
    uid,
    gid: uid,
    // One uid for every run here (the engine leases one per workspace), so no per-uid process cap.
    rlimits: { ...launchRlimits(spec.limits), processes: 65_536 },
    argv: [host.tools.bwrap, ...plan.args],
    dataFiles: [{ fd: 3, content: host.seccomp.shell.program }, ...plan.dataFiles.map((content, i) => ({ fd: 4 + i, content }))],
    stdin: '',
  };
  const op = async () => {
    const child = agent.spawn([], launch);
    let stdout = '';
    child.onOutput((_, chunk) => (stdout += chunk.toString()));
    const exit = await child.exited;
    return { status: exit.code ?? -1, ok: exit.code === 0 && stdout === 'hi\n' };
  };
  return { op, close: () => void agent.close().then(() => rmSync(dir, { recursive: true, force: true })) };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function report(name: string, run: Row): { rps: number } & Record<string, unknown> {
  const row = {
    name,
    requests: run.requests,
    concurrency,
    failed: run.failed,
    rps: Number((run.requests / run.seconds).toFixed(1)),
    p50_ms: Number(run.p50.toFixed(1)),
    p90_ms: Number(run.p90.toFixed(1)),
    p99_ms: Number(run.p99.toFixed(1)),
    max_ms: Number(run.max.toFixed(1)),
    statuses: run.statuses,
  };
  console.log(`${name.padEnd(28)} ${String(row.rps).padStart(8)} req/s   p50 ${String(row.p50_ms).padStart(7)} ms   p90 ${String(row.p90_ms).padStart(7)} ms   p99 ${String(row.p99_ms).padStart(7)} ms   failed ${row.failed}/${row.requests}`);
  return row;
}

const given = process.env.CONFINE_URL && process.env.CONFINE_KEY ? { url: process.env.CONFINE_URL, key: process.env.CONFINE_KEY } : undefined;
const spawned = given ? undefined : await startService();
const service: { url: string; key: string } = given ?? spawned!;
try {
  const command = {
    url: `${service.url}/api/v1/runs/commands?wait=true`,
    method: 'POST' as const,
    headers: { 'x-api-key': service.key, 'content-type': 'application/json' },
    body: '{"command":"echo hi"}',
  };
  const commandOk = (body: string) => body.includes('"stdout":"hi\\n"');
  console.log(`api-throughput: ${seconds} s per row at concurrency ${concurrency} against ${service.url} (${given ? 'given service' : 'spawned bin/confine serve'})`);
  await driveHttp(WARM_UP, command, commandOk); // warm-up: profiles, caches, JIT
  const servicePid = spawned?.child.pid;
  const rows = [report('GET /health', await driveHttp('timed', { url: `${service.url}/health` }, (body) => body.includes('"status"')))];
  rows.push(report('POST command (sync, jailed)', await withCpu('POST command', servicePid, () => driveHttp('timed', command, commandOk))));
  // The floor under the API: the same jail (echo hi, shell profile, pooled workspaces) straight through
  // JailHost.run at the same concurrency, in this process, while the service idles.
  const host = await JailHost.open({ stateDir: process.env.CONFINE_BENCH_STATE_DIR ?? '/tmp/confine-bench-state', uidBase: 1_950_600_400, uidCount: 64, workspacePool: 2 });
  const profile = await buildShellProfile(['echo'], host.programSource);
  const spec = shellSpec(profile, { command: { argv: ['echo', 'hi'] }, limits: { ...DEFAULT_LIMITS, wallTimeMs: 10_000 } });
  const jail = async () => {
    const result = await host.run(spec);
    return { status: result.exit_code ?? -1, ok: result.exit_reason === 'exited' && result.stdout === 'hi\n' };
  };
  await driveOp(WARM_UP, jail);
  rows.push(report('JailHost.run only (no HTTP)', await withCpu('JailHost.run', process.pid, () => driveOp('timed', jail))));
  // Below that: bubblewrap alone with the same arguments (namespaces, mounts, seccomp, uid drop through
  // the agent) and no cgroup, workspace tmpfs, uid lease, HTTP or queue: what this machine can do at all.
  const bare = await bareBubblewrap(host, spec);
  await driveOp(WARM_UP, bare.op);
  rows.push(report('bare bubblewrap (floor)', await withCpu('bare bubblewrap', process.pid, () => driveOp('timed', bare.op))));
  bare.close();
  await host.close();
  const [api, engine, floor] = rows.slice(1);
  console.log(`HTTP service reaches ${((api!.rps / engine!.rps) * 100).toFixed(0)}% of the engine's and ${((api!.rps / floor!.rps) * 100).toFixed(0)}% of bare bubblewrap's throughput at concurrency ${concurrency}`);
  console.log(`(closed loop: mean latency = concurrency / throughput, so p99 <= 50 ms at concurrency ${concurrency} needs well over ${(concurrency / 0.05).toFixed(0)} req/s)`);
  console.log(JSON.stringify({ bench: 'api-throughput', rows }));
} finally {
  if (spawned) {
    spawned.child.kill('SIGTERM');
    await new Promise((resolve) => spawned.child.once('exit', resolve));
  }
}
