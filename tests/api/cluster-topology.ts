// The API suite in distributed mode (issue 12, CONFINE_TEST_TOPOLOGY=cluster): `startService` then starts
// a real many-host confine behind the same `Running` shape. One redis-server (AOF on), two API processes
// (`confine serve --role api`) and two worker processes (`confine worker`), each worker with its own state
// dir and its own slice of the test file's uid range (so ranges never overlap another file's), artifacts in
// one directory every node shares (ARTIFACTS_DIR_SHARED=true: one host). `base` is a round-robin HTTP front
// on 127.0.0.1 that streams bodies both ways and sends every request to the other API node than the one
// before, so a run submitted on one node is polled on the other.
// `service` is an API-role service in this process on the same Redis (never listening, never sent a
// request): its `jobs.stats()` is what any API node reads from Redis. `host` is absent (the jails live in
// the workers); `workers` names them for leftover checks (support.ts leftoversOf).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { LISTEN_BACKLOG } from '../../src/api/app.js';
import { createService } from '../../src/app/service.js';
import { loadConfig } from '../../src/config/settings.js';
import { startRedis } from '../support/redis.js';
import { freePort } from './served.js';
import type { Running } from './support.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/confine');
const MAIN = join(ROOT, 'dist/cli/main.js');

/** A test file's uid range (support.ts API_UID_COUNT = 256) is cut into 8 slices, two per cluster. */
const SLICE = 32;
const SLICES = 8;
const QUEUE_KEY = Buffer.alloc(32, 0x3c).toString('base64');

export interface ClusterWorker {
  readonly pid: number;
  readonly stateDir: string;
  readonly uidBase: number;
  readonly uidCount: number;
  /** /proc/<pid>/cgroup, read while it ran (its job cgroups are made below these). */
  readonly cgroupLines: string;
}

interface Node {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  output(): string;
}

let built: Promise<void> | undefined;

/** bin/confine rebuilds dist/ when src/ is newer: once per test file, then nodes start from dist/. */
function buildOnce(): Promise<void> {
  built ??= new Promise<void>((resolve, reject) => {
    const child = spawn(BIN, ['--help'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let errors = '';
    child.stderr.on('data', (c: Buffer) => (errors += c.toString()));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bin/confine --help exited ${code}: ${errors}`))));
  });
  return built;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function launch(name: string, args: string[], env: Record<string, string>): Node {
  const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    live.delete(child);
    resolve();
  }));
  return { name, child, exited, output: () => output };
}

async function waitFor<T>(node: Node, probe: () => T | undefined, what: string, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (node.child.exitCode !== null || node.child.signalCode !== null) throw new Error(`${node.name} exited before ${what}:\n${node.output()}`);
    if (Date.now() > deadline) throw new Error(`${node.name}: ${what} not reached in time:\n${node.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stopNode(node: Node, graceMs = 15_000): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.kill('SIGTERM');
  const timer = setTimeout(() => node.child.kill('SIGKILL'), graceMs);
  await node.exited;
  clearTimeout(timer);
}

const clustersPerBase = new Map<number, number>();

/** Bodies above this are sent only once the API node had a moment to answer early (see roundRobin). */
const EARLY_ANSWER_BYTES = 64 * 1024;
const EARLY_ANSWER_MS = 100;

/**
 * The round-robin front: streams both ways, alternates API nodes request by request. An API node may answer
 * before reading a body (413 by content-length, then `connection: close`); node:http's client, still
 * writing that body, then fails the write (EPIPE) and loses the answer. So a large or chunked body waits,
 * like `Expect: 100-continue`, up to EARLY_ANSWER_MS after the headers for such an answer before it
 * streams (a direct client's body is in flight at once, and it reads the answer anyway); a body answered
 * early is drained here and never sent.
 */
async function roundRobin(targets: readonly string[]): Promise<Server> {
  let next = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const target = new URL(targets[next++ % targets.length]!);
    let responded = false;
    let answered = false;
    let sending = false;
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      responded = true;
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage ?? '', answer.rawHeaders);
      answer.pipe(res);
      answer.once('end', () => {
        answered = true;
        if (!sending) upstream.destroy(); // answered without the body: this connection is done
      });
      answer.once('error', () => res.destroy());
      if (!sending) req.resume();
    });
    upstream.once('error', () => {
      req.unpipe(upstream);
      req.resume();
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'bad_gateway', message: 'the round-robin front could not reach an API node' } }));
      } else if (!answered) {
        res.destroy();
      }
    });
    // The client went away before its answer: so does the request to the API node.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.once('error', () => upstream.destroy());
    const send = (): void => {
      if (responded) return;
      sending = true;
      req.pipe(upstream);
    };
    const large = Number(req.headers['content-length'] ?? 0) > EARLY_ANSWER_BYTES || req.headers['transfer-encoding'] !== undefined;
    if (large) {
      upstream.flushHeaders();
      setTimeout(send, EARLY_ANSWER_MS);
    } else {
      send();
    }
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: LISTEN_BACKLOG }, resolve));
  return server;
}

/** Only pino's JSON lines (the service log); the CLI's own plain lines are not part of it. */
function jsonLines(text: string): string {
  return text.split('\n').filter((line) => line.startsWith('{') && line.endsWith('}')).map((line) => `${line}\n`).join('');
}

export async function startClusterService(env: Record<string, string>, uidBase: number, defaults: Record<string, string>): Promise<Running> {
  await buildOnce();
  const dir = await mkdtemp(join(tmpdir(), 'confine-apicluster-'));
  const instance = clustersPerBase.get(uidBase) ?? 0;
  clustersPerBase.set(uidBase, instance + 1);
  const redis = await startRedis({ aof: true });
  const shared: Record<string, string> = {
    ...defaults,
    HOME: process.env.HOME ?? '/root',
    HOST: '127.0.0.1',
    // As embedded, whose test host keeps no pool: a session's workspace is the only mount a worker holds.
    WORKSPACE_POOL: '0',
    LAUNCHER_POOL: '0',
    // Busy slots reach stats().running through the heartbeat: frequent, so "idle" is seen as the jails end.
    WORKER_HEARTBEAT_SECONDS: '0.5',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `apicluster${uidBase}-${instance}`,
    QUEUE_SECRET_KEY: QUEUE_KEY,
    ARTIFACTS_DIR: join(dir, 'artifacts'),
    ARTIFACTS_DIR_SHARED: 'true',
    CONFINE_STATE_DIR: join(dir, 'api-state'),
    ...env,
  };
  const nodes: Node[] = [];
  /** Where each process serves GET /metrics (workers on WORKER_METRICS_PORT, API nodes on their port). */
  const metricsBases: string[] = [];
  const workers: ClusterWorker[] = [];
  let front: Server | undefined;
  let observer: Awaited<ReturnType<typeof createService>> | undefined;
  const observerLog: string[] = [];
  const auditFiles = [0, 1].flatMap((i) => [join(dir, `audit-api${i}.log`), join(dir, `audit-w${i}.log`)]).concat(join(dir, 'audit-observer.log'));

  const close = async (): Promise<void> => {
    if (front) {
      front.closeAllConnections();
      await new Promise((resolve) => front!.close(resolve));
    }
    await observer?.close();
    await Promise.all(nodes.map((n) => stopNode(n)));
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const startWorker = async (i: number): Promise<void> => {
      const slice = (instance * 2 + i) % SLICES;
      const base = uidBase + slice * SLICE;
      const stateDir = `/tmp/confine-apicluster-state/${base}`;
      await mkdir(stateDir, { recursive: true, mode: 0o755 });
      const id = `apicluster-${base}`;
      const node = launch(`w${i}`, ['worker'], {
        ...shared,
        WORKER_METRICS_PORT: String(await freePort()),
        AUDIT_LOG_PATH: join(dir, `audit-w${i}.log`),
        WORKER_ID: id,
        CONFINE_STATE_DIR: stateDir,
        CONFINE_UID_BASE: String(base),
        CONFINE_UID_COUNT: String(SLICE),
      });
      nodes.push(node);
      await waitFor(node, () => (node.output().includes(`worker ${id} ready`) ? true : undefined), 'ready');
      const cgroupLines = readFileSync(`/proc/${node.child.pid}/cgroup`, 'utf8');
      metricsBases.push(await waitFor(node, () => /metrics (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(node.output())?.[1], 'metrics address'));
      workers[i] = { pid: node.child.pid!, stateDir, uidBase: base, uidCount: SLICE, cgroupLines };
    };
    const startApi = async (i: number): Promise<string> => {
      const node = launch(`api${i}`, ['serve', '--role', 'api'], { ...shared, PORT: '0', AUDIT_LOG_PATH: join(dir, `audit-api${i}.log`) });
      nodes.push(node);
      return waitFor(node, () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(node.output())?.[1], 'listening');
    };
    await Promise.all([startWorker(0), startWorker(1)]);
    const bases = await Promise.all([startApi(0), startApi(1)]);
    // Both nodes ready: Redis reachable and a worker alive.
    for (const base of bases) {
      const deadline = Date.now() + 60_000;
      while ((await fetch(`${base}/ready`).then((r) => r.status, () => 0)) !== 200) {
        if (Date.now() > deadline) throw new Error(`${base}/ready never answered 200:\n${nodes.map((n) => `--- ${n.name}\n${n.output()}`).join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    metricsBases.push(...bases);
    front = await roundRobin(bases);
    observer = await createService(loadConfig({ ...shared, AUDIT_LOG_PATH: join(dir, 'audit-observer.log') }), {
      role: 'api',
      logStream: new Writable({
        write(chunk: Buffer, _encoding, done) {
          observerLog.push(chunk.toString('utf8'));
          done();
        },
      }),
    });
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  const port = (front!.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    service: observer!,
    dir,
    workers,
    logs: () => nodes.map((n) => jsonLines(n.output())).join('') + observerLog.join(''),
    audit: async () => (await Promise.all(auditFiles.map((f) => readFile(f, 'utf8').catch(() => '')))).map((t) => (t === '' || t.endsWith('\n') ? t : `${t}\n`)).join(''),
    metrics: async () => (await Promise.all(metricsBases.map((b) => fetch(`${b}/metrics`).then((r) => r.text())))).join('\n'),
    close,
  };
}
