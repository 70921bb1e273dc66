// The jail agent on its own (native/jail-agent.c through src/jail/agent/client.ts), with plain host
// programs instead of bubblewrap so every step it owns can be observed: descriptors, identity,
// capabilities, rlimits, cgroup entry, kill, parent death, mounts. Jails through it are covered by the rest
// of tests/jail.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_BINARY, JailAgent, type LaunchRequest } from '../../src/jail/agent/client.js';
import { EventDecoder, encodeSpawn } from '../../src/jail/agent/protocol.js';
import { detectCgroups } from '../../src/jail/cgroup/index.js';
import { processAlive } from '../../src/jail/liveness.js';

const UID = 1_950_199_901;
const BASH = '/usr/bin/bash';
const PIDS_ROOT = '/sys/fs/cgroup/pids';
/** cgroup v1 (this host): a bare group in the pids hierarchy. cgroup v2 (make test-v2): a real job group. */
const V1 = existsSync(join(PIDS_ROOT, 'cgroup.procs'));

let agent: JailAgent;
let scratch: string;

/**
 * Runs `body` with a fresh cgroup of its own that has a pids controller (removed afterwards, once its last
 * member has gone). On v1 it sits at the pids hierarchy's root; on v2 it is made by the service's own v2
 * driver below the delegated cgroup (a bare group at the v2 root would not get the pids controller).
 */
async function withPidsGroup(name: string, body: (group: string) => Promise<void>): Promise<void> {
  const groupName = `confine-agent-${name}-${process.pid}`;
  let group = join(PIDS_ROOT, groupName);
  let removeV2: (() => Promise<void>) | undefined;
  if (V1) {
    mkdirSync(group);
  } else {
    const driver = await detectCgroups(groupName);
    const job = await driver.create('g', { memoryBytes: 256 << 20, maxPids: 1000, cpuCores: 1 });
    group = dirname(job.procsFiles[0]!);
    removeV2 = async () => {
      await job.remove();
      rmdirSync(driver.roots[0]!);
    };
  }
  try {
    await body(group);
  } finally {
    for (let i = 0; i < 100 && readFileSync(join(group, 'cgroup.procs'), 'utf8') !== ''; i++) await sleep(10);
    if (removeV2) await removeV2();
    else rmdirSync(group);
  }
}

function launch(script: string, overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  return {
    uid: UID,
    gid: UID,
    rlimits: { cpuSoftSeconds: 5, cpuHardSeconds: 6, fileSizeBytes: 1 << 20, openFiles: 64, coreBytes: 0, processes: 1000 },
    argv: [BASH, '--noprofile', '--norc', '-c', script],
    dataFiles: [],
    stdin: '',
    ...overrides,
  };
}

async function run(request: LaunchRequest, procsFiles: readonly string[] = []): Promise<{ stdout: string; stderr: string; code: number | null; signal: string | null; failure?: string }> {
  const child = agent.spawn(procsFiles, request);
  let stdout = '';
  let stderr = '';
  child.onOutput((stream, chunk) => (stream === 1 ? (stdout += chunk.toString()) : (stderr += chunk.toString())));
  const exit = await child.exited;
  return { stdout, stderr, ...exit };
}

beforeAll(() => {
  agent = new JailAgent();
  scratch = mkdtempSync(join(tmpdir(), 'confine-agent-'));
});

afterAll(async () => {
  await agent.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('protocol', () => {
  it('decoder_reassembles_events_split_anywhere', () => {
    const frame = (type: number, id: number, body: Buffer): Buffer => {
      const head = Buffer.alloc(9);
      head.writeUInt32LE(5 + body.length, 0);
      head.writeUInt8(type, 4);
      head.writeUInt32LE(id, 5);
      return Buffer.concat([head, body]);
    };
    const output = Buffer.alloc(8 + 3);
    output.writeUInt32LE(2, 0);
    output.writeUInt32LE(3, 4);
    output.write('abc', 8);
    const exit = Buffer.alloc(8);
    exit.writeInt32LE(-1, 0);
    exit.writeInt32LE(9, 4);
    const stream = Buffer.concat([frame(3, 7, output), frame(5, 7, exit)]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new EventDecoder();
      const events = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      expect(events).toEqual([
        { type: 'output', id: 7, stream: 2, chunk: Buffer.from('abc') },
        { type: 'exit', id: 7, code: null, signal: 9 },
      ]);
    }
  });

  it('spawn_frame_carries_argv_as_separate_strings', () => {
    const frame = encodeSpawn(3, false, ['/cg/cgroup.procs'], launch('echo', { argv: ['/bin/x', 'a --bind / /host', ''] }));
    expect(frame.readUInt32LE(0)).toBe(frame.length - 4);
    expect(frame.subarray(9).includes(Buffer.from('a --bind / /host'))).toBe(true);
  });
});

describe('launcher', () => {
  it('jail_gets_exactly_its_descriptors_at_the_requested_numbers', async () => {
    const result = await run(
      launch('cat <&5; cat <&9; cat; ls /proc/self/fd | tr "\\n" " "', {
        dataFiles: [
          { fd: 5, content: 'five\n' },
          { fd: 9, content: Buffer.from('nine\n') },
        ],
        stdin: 'from-stdin\n',
      }),
    );
    expect(result.code).toBe(0);
    // 0-2, the two data pipes, and 3: the directory ls itself opens. Nothing from node or the agent.
    expect(result.stdout).toBe('five\nnine\nfrom-stdin\n0 1 2 3 5 9 ');
  });

  it('hundreds_of_descriptors_arrive_in_several_messages', async () => {
    const dataFiles = Array.from({ length: 300 }, (_, i) => ({ fd: 10 + i, content: `${i}\n` }));
    const result = await run(launch('cat <&10; cat <&309; ls /proc/self/fd | wc -l', { dataFiles, rlimits: { ...launch('').rlimits, openFiles: 400 } }));
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('0\n299\n304\n'); // 3 stdio + 300 data + the directory ls reads
  });

  it('jail_runs_unprivileged_without_capabilities_groups_or_new_privileges', async () => {
    const result = await run(launch('id -u; id -g; grep -E "^(Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):" /proc/self/status | tr -s "\\t " " "'));
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `${UID}\n${UID}\nGroups: \nCapInh: 0000000000000000\nCapPrm: 0000000000000000\nCapEff: 0000000000000000\n` +
        'CapBnd: 0000000000000000\nCapAmb: 0000000000000000\nNoNewPrivs: 1\n',
    );
  });

  it('rlimits_are_applied', async () => {
    const result = await run(launch('ulimit -S -t; ulimit -H -t; ulimit -f; ulimit -n; ulimit -c; ulimit -u', {
      rlimits: { cpuSoftSeconds: 3, cpuHardSeconds: 4, fileSizeBytes: 2048 * 1024, openFiles: 77, coreBytes: 0, processes: 123 },
    }));
    expect(result.stdout).toBe('3\n4\n2048\n77\n0\n123\n'); // bash reports RLIMIT_FSIZE in 1024-byte blocks
  });

  it('environment_is_empty', async () => {
    process.env.CONFINE_AGENT_TEST_SECRET = 'should-not-pass';
    try {
      const result = await run(launch('env | grep -v -E "^(PWD|SHLVL|_)=" | wc -l'));
      expect(result.stdout).toBe('0\n');
    } finally {
      delete process.env.CONFINE_AGENT_TEST_SECRET;
    }
  });

  it('no_process_state_of_the_service_reaches_the_jail', async () => {
    // The service's working directory, umask and priority are its own; the jail starts from neutral ones.
    const result = await run(launch('pwd; umask; cat /proc/self/oom_score_adj; nice'));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('/\n0022\n0\n0\n');
    expect(process.cwd()).not.toBe('/');
  });

  it('the_jail_does_not_possess_the_services_session_keyring', async () => {
    // An agent started inside a named session keyring (as a service under pam_keyinit would be): the
    // jail's session keyring must be a fresh anonymous one, not that one.
    const keyctl = `import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
nr = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
def describe():
    serial = libc.syscall(nr, 0, -3, 0)  # KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING
    buf = ctypes.create_string_buffer(256)
    libc.syscall(nr, 6, serial, buf, 256)  # KEYCTL_DESCRIBE: type;uid;gid;perm;description
    return buf.value.decode().split(";")[-1]
`;
    const wrapper = join(scratch, 'agent-in-keyring');
    writeFileSync(wrapper, `#!/usr/bin/python3\n${keyctl}if libc.syscall(nr, 1, b"confine-service-keyring") < 0: sys.exit("join failed")\nos.execv("${AGENT_BINARY}", ["confine-jail-agent"])\n`, { mode: 0o755 });
    const own = new JailAgent(wrapper);
    try {
      chmodSync(scratch, 0o711); // the jail's uid reads the probe
      const probe = join(scratch, 'keyring-probe.py');
      writeFileSync(probe, `${keyctl}print(describe())\n`, { mode: 0o644 });
      const result = await runWith(own, launch(`/usr/bin/python3 ${probe}`));
      expect(result.stdout).toBe('_ses\n');
    } finally {
      await own.close();
    }
  });

  it('refuses_host_root', async () => {
    for (const identity of [{ uid: 0, gid: UID }, { uid: UID, gid: 0 }]) {
      const result = await run(launch('echo ran', identity));
      expect(result.stdout).toBe('');
      expect(result.code).toBe(125);
      expect(result.failure).toContain('refusing to run a jail as host root');
    }
  });

  it('refuses_a_relative_program_and_reports_exec_failure', async () => {
    expect((await run(launch('', { argv: ['bash', '-c', 'echo ran'] }))).failure).toContain('malformed argv');
    const missing = await run(launch('', { argv: ['/nonexistent/program'] }));
    expect(missing.code).toBe(125);
    expect(missing.failure).toContain('/nonexistent/program');
  });

  it('enters_the_cgroup_before_the_program_runs', async () => {
    await withPidsGroup('test', async (group) => {
      writeFileSync(join(group, 'pids.max'), '5');
      const result = await run(launch(`cat /proc/self/cgroup | grep -c "/confine-agent-test-${process.pid}"; for i in 1 2 3 4 5 6; do sleep 1 & done; wait`), [join(group, 'cgroup.procs')]);
      expect(result.stdout.split('\n')[0]).toBe('1');
      expect(result.stderr).toMatch(/fork|Resource temporarily unavailable/); // pids.max held inside the group
    });
  });

  it('a_cgroup_that_cannot_be_entered_fails_the_run_without_running_it', async () => {
    const result = await run(launch('echo ran'), ['/sys/fs/cgroup/pids/does-not-exist/cgroup.procs']);
    expect(result.stdout).toBe('');
    expect(result.code).toBe(125);
    expect(result.failure).toContain('does-not-exist/cgroup.procs');
  });

  it('kill_ends_the_run', async () => {
    const child = agent.spawn([], launch('echo started; exec sleep 60'));
    child.onOutput(() => child.kill());
    const exit = await child.exited;
    expect(exit.signal).toBe('SIGKILL');
  });
});

describe('prepared launchers', () => {
  it('prepared_launcher_waits_in_its_cgroup_then_runs', async () => {
    await withPidsGroup('prep', async (group) => {
      const prepared = await agent.prepare([join(group, 'cgroup.procs')]);
      expect(readFileSync(join(group, 'cgroup.procs'), 'utf8').trim().split('\n')).toHaveLength(1);
      expect(prepared.waiting).toBe(true);
      const child = prepared.spawn(launch('id -u'));
      let stdout = '';
      child.onOutput((_, chunk) => (stdout += chunk.toString()));
      expect((await child.exited).code).toBe(0);
      expect(stdout).toBe(`${UID}\n`);
      expect(() => prepared.spawn(launch('id -u'))).toThrow(/no longer waiting/);
    });
  });

  it('a_launcher_killed_while_idle_fails_the_run_it_is_handed_as_a_setup_failure', async () => {
    await withPidsGroup('dead', async (group) => {
      const prepared = await agent.prepare([join(group, 'cgroup.procs')]);
      const [pid] = readFileSync(join(group, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number);
      // Killed and handed a run in the same tick: node has not heard of the death, the agent may or may not
      // have. Either order must end as a setup failure, never as the program's result.
      process.kill(pid!, 'SIGKILL');
      const exit = await prepared.spawn(launch('echo ran')).exited;
      expect(exit.failure).toMatch(/died before it was handed the run|died before it took the run|no longer waiting|could not hand the run/);
    });
  });

  it('release_kills_an_unused_launcher_and_a_bad_cgroup_rejects', async () => {
    await withPidsGroup('rel', async (group) => {
      const prepared = await agent.prepare([join(group, 'cgroup.procs')]);
      await prepared.release();
      expect(prepared.waiting).toBe(false);
      expect(readFileSync(join(group, 'cgroup.procs'), 'utf8')).toBe('');
    });
    await expect(agent.prepare(['/sys/fs/cgroup/pids/does-not-exist/cgroup.procs'])).rejects.toThrow(/could not start a launcher/);
  });
});

describe('lifetime', () => {
  it('closing_the_agent_kills_what_it_runs', async () => {
    const own = new JailAgent();
    const child = own.spawn([], launch('echo $$; exec sleep 60'));
    const pid = await new Promise<number>((resolve) => child.onOutput((_, chunk) => resolve(Number(chunk.toString().trim()))));
    expect(processAlive(pid)).toBe(true);
    await own.close();
    const exit = await child.exited;
    expect(exit.failure ?? exit.signal).toBeTruthy();
    for (let i = 0; i < 100 && processAlive(pid); i++) await sleep(20);
    expect(processAlive(pid)).toBe(false);
  });

  it('a_killed_agent_fails_its_runs_and_is_replaced_on_the_next_request', async () => {
    const own = new JailAgent();
    expect((await runWith(own, launch('echo one'))).stdout).toBe('one\n');
    const child = own.spawn([], launch('exec sleep 60'));
    await sleep(100);
    process.kill(own.pid!, 'SIGKILL');
    const exit = await child.exited;
    expect(exit.failure).toMatch(/jail agent ended/);
    expect((await runWith(own, launch('echo two'))).stdout).toBe('two\n');
    await own.close();
  });
});

describe('mounts', () => {
  it('mounts_and_unmounts_a_tmpfs_and_tolerates_a_plain_directory', async () => {
    const target = join(scratch, 'mnt');
    mkdirSync(target);
    await agent.mountTmpfs(target, 'size=1048576,mode=0700', 0x2 | 0x4 | 0x8);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toContain(` ${target} `);
    await agent.unmount(target);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(` ${target} `);
    await agent.unmount(target); // not mounted: nothing to do
    await expect(agent.mountTmpfs(join(scratch, 'missing'), 'size=1m', 0)).rejects.toThrow(/mount tmpfs/);
  });
});

describe('doors', () => {
  const DOOR_UID = 1_950_199_902;
  const PORT = 48_123;
  const doorRequest = { socketPath: '/run/confine-test-no-proxy.sock', port: PORT, uid: DOOR_UID, gid: DOOR_UID };
  /** Local TCP listeners of a network namespace, as `address:port` in /proc/<pid>/net/tcp's hex. */
  const listeners = (pid: number | 'self'): string[] =>
    readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1).filter((l) => l.trim().split(/\s+/)[3] === '0A').map((l) => l.trim().split(/\s+/)[1]!);
  const status = (pid: number): Record<string, string> =>
    Object.fromEntries(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').map((l) => l.split(/:\s*/, 2) as [string, string]));

  // Reading another uid's /proc/<pid>/{ns,fd,status} takes CAP_SYS_PTRACE, which the container leg's seven
  // capabilities do not include: there the door is inspected from inside (what a joined program sees) and by
  // door.test.ts's behaviour; on the host and in the cgroup v2 guest, also from outside.
  const CAP_SYS_PTRACE = 19n;
  const canInspect = (BigInt(`0x${status(process.pid).CapEff ?? '0'}`) >> CAP_SYS_PTRACE) & 1n ? true : false;

  it.skipIf(!canInspect)('door_listens_only_in_its_own_namespace_as_an_unprivileged_uid_holding_nothing_else', async () => {
    const door = await agent.openDoor(doorRequest);
    try {
      expect(readlinkSync(`/proc/${door.pid}/ns/net`)).not.toBe(readlinkSync('/proc/self/ns/net'));
      const port = PORT.toString(16).toUpperCase().padStart(4, '0');
      expect(listeners(door.pid)).toEqual([`0100007F:${port}`]); // 127.0.0.1:PORT and nothing else
      expect(listeners('self')).not.toContain(`0100007F:${port}`);
      const s = status(door.pid);
      expect(s.Uid!.split(/\s+/)).toEqual(Array(4).fill(String(DOOR_UID)));
      expect(s.Gid!.split(/\s+/)).toEqual(Array(4).fill(String(DOOR_UID)));
      expect(s.Groups).toBe('');
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(s[set], set).toBe('0000000000000000');
      expect(s.NoNewPrivs).toBe('1');
      // Descriptors: /dev/null on stdio, the listener, its epoll; nothing of the agent or the service. Its
      // ready message (with its namespace) is sent just before it closes that namespace and its control
      // socket, so the steady state is read once those two are gone (a few ms; bounded at 2 s).
      const descriptors = (): string[] => readdirSync(`/proc/${door.pid}/fd`).map((fd) => readlinkSync(`/proc/${door.pid}/fd/${fd}`));
      let fds = descriptors();
      for (let i = 0; i < 200 && fds.length > 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        fds = descriptors();
      }
      expect(fds.slice(0, 3)).toEqual(['/dev/null', '/dev/null', '/dev/null']);
      expect(fds.slice(3).map((target) => target.replace(/\d+/, 'N')).sort()).toEqual(['anon_inode:[eventpoll]', 'socket:[N]']);
    } finally {
      door.kill();
      await door.exited;
    }
    expect(processAlive(door.pid)).toBe(false);
  });

  it('the_agent_refuses_a_door_as_root_on_a_relative_path_or_port_zero', async () => {
    // Straight to the agent, past the TypeScript checks (src/jail/door.ts): the C side refuses on its own.
    await expect(agent.openDoor({ ...doorRequest, uid: 0 })).rejects.toMatchObject({ detail: expect.stringMatching(/root/) });
    await expect(agent.openDoor({ ...doorRequest, gid: 0 })).rejects.toMatchObject({ detail: expect.stringMatching(/root/) });
    await expect(agent.openDoor({ ...doorRequest, socketPath: 'relative.sock' })).rejects.toMatchObject({ detail: expect.stringMatching(/absolute/) });
    await expect(agent.openDoor({ ...doorRequest, socketPath: `/${'x'.repeat(120)}` })).rejects.toMatchObject({ detail: expect.stringMatching(/sun_path/) });
    await expect(agent.openDoor({ ...doorRequest, port: 0 })).rejects.toMatchObject({ detail: expect.stringMatching(/port/) });
  });

  it('a_launcher_joins_a_doors_namespace_only_when_it_is_a_live_door', async () => {
    const door = await agent.openDoor(doorRequest);
    try {
      const joined = await run(launch('readlink /proc/self/ns/net; cat /proc/self/net/tcp', { netnsPath: `/proc/${door.pid}/ns/net` }));
      const [joinedNamespace, ...tcp] = joined.stdout.trim().split('\n');
      if (canInspect) expect(joinedNamespace).toBe(readlinkSync(`/proc/${door.pid}/ns/net`));
      // Seen from inside: the door's listener, 127.0.0.1:PORT, and nothing else listens there.
      const port = PORT.toString(16).toUpperCase().padStart(4, '0');
      expect(tcp.slice(1).filter((l) => l.trim().split(/\s+/)[3] === '0A').map((l) => l.trim().split(/\s+/)[1])).toEqual([`0100007F:${port}`]);
      expect(joinedNamespace).not.toBe(readlinkSync('/proc/self/ns/net'));
      expect((await run(launch('readlink /proc/self/ns/net'))).stdout.trim()).toBe(readlinkSync('/proc/self/ns/net'));
      for (const netnsPath of ['/proc/1/ns/net', `/proc/${process.pid}/ns/net`, `/proc/${agent.pid}/ns/net`, `/proc/${door.pid}/ns/mnt`, 'relative']) {
        const refused = await run(launch('echo ran', { netnsPath }));
        expect(refused.stdout, netnsPath).toBe('');
        expect(refused.failure, netnsPath).toMatch(/not a live door/);
      }
    } finally {
      door.kill();
      await door.exited;
    }
    const closed = await run(launch('echo ran', { netnsPath: `/proc/${door.pid}/ns/net` }));
    expect(closed.stdout).toBe('');
    expect(closed.failure).toMatch(/not a live door/);
  });

  it('a_prepared_launcher_handed_a_forged_namespace_fails_without_running', async () => {
    await withPidsGroup('door-prepared', async (group) => {
      const prepared = await agent.prepare([join(group, 'cgroup.procs')]);
      const child = prepared.spawn(launch('echo ran', { netnsPath: '/proc/1/ns/net' }));
      let stdout = '';
      child.onOutput((_, chunk) => (stdout += chunk.toString()));
      const exit = await child.exited;
      expect(stdout).toBe('');
      expect(exit.failure).toMatch(/not a live door/);
    });
  });

  it('a_door_dies_with_its_agent', async () => {
    const own = new JailAgent();
    const door = await own.openDoor(doorRequest);
    expect(processAlive(door.pid)).toBe(true);
    await own.close();
    const exit = await door.exited;
    expect(exit.signal ?? exit.failure).toBeTruthy();
    for (let i = 0; i < 250 && processAlive(door.pid); i++) await sleep(20);
    expect(processAlive(door.pid)).toBe(false);
  });

  it('a_door_dies_with_a_killed_agent', async () => {
    // No goodbye from the agent: the door's parent-death signal alone ends it.
    const own = new JailAgent();
    const door = await own.openDoor(doorRequest);
    process.kill(own.pid!, 'SIGKILL');
    expect((await door.exited).failure).toMatch(/jail agent ended/);
    // Orphaned, it is reaped by the host's init, which may take a moment (native/jail-agent.c, subreaper).
    for (let i = 0; i < 250 && processAlive(door.pid); i++) await sleep(20);
    expect(processAlive(door.pid)).toBe(false);
    await own.close();
  });
});

async function runWith(own: JailAgent, request: LaunchRequest): Promise<{ stdout: string }> {
  const child = own.spawn([], request);
  let stdout = '';
  child.onOutput((_, chunk) => (stdout += chunk.toString()));
  await child.exited;
  return { stdout };
}
