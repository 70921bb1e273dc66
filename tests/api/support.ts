// Starts the whole service over real HTTP (app.listen on 127.0.0.1:0) with a real JailHost on its own
// host uid range, so leftover checks see only this suite's jails. With CONFINE_TEST_TOPOLOGY=cluster the
// same call starts two API processes and two workers on Redis behind a round-robin front
// (cluster-topology.ts); tests that cannot make sense across hosts are skipped there with `it.skipIf(CLUSTER)`.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { LISTEN_BACKLOG } from '../../src/api/app.js';
import { createService, type Service } from '../../src/app/service.js';
import { loadConfig } from '../../src/config/settings.js';
import { JailHost } from '../../src/jail/host.js';
import { leftovers, type Leftovers } from '../jail/helpers/leftovers.js';
import { cgroupsOf } from '../distributed/leftovers.js';
import { TEST_STATE_DIR } from '../support/jail.js';
import { startClusterService, type ClusterWorker } from './cluster-topology.js';

/** CONFINE_TEST_TOPOLOGY=cluster: the API suite against 2 API processes + 2 workers on Redis. */
export const CLUSTER = process.env.CONFINE_TEST_TOPOLOGY === 'cluster';
if (!['', 'embedded', 'cluster'].includes(process.env.CONFINE_TEST_TOPOLOGY ?? '')) {
  throw new Error(`CONFINE_TEST_TOPOLOGY must be embedded or cluster, got "${process.env.CONFINE_TEST_TOPOLOGY}"`);
}

export const API_UID_BASE = 1_950_400_000;
export const API_UID_COUNT = 256;
/** The lifecycle suite checks for leftover processes by uid: it gets a range no other file uses. */
export const LIFECYCLE_UID_BASE = 1_950_401_000;

export function uidRange(base: number): ReadonlySet<number> {
  return new Set(Array.from({ length: API_UID_COUNT }, (_, i) => base + i));
}

export const KEY_A = 'alpha-key-0123456789abcdef';
export const KEY_B = 'bravo-key-0123456789abcdef';

export interface Running {
  base: string;
  /** Cluster mode: an API-role service on the same Redis in this process (stats as any API node reads them). */
  service: Service;
  /** The JailHost of the embedded service; absent in cluster mode (jails live in the workers). */
  host?: JailHost;
  /** Cluster mode: the worker processes (pid, state dir, uid slice); empty when embedded. */
  workers?: readonly ClusterWorker[];
  dir: string;
  logs(): string;
  audit(): Promise<string>;
  /** GET /metrics of every process of the service (embedded: the one; cluster: both API nodes and both workers). */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

const hosts = new Map<number, Promise<JailHost>>();

function apiHost(uidBase: number): Promise<JailHost> {
  let host = hosts.get(uidBase);
  if (!host) {
    host = JailHost.open({ stateDir: TEST_STATE_DIR, uidBase, uidCount: API_UID_COUNT });
    hosts.set(uidBase, host);
  }
  return host;
}

export async function startService(env: Record<string, string> = {}, uidBase = API_UID_BASE): Promise<Running> {
  if (CLUSTER) {
    return startClusterService(env, uidBase, { API_KEYS: `alpha:${KEY_A},bravo:${KEY_B}`, LOG_LEVEL: 'info', PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' });
  }
  const dir = await mkdtemp(join(tmpdir(), 'confine-api-'));
  const host = await apiHost(uidBase);
  const config = loadConfig({
    CONFINE_STATE_DIR: TEST_STATE_DIR,
    CONFINE_UID_BASE: String(uidBase),
    CONFINE_UID_COUNT: String(API_UID_COUNT),
    API_KEYS: `alpha:${KEY_A},bravo:${KEY_B}`,
    ARTIFACTS_DIR: join(dir, 'artifacts'),
    AUDIT_LOG_PATH: join(dir, 'audit.log'),
    LOG_LEVEL: 'info',
    PATH: process.env.PATH,
    ...env,
  });
  const chunks: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const service = await createService(config, { host, logStream });
  const address = await service.app.listen({ host: '127.0.0.1', port: 0, backlog: LISTEN_BACKLOG });
  return {
    base: address,
    service,
    host,
    dir,
    logs: () => chunks.join(''),
    audit: () => readFile(join(dir, 'audit.log'), 'utf8').catch(() => ''),
    metrics: () => fetch(`${address}/metrics`).then((r) => r.text()),
    close: () => service.close(),
  };
}

/**
 * What the service's jails left on this machine: embedded, what this process's JailHost owns; cluster, what
 * each worker process owns (its cgroups, workspace mounts and dirs in its state dir, processes of its uids).
 */
export async function leftoversOf(svc: Running, uids: ReadonlySet<number>): Promise<Leftovers> {
  if (svc.host) return leftovers(svc.host, process.pid, uids);
  const all: Leftovers = { processes: [], cgroups: [], mounts: [], workspaceDirs: [] };
  for (const worker of svc.workers ?? []) {
    const own = new Set([...uids].filter((uid) => uid >= worker.uidBase && uid < worker.uidBase + worker.uidCount));
    const cgroups = await cgroupsOf(worker.cgroupLines, worker.pid);
    const found = await leftovers({ cgroups: { roots: [] }, config: { stateDir: worker.stateDir } }, worker.pid, own);
    all.processes.push(...found.processes);
    all.cgroups.push(...cgroups);
    all.mounts.push(...found.mounts);
    all.workspaceDirs.push(...found.workspaceDirs);
  }
  // Uids of the range outside every worker's slice: nothing of this service may run there.
  const sliced = (uid: number): boolean => (svc.workers ?? []).some((w) => uid >= w.uidBase && uid < w.uidBase + w.uidCount);
  const rest = new Set([...uids].filter((uid) => !sliced(uid)));
  if (rest.size > 0) all.processes.push(...(await leftovers({ cgroups: { roots: [] }, config: { stateDir: TEST_STATE_DIR } }, process.pid, rest)).processes);
  return all;
}

/** A loose view of parsed JSON for assertions (property access at any depth, no `any`). */
export interface Json {
  readonly [key: string]: Json;
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

export async function call(base: string, method: string, path: string, options: { key?: string; json?: unknown; body?: BodyInit; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.key) headers['x-api-key'] = options.key;
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  const response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined; // not JSON (metrics, yaml): tests read `text`
  }
  return { status: response.status, headers: response.headers, body: (parsed ?? {}) as Json, text };
}

export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
