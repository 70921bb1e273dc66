// A long session: many sequential requests with input files in one session, which keeps one host uid for
// its whole life. Each request is two jails (the injection jail, then the script's), and each jail's
// bubblewrap init outlives its monitor for a moment; before the jail agent reaped those orphans, they
// waited for host init (~2 s here) as zombies of the session's uid, counted against the injection jail's
// RLIMIT_NPROC, and 2-15 of 30 requests failed "bwrap: Can't fork for pid 1" as unknown_error.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/settings.js';
import { createCommandRunner, type CommandRunner } from '../../src/domains/commands/index.js';
import { DEFAULT_WORKSPACE_INODES, type JailHost } from '../../src/jail/host.js';
import { MiB } from '../../src/jail/limits.js';
import type { JobServiceHandle } from '../../src/jobs/service.js';
import type { RunRecord } from '../../src/jobs/types.js';
import { processesOfUid } from '../jobs/support.js';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';
import { recordingSessions, sessionJobs } from './support.js';

const RUNS = 100;

let host: JailHost;
let commands: CommandRunner;

beforeAll(async () => {
  host = await testHost();
  const config = loadConfig({ CONFINE_STATE_DIR: TEST_STATE_DIR, CONFINE_UID_BASE: String(TEST_UID_BASE), ALLOWED_COMMANDS: 'cat,sh' });
  commands = createCommandRunner(host, config);
});

function describeFailure(record: RunRecord | undefined): string {
  if (!record?.outcome || record.outcome.kind === 'terraform') return JSON.stringify(record);
  const { status, error, run } = record.outcome.result;
  return `${status} ${error?.type ?? ''} ${error?.message ?? ''} stdout=${JSON.stringify(run?.stdout)} stderr=${JSON.stringify(run?.stderr)}`;
}

/** Another tenant's one-off request (no session) with an input file; a failure description, or undefined. */
async function otherTenant(jobs: JobServiceHandle, i: number): Promise<string | undefined> {
  const submitted = await jobs.submit('bob', { kind: 'script', request: { kind: 'script', script: 'cat b.txt', files: { 'b.txt': `bob ${i}` } } });
  const record = await jobs.wait('bob', submitted.id, 60_000);
  const result = record?.outcome && record.outcome.kind !== 'terraform' ? record.outcome.result : undefined;
  return result?.status === 'succeeded' && result.run?.stdout === `bob ${i}` ? undefined : `bob ${i}: ${describeFailure(record)}`;
}

describe('long session', () => {
  it('hundredSequentialRunsWithInputFiles_inOneSession_allSucceed_whileAnotherTenantIsServed', async () => {
    const { sessions, workspaces } = recordingSessions(host, {
      ttlMs: 600_000,
      quotaBytes: 4 * MiB,
      maxInodes: DEFAULT_WORKSPACE_INODES,
      maxSessions: 4,
      maxPerTenant: 4,
      cleanupIntervalMs: 600_000,
    });
    const jobs = sessionJobs(commands, sessions);
    const session = await sessions.open('alice', 'long');
    const uid = workspaces[0]!.identity.uid;

    const failures: string[] = [];
    let mostZombies = 0;
    const others: Promise<string | undefined>[] = [];
    for (let i = 0; i < RUNS; i++) {
      if (i % 10 === 0) others.push(otherTenant(jobs, i)); // answered normally meanwhile
      const files = { [`in/${i}.txt`]: `line ${i}\n`, 'latest.txt': `${i}\n` };
      const submitted = await jobs.submit('alice', { kind: 'script', request: { kind: 'script', script: `cat latest.txt in/${i}.txt`, files } }, { sessionId: session.id });
      const record = await jobs.wait('alice', submitted.id, 60_000);
      const result = record?.outcome && record.outcome.kind !== 'terraform' ? record.outcome.result : undefined;
      if (result?.status !== 'succeeded' || result.run?.stdout !== `${i}\nline ${i}\n`) failures.push(`run ${i}: ${describeFailure(record)}`);
      mostZombies = Math.max(mostZombies, processesOfUid(uid, 'zombie').length);
    }

    expect(failures).toEqual([]);
    expect((await Promise.all(others)).filter((failure) => failure !== undefined)).toEqual([]);
    // The session's uid never accumulates zombies: each jail's orphaned init is reaped as it exits.
    expect(mostZombies).toBeLessThanOrEqual(2);
    await jobs.shutdown(0);
    await sessions.closeAll();
  }, 300_000);
});
