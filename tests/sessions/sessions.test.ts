// Sessions against real jails and the real command runner: the workspace persists between requests
// (each in a fresh jail), the quota is a real tmpfs limit, expiry really unmounts, tenants are apart.
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/settings.js';
import { createCommandRunner, type CommandRunner } from '../../src/domains/commands/index.js';
import type { CommandResult } from '../../src/domains/commands/types.js';
import { DomainError } from '../../src/domains/errors.js';
import { DEFAULT_WORKSPACE_INODES, type JailHost } from '../../src/jail/host.js';
import { MiB } from '../../src/jail/limits.js';
import type { Workspace } from '../../src/jail/workspace.js';
import type { RunRecord, RunRequest } from '../../src/jobs/types.js';
import { SessionManager, type SessionManagerOptions } from '../../src/sessions/index.js';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';
import { livePids, processesOfUid } from '../jobs/support.js';
import { recordingSessions, sessionJobs } from './support.js';

let host: JailHost;
let config: Readonly<Config>;
let commands: CommandRunner;

beforeAll(async () => {
  host = await testHost();
  config = loadConfig({
    CONFINE_STATE_DIR: TEST_STATE_DIR,
    CONFINE_UID_BASE: String(TEST_UID_BASE),
    ALLOWED_COMMANDS: 'ls,cat,echo,sh,yes,sleep',
  });
  commands = createCommandRunner(host, config);
});

interface Harness {
  sessions: SessionManager;
  workspaces: Workspace[];
  clock: { now: number };
}

function harness(overrides: Partial<Omit<SessionManagerOptions, 'createWorkspace'>> = {}, fakeClock = true): Harness {
  const clock = { now: Date.now() };
  const { sessions, workspaces } = recordingSessions(host, {
    ttlMs: 60_000,
    quotaBytes: 4 * MiB,
    maxInodes: DEFAULT_WORKSPACE_INODES,
    maxSessions: 16,
    maxPerTenant: 4,
    cleanupIntervalMs: 60_000,
    ...(fakeClock ? { now: () => clock.now } : {}),
    ...overrides,
  });
  return { sessions, workspaces, clock };
}

const jobsFor = (sessions: SessionManager) => sessionJobs(commands, sessions);

function script(text: string, files?: Record<string, string>): RunRequest {
  return { kind: 'script', request: { kind: 'script', script: text, ...(files ? { files } : {}) } };
}

function resultOf(record: RunRecord | undefined): CommandResult {
  if (!record?.outcome || record.outcome.kind === 'terraform') throw new Error(`no command outcome: ${JSON.stringify(record)}`);
  return record.outcome.result;
}

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === path);
}

describe('sessions', () => {
  it('workspace_fileWrittenByRequest1_isReadByRequest2InAFreshJail', async () => {
    const { sessions } = harness();
    const jobs = jobsFor(sessions);
    const session = await sessions.open('alice', 'my-session-1');
    const first = await jobs.submit('alice', script('echo hello > note.txt; echo kept > /tmp/t; echo $$'), { sessionId: 'my-session-1' });
    const one = resultOf(await jobs.wait('alice', first.id, 30_000));
    expect(one.run?.exit_code).toBe(0);
    const second = await jobs.submit('alice', script('cat note.txt /tmp/t; echo $$'), { sessionId: session.id });
    const two = resultOf(await jobs.wait('alice', second.id, 30_000));
    expect(two.run?.stdout.split('\n').slice(0, 2)).toEqual(['hello', 'kept']);
    // A fresh jail each time: a new pid namespace, so the shell is pid 1 (or 2) in both; never the same process.
    expect(two.status).toBe('succeeded');
    await jobs.shutdown(0);
    await sessions.closeAll();
  });

  it('injectFiles_intoUsedSessionWorkspace_reachesTheNextRequest', async () => {
    const { sessions } = harness();
    const jobs = jobsFor(sessions);
    const session = await sessions.open('alice');
    const first = await jobs.submit('alice', script('echo one > a.txt'), { sessionId: session.id });
    await jobs.wait('alice', first.id, 30_000);
    // The workspace has been used by a jail: files now go in through a jail as the workspace uid.
    const second = await jobs.submit('alice', script('cat a.txt input/b.txt', { 'input/b.txt': 'two\n' }), { sessionId: session.id });
    const two = resultOf(await jobs.wait('alice', second.id, 30_000));
    expect(two.run?.stdout).toBe('one\ntwo\n');
    await jobs.shutdown(0);
    await sessions.closeAll();
  });

  it('quota_writingPastSessionDiskQuota_failsWithEnospc', async () => {
    const { sessions, workspaces } = harness({ quotaBytes: 1 * MiB });
    const jobs = jobsFor(sessions);
    const session = await sessions.open('alice');
    const run = await jobs.submit('alice', script('yes 0123456789abcdef > big; echo "rc=$?"'), { sessionId: session.id });
    const result = resultOf(await jobs.wait('alice', run.id, 30_000));
    expect(result.run?.stderr).toMatch(/No space left on device/);
    expect(result.run?.stdout).toMatch(/rc=[1-9]/);
    const fs = statfsSync(workspaces[0]!.hostPath);
    expect(fs.blocks * fs.bsize).toBeLessThanOrEqual(1 * MiB);
    await jobs.shutdown(0);
    await sessions.closeAll();
  });

  it('expiry_cleanupDisposesTheWorkspaceAndUnmountsIt', async () => {
    const { sessions, workspaces, clock } = harness({ ttlMs: 1_000 });
    const jobs = jobsFor(sessions);
    const session = await sessions.open('alice', 'short');
    const run = await jobs.submit('alice', script('echo x > f'), { sessionId: 'short' });
    await jobs.wait('alice', run.id, 30_000);
    const mountPath = dirname(workspaces[0]!.hostPath);
    expect(mounted(mountPath)).toBe(true);
    clock.now += 500;
    expect(await sessions.cleanup()).toEqual([]); // not yet expired
    clock.now += 1_600;
    expect(await sessions.touch('alice', 'short')).toBeUndefined(); // expired: not found even before cleanup
    expect(await sessions.cleanup()).toEqual([session.id]);
    expect(mounted(mountPath)).toBe(false);
    expect(existsSync(mountPath)).toBe(false);
    const late = await jobs.submit('alice', script('cat f'), { sessionId: 'short' });
    const lateResult = resultOf(await jobs.wait('alice', late.id, 30_000));
    expect(lateResult.error?.type).toBe('validation_error');
    expect(lateResult.run).toBeNull();
    await jobs.shutdown(0);
  });

  it('ttl_refreshedOnUse_keepsAnActiveSessionAlive', async () => {
    const { sessions, clock } = harness({ ttlMs: 1_000 });
    const session = await sessions.open('alice');
    clock.now += 800;
    expect(await sessions.touch('alice', session.id)).toBeDefined();
    clock.now += 800; // 1.6 s after creation, 0.8 s after last use
    expect(await sessions.cleanup()).toEqual([]);
    expect(sessions.get('alice', session.id)?.id).toBe(session.id);
    await sessions.closeAll();
  });

  it('maxAge_reached_removesEvenARecentlyUsedSession', async () => {
    const { sessions, workspaces, clock } = harness({ ttlMs: 1_000, maxAgeMs: 2_500 });
    const session = await sessions.open('alice', 'old');
    for (let i = 0; i < 3; i++) {
      clock.now += 800;
      expect(await sessions.touch('alice', 'old')).toBeDefined();
    }
    // 2.4 s old, used 0 s ago: expires_at is capped at the age limit.
    expect(Date.parse(sessions.get('alice', 'old')!.expires_at)).toBe(Date.parse(session.created_at) + 2_500);
    clock.now += 200;
    expect(await sessions.cleanup()).toEqual([session.id]);
    expect(mounted(dirname(workspaces[0]!.hostPath))).toBe(false);
  });

  it('cleanupWorker_onItsInterval_removesExpiredSessions', async () => {
    const { sessions, workspaces } = harness({ ttlMs: 200, cleanupIntervalMs: 100 }, false);
    sessions.start();
    await sessions.open('alice');
    const mountPath = dirname(workspaces[0]!.hostPath);
    expect(mounted(mountPath)).toBe(true);
    const deadline = Date.now() + 10_000;
    while ((sessions.size > 0 || mounted(mountPath)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(sessions.size).toBe(0);
    expect(mounted(mountPath)).toBe(false);
    await sessions.closeAll();
  });

  it('inUseSession_isNotExpiredUnderARunningRequest', async () => {
    const { sessions, clock } = harness({ ttlMs: 1_000 });
    const session = await sessions.open('alice');
    let during: string[] = ['unset'];
    await sessions.withWorkspace('alice', session.id, async () => {
      clock.now += 5_000;
      during = await sessions.cleanup();
    });
    expect(during).toEqual([]);
    expect(sessions.get('alice', session.id)).toBeDefined(); // refreshed when the request ended
    await sessions.closeAll();
  });

  it('tenantIsolation_otherTenantsIdOrName_isNotFound', async () => {
    const { sessions, workspaces } = harness();
    const alice = await sessions.open('alice', 'shared-name');
    const mallory = await sessions.open('mallory', 'shared-name');
    expect(mallory.id).not.toBe(alice.id);
    expect(workspaces[0]!.hostPath).not.toBe(workspaces[1]!.hostPath);
    expect(await sessions.touch('mallory', alice.id)).toBeUndefined();
    expect(await sessions.close('mallory', alice.id)).toBe(false);
    await expect(sessions.withWorkspace('mallory', alice.id, async () => 'reached')).rejects.toBeInstanceOf(DomainError);
    expect(sessions.list('mallory').map((s) => s.id)).toEqual([mallory.id]);
    expect(sessions.get('alice', 'shared-name')?.id).toBe(alice.id);
    await sessions.closeAll();
  });

  it('open_sameNameConcurrently_isIdempotentWithOneWorkspace', async () => {
    const { sessions, workspaces } = harness();
    const opened = await Promise.all([1, 2, 3].map(() => sessions.open('alice', 'same')));
    expect(new Set(opened.map((s) => s.id)).size).toBe(1);
    expect(workspaces).toHaveLength(1);
    expect(opened[0]!.id).toMatch(/^[0-9a-f]{32}$/);
    expect(opened[0]!.name).toBe('same');
    await sessions.closeAll();
  });

  it('open_beyondPerTenantLimit_isResourceLimit', async () => {
    const { sessions } = harness({ maxPerTenant: 2 });
    await sessions.open('alice');
    await sessions.open('alice');
    await expect(sessions.open('alice')).rejects.toSatisfy((e: unknown) => e instanceof DomainError && e.type === 'resource_limit');
    await sessions.open('bob'); // others unaffected
    // A concurrent burst cannot slip past the limit while workspaces are still being mounted.
    const burst = await Promise.allSettled(Array.from({ length: 6 }, () => sessions.open('carol')));
    expect(burst.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(sessions.list('carol')).toHaveLength(2);
    await expect(sessions.open('alice', '../etc')).rejects.toSatisfy((e: unknown) => e instanceof DomainError && e.type === 'validation_error');
    await sessions.closeAll();
  });

  it('delete_whileARequestRuns_killsItsJailThenUnmounts', async () => {
    const { sessions, workspaces } = harness();
    const jobs = jobsFor(sessions);
    const session = await sessions.open('alice');
    const run = await jobs.submit('alice', script('sleep 30'), { sessionId: session.id });
    const uid = () => workspaces[0]!.identity.uid;
    const deadline = Date.now() + 10_000;
    while (processesOfUid(uid()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // The jail's own pids (its uid is released, and may be leased again, once the workspace is gone).
    const jailPids = processesOfUid(uid());
    expect(jailPids.length).toBeGreaterThan(0);
    const mountPath = dirname(workspaces[0]!.hostPath);
    expect(await sessions.close('alice', session.id)).toBe(true);
    const done = await jobs.wait('alice', run.id, 10_000);
    expect(resultOf(done).run?.exit_reason).toBe('cancelled');
    expect(livePids(jailPids)).toEqual([]);
    expect(mounted(mountPath)).toBe(false);
    await jobs.shutdown(0);
  });
});
