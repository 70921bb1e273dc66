// A real many-host confine on this machine (issue 12): one redis-server (AOF on), API processes
// (`confine serve --role api`, port 0, the port read from the log) and worker processes (`confine worker`),
// each with its own environment; workers with their own state dir and host uid range, so a fault test can
// look for what one worker left behind. Artifacts live in one directory all nodes share
// (ARTIFACTS_DIR_SHARED=true: one host). Nodes are real processes: kill() is SIGKILL, nothing is faked.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis, type TestRedis } from '../support/redis.js';
import { freePort } from '../api/served.js';
import { until } from '../api/support.js';

export { cgroupsOf, mountsOf, processesOfUids, workspacesOf } from './leftovers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/confine');
// bin/confine rebuilds dist/ when src/ is newer; buildOnce() does that once, then nodes start from dist/
// directly, so four nodes starting together never run four concurrent builds into one dist/.
const MAIN = join(ROOT, 'dist/cli/main.js');

export const DIST_KEY_A = 'dist-alpha-key-0123456789abcdef';
export const DIST_KEY_B = 'dist-bravo-key-0123456789abcdef';
/** QUEUE_SECRET_KEY of every test cluster (32 bytes, base64). */
export const DIST_QUEUE_KEY = Buffer.alloc(32, 0x5a).toString('base64');
/** Host uids of every distributed test: 1_950_700_000 + 10_000 per cluster slot, + 1_000 per worker. */
export const DIST_UID_BASE = 1_950_700_000;
export const WORKER_UID_COUNT = 64;

export interface NodeProcess {
  readonly name: string;
  readonly pid: number;
  /** stdout and stderr together (pino logs, audit lines, the CLI's own messages). */
  output(): string;
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  alive(): boolean;
  signal(signal: NodeJS.Signals): void;
}

export interface ApiNode extends NodeProcess {
  readonly base: string;
}

export interface WorkerNode extends NodeProcess {
  readonly id: string;
  /** `http://127.0.0.1:<WORKER_METRICS_PORT>` (GET /metrics, /health). */
  readonly metricsBase: string;
  readonly stateDir: string;
  readonly uidBase: number;
  readonly uidCount: number;
}

export interface ClusterOptions {
  /**
   * Distinct per test file (0..9): the uid block, state dirs, worker ids and key prefix of its nodes. Taken:
   * 0 api, 1 faults, 2 rate-limit, 3 sessions, 4 lifecycle.
   */
  slot: number;
  apis?: number;
  workers?: number;
  /** Settings for every node. */
  env?: Record<string, string>;
  /** Settings for API nodes only. */
  apiEnv?: Record<string, string>;
  /** Settings for workers only. */
  workerEnv?: Record<string, string>;
}

export interface Cluster {
  readonly redis: TestRedis;
  readonly api: ApiNode[];
  readonly workers: WorkerNode[];
  readonly artifactsDir: string;
  /** Settings every node got (tests start extra nodes with them). */
  readonly env: Readonly<Record<string, string>>;
  /** SIGKILL and wait for the exit. */
  killApi(index: number): Promise<void>;
  killWorker(index: number): Promise<void>;
  /** Starts node `index` again (same settings, same worker id and state dir). */
  restartApi(index: number): Promise<ApiNode>;
  restartWorker(index: number): Promise<WorkerNode>;
  /** Resolves when an API node's /ready answers 200 (Redis up, a worker alive). */
  ready(base?: string, timeoutMs?: number): Promise<void>;
  /**
   * Starts `confine serve --role all` (HTTP and jails in one process) joining this cluster as worker
   * `index` would (its own worker id, state dir and uid range); the caller stops it.
   */
  startAll(index: number): Promise<ApiNode & WorkerNode>;
  /** Every node's output, for failure messages. */
  logs(): string;
  /** SIGTERM every node (SIGKILL after a grace), stop Redis, remove the temp dir. */
  stop(): Promise<void>;
}

let built: Promise<void> | undefined;

/** Builds dist/ once per test file through bin/confine, as users start it. */
export function buildOnce(): Promise<void> {
  built ??= new Promise<void>((resolve, reject) => {
    const child = spawn(BIN, ['--help'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let errors = '';
    child.stderr.on('data', (c: Buffer) => (errors += c.toString()));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bin/confine --help exited ${code}: ${errors}`))));
  });
  return built;
}

const BASE_ENV = {
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  HOME: process.env.HOME ?? '/root',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  API_KEYS: `alpha:${DIST_KEY_A},bravo:${DIST_KEY_B}`,
  // Tests poll; the rate limit is counted across nodes in Redis. rate-limit.test.ts sets its own.
  RATE_LIMIT_REQUESTS: '1000000',
  WORKERS: '2',
  // Short enough that a killed worker is noticed within seconds, long enough for a loaded 2-core machine.
  RUN_LOCK_SECONDS: '4',
  WORKER_HEARTBEAT_SECONDS: '0.5',
  SHUTDOWN_GRACE_SECONDS: '5',
  WORKSPACE_POOL: '1',
  LAUNCHER_POOL: '1',
};

const started = new Set<ChildProcess>();

function launch(name: string, args: string[], env: Record<string, string>): NodeProcess & { child: ChildProcess } {
  const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      started.delete(child);
      resolve(code);
    }),
  );
  return {
    name,
    pid: child.pid!,
    child,
    output: () => output,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

async function startApi(name: string, env: Record<string, string>): Promise<ApiNode> {
  const node = launch(name, ['serve', '--role', 'api'], { ...env, PORT: '0' });
  const base = await Promise.race([
    until(async () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(node.output())?.[1], 60_000),
    node.exited.then((code) => {
      throw new Error(`${name} exited (${code}) before listening:\n${node.output()}`);
    }),
  ]).catch((error: unknown) => {
    node.signal('SIGKILL');
    throw error instanceof Error && error.message.includes('exited') ? error : new Error(`${name} did not listen:\n${node.output()}`, { cause: error });
  });
  return { ...node, base };
}

async function startWorker(name: string, id: string, stateDir: string, uidBase: number, env: Record<string, string>): Promise<WorkerNode> {
  await mkdir(stateDir, { recursive: true, mode: 0o755 });
  const node = launch(name, ['worker'], {
    WORKER_METRICS_PORT: String(await freePort()),
    ...env,
    WORKER_ID: id,
    CONFINE_STATE_DIR: stateDir,
    CONFINE_UID_BASE: String(uidBase),
    CONFINE_UID_COUNT: String(WORKER_UID_COUNT),
  });
  await Promise.race([
    until(async () => (node.output().includes(`worker ${id} ready`) ? true : undefined), 60_000),
    node.exited.then((code) => {
      throw new Error(`${name} exited (${code}) before it was ready:\n${node.output()}`);
    }),
  ]).catch((error: unknown) => {
    node.signal('SIGKILL');
    throw error instanceof Error && error.message.includes('exited') ? error : new Error(`${name} was not ready:\n${node.output()}`, { cause: error });
  });
  const metricsBase = /metrics (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(node.output())?.[1] ?? '';
  return { ...node, id, metricsBase, stateDir, uidBase, uidCount: WORKER_UID_COUNT };
}

export async function stopNode(node: NodeProcess, graceMs = 15_000): Promise<void> {
  if (!node.alive()) return;
  node.signal('SIGTERM');
  const timer = setTimeout(() => node.signal('SIGKILL'), graceMs);
  await node.exited;
  clearTimeout(timer);
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  if (!(options.slot >= 0 && options.slot <= 9)) throw new RangeError('cluster slot must be 0..9');
  await buildOnce();
  const dir = await mkdtemp(join(tmpdir(), 'confine-cluster-'));
  const artifactsDir = join(dir, 'artifacts');
  await mkdir(artifactsDir, { recursive: true });
  const redis = await startRedis({ aof: true });
  const env: Record<string, string> = {
    ...BASE_ENV,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `dist${options.slot}`,
    QUEUE_SECRET_KEY: DIST_QUEUE_KEY,
    ARTIFACTS_DIR: artifactsDir,
    ARTIFACTS_DIR_SHARED: 'true',
    // API nodes never open a state dir of their own; a harmless private one in case something reads it.
    CONFINE_STATE_DIR: join(dir, 'api-state'),
    ...options.env,
  };
  const apiEnv = (i: number): Record<string, string> => ({ ...env, AUDIT_LOG_PATH: join(dir, `audit-api${i}.log`), ...options.apiEnv });
  // Fixed paths (not temp dirs): a restarted worker must find what its killed predecessor left, to sweep it.
  const workerDir = (i: number): string => `/tmp/confine-dist-state/slot${options.slot}-w${i}`;
  const workerUid = (i: number): number => DIST_UID_BASE + options.slot * 10_000 + i * 1_000;
  const workerEnv = (i: number): Record<string, string> => ({ ...env, AUDIT_LOG_PATH: join(dir, `audit-w${i}.log`), ...options.workerEnv });
  const workerId = (i: number): string => `dist${options.slot}-w${i}`;

  const api: ApiNode[] = [];
  const workers: WorkerNode[] = [];
  const cluster: Cluster = {
    redis,
    api,
    workers,
    artifactsDir,
    env,
    async killApi(i) {
      api[i]!.signal('SIGKILL');
      await api[i]!.exited;
    },
    async killWorker(i) {
      workers[i]!.signal('SIGKILL');
      await workers[i]!.exited;
    },
    async restartApi(i) {
      await stopNode(api[i]!);
      api[i] = await startApi(`api${i}`, apiEnv(i));
      return api[i]!;
    },
    async restartWorker(i) {
      await stopNode(workers[i]!);
      workers[i] = await startWorker(`w${i}`, workerId(i), workerDir(i), workerUid(i), workerEnv(i));
      return workers[i]!;
    },
    async startAll(i) {
      await mkdir(workerDir(i), { recursive: true, mode: 0o755 });
      const env = { ...workerEnv(i), WORKER_ID: workerId(i), CONFINE_STATE_DIR: workerDir(i), CONFINE_UID_BASE: String(workerUid(i)), CONFINE_UID_COUNT: String(WORKER_UID_COUNT) };
      const node = launch(`all${i}`, ['serve', '--role', 'all'], { ...env, PORT: '0' });
      const base = await until(async () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(node.output())?.[1], 60_000).catch((error: unknown) => {
        node.signal('SIGKILL');
        throw new Error(`all${i} did not listen:\n${node.output()}`, { cause: error });
      });
      return { ...node, base, id: workerId(i), metricsBase: '', stateDir: workerDir(i), uidBase: workerUid(i), uidCount: WORKER_UID_COUNT };
    },
    async ready(base = api[0]!.base, timeoutMs = 60_000) {
      await until(async () => ((await fetch(`${base}/ready`).then((r) => r.status, () => 0)) === 200 ? true : undefined), timeoutMs).catch((error: unknown) => {
        throw new Error(`${base}/ready never answered 200:\n${cluster.logs()}`, { cause: error });
      });
    },
    logs() {
      return [...api, ...workers].map((n) => `--- ${n.name} (pid ${n.pid}${n.alive() ? '' : ', exited'}):\n${n.output().slice(-4000)}`).join('\n');
    },
    async stop() {
      await Promise.all([...api, ...workers].map((n) => stopNode(n)));
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    // Workers first: an API node's /ready waits for a live worker anyway.
    for (let i = 0; i < (options.workers ?? 2); i++) workers.push(await startWorker(`w${i}`, workerId(i), workerDir(i), workerUid(i), workerEnv(i)));
    for (let i = 0; i < (options.apis ?? 2); i++) api.push(await startApi(`api${i}`, apiEnv(i)));
    if (api.length > 0 && workers.length > 0) await cluster.ready();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Kills every node a test file started (afterAll backstop: a failed assertion must not leave processes). */
export function killAllNodes(): void {
  for (const child of started) child.kill('SIGKILL');
}
