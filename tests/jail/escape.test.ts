// Attacks that need host-side set-up: a listener on the host, a setuid binary, a secret in the host's
// environment, planted symlinks for host code to follow, a second concurrent jail. (Parent death:
// parent-death.test.ts.)
// Each performs the real attack against a real jail and checks the host side too.
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JailHost } from '../../src/jail/host.js';
import { MiB } from '../../src/jail/limits.js';
import { shellSpec } from '../../src/jail/profiles/shell.js';
import type { JailSpec, RunResult } from '../../src/jail/spec.js';
import { ATTACK_DIR_IN_JAIL, ATTACK_IN_JAIL, attackBinary, attackMount, parseAttackLine, withAttackOnPath } from '../support/attack.js';
import { TEST_STATE_DIR, testHost } from '../support/jail.js';
import { pidsOf, waitForPids } from './helpers/cgroup-pids.js';
import { leftovers, NOTHING_LEFT, waitForNoZombies } from './helpers/leftovers.js';
import { attackLimits, profileFor } from './helpers/run-attack.js';

let host: JailHost;
const uids = new Set<number>();
const scratch = join(TEST_STATE_DIR, `escape-${process.pid}`);

beforeAll(async () => {
  host = await testHost();
  mkdirSync(scratch, { recursive: true });
});

afterEach(async () => {
  expect(await leftovers(host, process.pid, uids)).toEqual(NOTHING_LEFT);
});

afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  expect(await waitForNoZombies(uids, host.config.stateDir)).toEqual([]);
});

async function spec(command: { argv: string[] } | { script: string }, programs: string[] = [], extra: Partial<JailSpec> = {}): Promise<JailSpec> {
  const profile = await profileFor(host, programs);
  return { ...withAttackOnPath(shellSpec(profile, { command, limits: attackLimits(), extraMounts: [attackMount()] })), ...extra };
}

type OnStart = (info: { cgroupProcsFiles: readonly string[]; hostUid: number }) => void;

async function run(jailSpec: JailSpec, onStart: OnStart = () => {}, workspace?: Awaited<ReturnType<JailHost['createWorkspace']>>): Promise<RunResult> {
  return host.run(jailSpec, workspace, {
    onStart: (info) => {
      uids.add(info.hostUid);
      onStart(info);
    },
  });
}

function uidsOfPid(pid: number): number[] | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return /^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/).map(Number);
  } catch {
    return undefined; // exited between listing and reading
  }
}

describe('host secrets', () => {
  it('host_environment_variable_is_absent_in_jail', async () => {
    const canary = `confine-canary-${randomBytes(12).toString('hex')}`;
    process.env.CONFINE_TEST_CANARY = canary;
    try {
      const result = await run(await spec({ argv: [ATTACK_IN_JAIL, 'env'] }));
      expect(result.exit_reason).toBe('exited');
      expect(result.stdout).not.toContain(canary);
      const names = result.stdout.split('\n').slice(1).filter(Boolean).map((line) => line.split('=')[0]).sort();
      // bubblewrap adds PWD after --chdir; nothing else beyond the profile's own environment.
      expect(names).toEqual(['HOME', 'LC_ALL', 'LOGNAME', 'PATH', 'PWD', 'TMPDIR', 'USER']);
      expect(result.stdout).toContain('\nPWD=/workspace\n');
    } finally {
      delete process.env.CONFINE_TEST_CANARY;
    }
  });
});

describe('filesystem', () => {
  it('write_outside_workspace_leaves_nothing_on_host', async () => {
    const name = `confine-escape-${randomBytes(6).toString('hex')}`;
    const targets = [`/etc/${name}`, `/${name}`, `/usr/bin/${name}`, `/workspace/../${name}`];
    const script = targets.map((t) => `attack write ${t} 16`).join('; ');
    const result = await run(await spec({ script }));
    expect(result.stdout.trim().split('\n')).toEqual(targets.map(() => 'attempt=write written=0 errno=EROFS'));
    for (const target of targets) expect(existsSync(resolve(target))).toBe(false);
  });

  it('fill_tmp_does_not_touch_host_disk', async () => {
    const before = statfsSync(TEST_STATE_DIR);
    const jailSpec = await spec({ argv: [ATTACK_IN_JAIL, 'write', '/tmp/fill', String(64 * MiB)] });
    jailSpec.limits = { ...jailSpec.limits, tmpfsBytes: 8 * MiB, fileSizeBytes: 128 * MiB };
    const result = await run(jailSpec);
    const after = statfsSync(TEST_STATE_DIR);
    expect(parseAttackLine(result.stdout).errno).toBe('ENOSPC');
    expect(Number(parseAttackLine(result.stdout).written)).toBeLessThanOrEqual(jailSpec.limits.tmpfsBytes);
    // Had the 64 MiB gone to the host's disk, free space would have dropped by that much.
    const droppedBytes = (before.bavail - after.bavail) * before.bsize;
    expect(droppedBytes).toBeLessThan(32 * MiB);
  });

  it('planted_symlinks_are_not_followed_by_seed_or_dispose', async () => {
    const sentinel = join(scratch, `sentinel-${randomBytes(4).toString('hex')}`);
    mkdirSync(sentinel);
    writeFileSync(join(sentinel, 'keep'), 'host data');
    const workspace = await host.createWorkspace({ sizeBytes: 8 * MiB, maxInodes: 1000 });
    try {
      const script = [
        `attack symlink ${sentinel} /workspace/evil`,
        `attack symlink ${sentinel}/keep /workspace/keep-link`,
        'attack symlink /etc /workspace/etc',
        `attack symlink ${sentinel} /tmp/evil`,
        'attack symlink / /tmp/root',
      ].join(' && ');
      const result = await run(await spec({ script }), () => {}, workspace);
      expect(result.stdout.match(/result=ok/g)).toHaveLength(5);
      // Judge0 CVE-2024-28185: root writing into a used workspace would follow the tenant's links.
      await expect(workspace.seed([{ path: 'evil/planted', content: 'x' }])).rejects.toThrow(/already used/);
      await expect(workspace.seed([{ path: 'keep-link', content: 'overwritten' }])).rejects.toThrow(/already used/);
    } finally {
      await workspace.dispose();
    }
    expect(readdirSync(sentinel)).toEqual(['keep']);
    expect(readFileSync(join(sentinel, 'keep'), 'utf8')).toBe('host data');
    expect(existsSync('/etc/planted')).toBe(false);
    expect(existsSync(workspace.hostPath)).toBe(false);
  });
});

describe('privilege', () => {
  it('setuid_root_binary_gains_no_privilege', async () => {
    attackBinary();
    const suid = join(scratch, 'attack-suid');
    copyFileSync(attackBinary(), suid);
    chmodSync(suid, 0o4755); // owned by root (the test runs as root): a real setuid-root binary
    const jailSpec = await spec({ script: 'attack-suid ids; attack-suid setuid0' });
    jailSpec.mounts = [...jailSpec.mounts, attackMount(suid, `${ATTACK_DIR_IN_JAIL}/attack-suid`)];
    const result = await run(jailSpec);
    expect(result.stdout).toBe('attempt=ids ruid=1000 euid=1000 suid=1000\nattempt=setuid0 errno=EPERM\n');
  });

  it('jailed_processes_never_run_as_host_root', async () => {
    let files: readonly string[] = [];
    let leased = -1;
    const running = run(await spec({ script: 'sleep 2' }, ['sleep']), (info) => {
      files = info.cgroupProcsFiles;
      leased = info.hostUid;
    });
    // bwrap monitor + pid-1 init + sh + sleep: once sleep exists the launcher has dropped root.
    await waitForPids(() => files, 4);
    const samples: number[][] = [];
    for (let i = 0; i < 10; i++) {
      for (const pid of await pidsOf(files)) {
        const ids = uidsOfPid(pid);
        if (ids) samples.push(ids);
      }
      await sleep(50);
    }
    await running;
    expect(samples.length).toBeGreaterThanOrEqual(40);
    for (const ids of samples) {
      expect(ids).toEqual([leased, leased, leased, leased]);
    }
    expect(leased).toBeGreaterThan(0);
  });
});

describe('host unix sockets', () => {
  let server: Server;
  let abstractServer: Server;
  let connections = 0;
  const path = join('/tmp', `confine-host-${process.pid}.sock`);
  const abstractName = `confine-host-${process.pid}-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    rmSync(path, { force: true });
    server = createServer(() => connections++);
    abstractServer = createServer(() => connections++);
    await new Promise<void>((done) => server.listen(path, done));
    await new Promise<void>((done) => abstractServer.listen(`\0${abstractName}`, done));
  });

  afterAll(async () => {
    await new Promise((done) => server.close(done));
    await new Promise((done) => abstractServer.close(done));
  });

  it('host_listeners_accept_a_host_connection_control', async () => {
    // Control: the listeners work, so "no connection" below is the jail's doing.
    const { connect } = await import('node:net');
    for (const address of [path, `\0${abstractName}`]) {
      await new Promise<void>((done, fail) => connect(address).on('connect', function (this: import('node:net').Socket) { this.destroy(); done(); }).on('error', fail));
    }
    await sleep(50);
    expect(connections).toBe(2);
    connections = 0;
  });

  it('connect_to_host_unix_socket_under_terraform_profile_fails', async () => {
    // The terraform profile allows AF_UNIX (provider gRPC), so only the jail's filesystem and network
    // namespace stand between the tenant and the host's sockets.
    const script = `attack connect_unix ${path}; attack connect_unix @${abstractName}`;
    const result = await run(await spec({ script }, [], { seccompProfile: 'terraform' }));
    expect(result.stdout).toBe('attempt=connect_unix stage=connect errno=ENOENT\nattempt=connect_unix stage=connect errno=ECONNREFUSED\n');
    await sleep(50);
    expect(connections).toBe(0);
  });

  it('connect_to_host_unix_socket_under_shell_profile_fails_at_socket', async () => {
    const script = `attack connect_unix ${path}; attack connect_unix @${abstractName}`;
    const result = await run(await spec({ script }));
    expect(result.stdout).toBe('attempt=connect_unix stage=socket errno=EAFNOSUPPORT\n'.repeat(2));
    await sleep(50);
    expect(connections).toBe(0);
  });
});

describe('cross-job', () => {
  it('concurrent_jails_cannot_see_each_others_files_or_processes', async () => {
    const secret = `secret-${randomBytes(8).toString('hex')}`;
    let filesA: readonly string[] = [];
    let files: readonly string[] = [];
    let workspaceA = '';
    const workspace = await host.createWorkspace({ sizeBytes: 8 * MiB, maxInodes: 1000 });
    workspaceA = workspace.hostPath;
    try {
      const jobA = run(
        await spec({ script: `attack write /workspace/${secret} 16 && attack write /tmp/${secret} 16 && sleep 3 && attack read /workspace/${secret}` }, ['sleep']),
        (info) => (files = info.cgroupProcsFiles),
        workspace,
      );
      const pidsA = await waitForPids(() => files, 4);
      filesA = files;
      const jobB = await run(
        await spec({
          script: [
            `attack read /workspace/${secret}`,
            `attack read /tmp/${secret}`,
            `attack read ${workspaceA}/${secret}`,
            `attack probe_pids ${pidsA.join(' ')}`,
            'attack kill_all',
          ].join('; '),
        }),
      );
      const resultA = await jobA;
      expect(jobB.stdout.split('\n').slice(0, 4)).toEqual([
        'attempt=read errno=ENOENT',
        'attempt=read errno=ENOENT',
        'attempt=read errno=ENOENT',
        'attempt=probe_pids visible=0',
      ]);
      // kill(-1) reaches only B's own namespace: A finishes normally and still reads its file.
      expect(resultA.exit_reason).toBe('exited');
      expect(resultA.exit_code).toBe(0);
      expect(resultA.stdout).toContain('attempt=read result=ok bytes=16');
      expect(filesA.length).toBeGreaterThan(0);
    } finally {
      await workspace.dispose();
    }
  });
});
