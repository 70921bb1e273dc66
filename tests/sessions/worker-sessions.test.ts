// Sessions across hosts: the registry in a real Redis, two workers (WorkerSessions) holding workspaces on
// the real jail host, an API-side registry handle opening and deleting. The first run binds the session to
// its worker and the files persist there; the other worker refuses it naming the holder; a deletion from
// the API side kills the jail running on the worker and unmounts; an expiry is swept; a long run keeps its
// session alive; a restarted worker id gives up its predecessor's sessions.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/settings.js';
import { createCommandRunner, type CommandRunner } from '../../src/domains/commands/index.js';
import type { CommandResult } from '../../src/domains/commands/types.js';
import { DomainError } from '../../src/domains/errors.js';
import { DEFAULT_WORKSPACE_INODES, type JailHost } from '../../src/jail/host.js';
import { MiB } from '../../src/jail/limits.js';
import type { Workspace } from '../../src/jail/workspace.js';
import { RedisSessionRegistry, type RedisLink } from '../../src/sessions/redis-registry.js';
import type { SessionRegistryLimits } from '../../src/sessions/registry.js';
import { SessionElsewhereError, WorkerSessions } from '../../src/sessions/worker-sessions.js';
import { livePids, processesOfUid } from '../jobs/support.js';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';
import { startRedis, type TestRedis } from '../support/redis.js';

let redis: TestRedis;
let host: JailHost;
let commands: CommandRunner;
const clients: Redis[] = [];

beforeAll(async () => {
  redis = await startRedis();
  host = await testHost();
  commands = createCommandRunner(host, loadConfig({ CONFINE_STATE_DIR: TEST_STATE_DIR, CONFINE_UID_BASE: String(TEST_UID_BASE), ALLOWED_COMMANDS: 'cat,sh,sleep' }));
});

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await redis?.stop();
});

function link(prefix: string): RedisLink {
  const open = (): Redis => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    clients.push(client);
    return client;
  };
  return { client: open(), key: (...parts) => [prefix, ...parts].join(':'), duplicate: open };
}

interface Cluster {
  /** What an API node holds. */
  api: RedisSessionRegistry;
  /** createDelayMs: workspace creation held open that long (to land runs in the middle of it). */
  worker(id: string, createDelayMs?: number): Promise<{ sessions: WorkerSessions; workspaces: Workspace[] }>;
  close(): Promise<void>;
}

async function cluster(limits: Partial<SessionRegistryLimits> = {}, keepAliveMs = 10_000): Promise<Cluster> {
  const prefix = `ws-${Math.random().toString(36).slice(2, 10)}`;
  const full: SessionRegistryLimits = { ttlMs: 60_000, maxAgeMs: 0, maxSessions: 8, maxPerTenant: 4, ...limits };
  const api = new RedisSessionRegistry(link(prefix), full);
  const started: WorkerSessions[] = [];
  return {
    api,
    async worker(id, createDelayMs = 0) {
      const workspaces: Workspace[] = [];
      const sessions = new WorkerSessions({
        registry: new RedisSessionRegistry(link(prefix), full),
        workerId: id,
        createWorkspace: async (options) => {
          if (createDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, createDelayMs));
          const workspace = await host.createWorkspace(options);
          workspaces.push(workspace);
          return workspace;
        },
        quotaBytes: 4 * MiB,
        maxInodes: DEFAULT_WORKSPACE_INODES,
        sweepIntervalMs: 60_000,
        keepAliveMs,
      });
      await sessions.start();
      started.push(sessions);
      return { sessions, workspaces };
    },
    async close() {
      for (const sessions of started) await sessions.closeAll();
      await api.dispose();
    },
  };
}

function script(sessions: WorkerSessions, tenant: string, id: string, text: string): Promise<CommandResult> {
  return sessions.withWorkspace(tenant, id, (workspace, signal) => commands.run({ kind: 'script', script: text }, { signal, workspace }));
}

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === path);
}

async function until(probe: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

describe('sessions across workers', () => {
  it('firstRun_bindsTheSessionToItsWorker_andLaterRunsThereSeeItsFiles', async () => {
    const c = await cluster();
    const w1 = await c.worker('w1');
    const session = await c.api.open('alice', 'build');
    expect(session.host).toBeUndefined();
    expect((await script(w1.sessions, 'alice', session.id, 'echo kept > note.txt')).status).toBe('succeeded');
    expect((await c.api.get('alice', 'build'))?.host).toBe('w1');
    const second = await script(w1.sessions, 'alice', 'build', 'cat note.txt');
    expect(second.run?.stdout).toBe('kept\n');
    expect(w1.workspaces).toHaveLength(1);
    await c.close();
  });

  it('runOnAnotherWorker_isRefusedNamingTheHolder_withoutAWorkspaceThere', async () => {
    const c = await cluster();
    const [w1, w2] = [await c.worker('w1'), await c.worker('w2')];
    const session = await c.api.open('alice');
    await script(w1.sessions, 'alice', session.id, 'true');
    const refused = script(w2.sessions, 'alice', session.id, 'true');
    await expect(refused).rejects.toBeInstanceOf(SessionElsewhereError);
    await expect(refused).rejects.toMatchObject({ host: 'w1' });
    expect(w2.workspaces).toHaveLength(0);
    // Another tenant's session id is not found on any worker.
    await expect(script(w1.sessions, 'mallory', session.id, 'true')).rejects.toBeInstanceOf(DomainError);
    await c.close();
  });

  it('deleteFromAnApiNode_killsTheJailRunningOnTheWorker_thenUnmounts', async () => {
    const c = await cluster();
    const w1 = await c.worker('w1');
    const session = await c.api.open('alice');
    const running = script(w1.sessions, 'alice', session.id, 'sleep 30');
    expect(await until(() => w1.workspaces.length === 1 && processesOfUid(w1.workspaces[0]!.identity.uid).length > 0)).toBe(true);
    const jailPids = processesOfUid(w1.workspaces[0]!.identity.uid);
    const mountPath = dirname(w1.workspaces[0]!.hostPath);
    const started = Date.now();
    expect((await c.api.close('alice', session.id))?.host).toBe('w1');
    const result = await running;
    expect(result.run?.exit_reason).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(livePids(jailPids)).toEqual([]);
    expect(await until(() => !mounted(mountPath))).toBe(true);
    expect(w1.sessions.size).toBe(0);
    await c.close();
  });

  it('expiredSession_isSweptFromItsWorker', async () => {
    const c = await cluster({ ttlMs: 300 });
    const w1 = await c.worker('w1');
    const session = await c.api.open('alice');
    await script(w1.sessions, 'alice', session.id, 'true');
    const mountPath = dirname(w1.workspaces[0]!.hostPath);
    expect(await w1.sessions.sweep()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await w1.sessions.sweep()).toEqual([session.id]);
    expect(mounted(mountPath)).toBe(false);
    await c.close();
  });

  it('runLongerThanTheTtl_keepsItsSessionAlive', async () => {
    const c = await cluster({ ttlMs: 1_000 }, 200);
    const w1 = await c.worker('w1');
    const session = await c.api.open('alice');
    const result = await script(w1.sessions, 'alice', session.id, 'sleep 2; echo done');
    expect(result.run?.stdout).toBe('done\n');
    expect(await c.api.get('alice', session.id)).toBeDefined();
    await c.close();
  });

  it('restartedWorkerId_givesUpItsPredecessorsSessions', async () => {
    const c = await cluster();
    const first = await c.worker('w1');
    const session = await c.api.open('alice');
    await script(first.sessions, 'alice', session.id, 'true');
    await first.sessions.closeAll(); // the process is gone (its workspaces with it)
    expect((await c.api.get('alice', session.id))?.host).toBe('w1');
    await c.worker('w1'); // same WORKER_ID, new process
    expect(await c.api.get('alice', session.id)).toBeUndefined();
    await c.close();
  });

  it('sessionPlacedByAnApiNodeBeforeItsFirstRun_isCreatedOnThatWorker', async () => {
    const c = await cluster();
    const w1 = await c.worker('w1');
    const session = await c.api.open('alice');
    expect(await c.api.bind(session.id, 'w1')).toBe('w1'); // what placeSession does at submit
    const result = await script(w1.sessions, 'alice', session.id, 'echo placed > p.txt; cat p.txt');
    expect(result.run?.stdout).toBe('placed\n');
    expect(w1.workspaces).toHaveLength(1);
    await c.close();
  });

  it('runsArrivingWhileTheFirstRunCreatesTheWorkspace_waitForItAndShareIt', async () => {
    const c = await cluster();
    const w1 = await c.worker('w1', 500);
    const session = await c.api.open('alice');
    const first = script(w1.sessions, 'alice', session.id, 'echo 0 > f0');
    // The first run has bound the session and is creating its workspace: the others land in that window.
    expect(await until(async () => (await c.api.get('alice', session.id))?.host === 'w1')).toBe(true);
    const later = [1, 2, 3].map((i) => script(w1.sessions, 'alice', session.id, `echo ${i} > f${i}`));
    const results = await Promise.all([first, ...later]);
    expect(results.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(w1.workspaces).toHaveLength(1);
    expect((await script(w1.sessions, 'alice', session.id, 'cat f0 f1 f2 f3')).run?.stdout).toBe('0\n1\n2\n3\n');
    await c.close();
  });
});
