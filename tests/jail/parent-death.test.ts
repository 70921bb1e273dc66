// Survive parent death: a child node process runs a jail (long sleep) and is SIGKILLed; the jail's
// processes must die with it, and the next JailHost.open must sweep its cgroup, workspace (holding
// planted symlinks to a host sentinel) and uid lease.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JailHost } from '../../src/jail/host.js';
import { attackBinary } from '../support/attack.js';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';
import { pidsOf, waitForPids } from './helpers/cgroup-pids.js';
import { leftovers, NOTHING_LEFT, processesOf, waitForNoZombies } from './helpers/leftovers.js';

let host: JailHost;
const scratch = join(TEST_STATE_DIR, `parent-death-${process.pid}`);
// The orphan gets a state dir and uid range of its own, so no other suite's host sweeps its workspace
// or lease before this test looks (cgroups are shared per machine and may be swept by anyone).
const orphanState = join(TEST_STATE_DIR, `orphan-${process.pid}`);
const ORPHAN_UID_BASE = TEST_UID_BASE + 200_000;
const ORPHAN_UID_COUNT = 16;

beforeAll(async () => {
  host = await testHost();
  mkdirSync(scratch, { recursive: true });
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(orphanState, { recursive: true, force: true }); // only directories and lock files remain: swept
});

describe('parent death', () => {
  it('jail_dies_with_its_parent_and_sweep_removes_its_remains', async () => {
    attackBinary();
    const sentinel = join(scratch, `orphan-sentinel-${randomBytes(4).toString('hex')}`);
    mkdirSync(sentinel);
    writeFileSync(join(sentinel, 'keep'), 'host data');
    const runner = resolve(import.meta.dirname, 'fixtures/orphan-runner.ts');
    const viteNode = resolve(import.meta.dirname, '../../node_modules/.bin/vite-node');
    const child = spawn(viteNode, [runner, orphanState, String(ORPHAN_UID_BASE), String(ORPHAN_UID_COUNT), sentinel], { stdio: ['ignore', 'pipe', 'inherit'] });
    const started = await new Promise<{ pid: number; cgroupProcsFiles: string[]; hostUid: number }>((done, fail) => {
      let buffer = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const line = buffer.split('\n').find((l) => l.startsWith('{'));
        if (line) done(JSON.parse(line) as { pid: number; cgroupProcsFiles: string[]; hostUid: number });
      });
      child.once('exit', (code) => fail(new Error(`runner exited early (${code}): ${buffer}`)));
    });
    const jailUid = new Set([started.hostUid]);
    await waitForPids(() => started.cgroupProcsFiles, 4, 30_000); // monitor, init, sh, sleep
    const childExit = new Promise((done) => child.once('exit', done));
    process.kill(started.pid, 'SIGKILL');
    await childExit;

    // --die-with-parent: bubblewrap gets SIGKILL when its parent dies; its pid namespace dies with it.
    const deadline = Date.now() + 10_000;
    while ((await processesOf(jailUid)).live.length > 0 && Date.now() < deadline) await sleep(50);
    expect((await processesOf(jailUid)).live).toEqual([]);
    expect(await pidsOf(started.cgroupProcsFiles)).toEqual([]);

    // What the dead owner left: its workspace (holding planted links), uid lease and cgroup. The cgroup
    // may already be gone: any JailHost.open on this machine (parallel suites) sweeps dead owners' groups.
    const scope = { cgroups: host.cgroups, config: { stateDir: orphanState } };
    const before = await leftovers(scope, started.pid, jailUid);
    expect(before.workspaceDirs).toHaveLength(1);
    expect(before.mounts).toHaveLength(1);
    expect(existsSync(join(orphanState, 'identities', String(started.hostUid)))).toBe(true);

    await (await JailHost.open({ stateDir: orphanState, uidBase: ORPHAN_UID_BASE, uidCount: ORPHAN_UID_COUNT })).close(); // sweeps
    expect(await leftovers(scope, started.pid, jailUid)).toEqual(NOTHING_LEFT);
    expect(existsSync(join(orphanState, 'identities', String(started.hostUid)))).toBe(false);
    expect(readdirSync(sentinel)).toEqual(['keep']);
    expect(readFileSync(join(sentinel, 'keep'), 'utf8')).toBe('host data');
    expect(await waitForNoZombies(jailUid, orphanState)).toEqual([]);
  });
});
