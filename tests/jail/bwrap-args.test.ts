// Golden tests for the pure planning functions: JailSpec -> bubblewrap argv, and the launch chain.
import { describe, expect, it } from 'vitest';
import { bwrapArgs } from '../../src/jail/bwrap-args.js';
import { launchRlimits } from '../../src/jail/launcher.js';
import { DEFAULT_LIMITS, MiB } from '../../src/jail/limits.js';
import type { JailSpec } from '../../src/jail/spec.js';

const spec: JailSpec = {
  argv: ['/usr/bin/sh', '/confine/script.sh'],
  env: { PATH: '/usr/bin', HOME: '/workspace' },
  cwd: '/workspace',
  mounts: [
    { kind: 'ro-bind', source: '/usr/bin/dash', target: '/usr/bin/sh' },
    { kind: 'file', target: '/etc/passwd', content: 'root:x:0:0::/:/x\n' },
    { kind: 'file', target: '/confine/script.sh', content: 'echo hi\n', mode: 0o555 },
    { kind: 'symlink', target: '/bin', linkTo: 'usr/bin' },
    { kind: 'dir', target: '/opt' },
  ],
  workspacePath: '/workspace',
  seccompProfile: 'shell',
  limits: { ...DEFAULT_LIMITS },
};

describe('bwrapArgs', () => {
  it('spec_becomes_the_exact_bubblewrap_argv', () => {
    const plan = bwrapArgs(spec, { workspaceHostPath: '/state/ws/1/workspace', tmpHostPath: '/state/ws/1/tmp', seccompFd: 3, firstDataFd: 4 });
    expect(plan.args).toEqual([
      '--unshare-user', '--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup',
      '--disable-userns', '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
      '--uid', '1000', '--gid', '1000', '--hostname', 'sandbox', '--clearenv',
      '--args', '4',
      '--ro-bind', '/usr/bin/dash', '/usr/bin/sh',
      '--perms', '0444', '--ro-bind-data', '5', '/etc/passwd',
      '--perms', '0555', '--ro-bind-data', '6', '/confine/script.sh',
      '--symlink', 'usr/bin', '/bin',
      '--dir', '/opt',
      '--bind', '/state/ws/1/workspace', '/workspace',
      '--bind', '/state/ws/1/tmp', '/tmp',
      '--remount-ro', '/',
      '--seccomp', '3',
      '--chdir', '/workspace',
      '--', '/usr/bin/sh', '/confine/script.sh',
    ]);
    expect(plan.dataFiles).toEqual(['--setenv\0HOME\0/workspace\0--setenv\0PATH\0/usr/bin\0', 'root:x:0:0::/:/x\n', 'echo hi\n']);
  });

  it('environment_values_never_appear_in_argv', () => {
    // Host users can read every process's argv in /proc/<pid>/cmdline; credentials travel in a pipe.
    const secret = 'AKIA-credential-never-in-argv';
    const plan = bwrapArgs({ ...spec, env: { AWS_SECRET_ACCESS_KEY: secret } }, { workspaceHostPath: '/w', tmpHostPath: '/t', seccompFd: 3, firstDataFd: 4 });
    expect(plan.args.join(' ')).not.toContain(secret);
    expect(plan.args).not.toContain('--setenv');
    expect(plan.dataFiles[0]).toBe(`--setenv\0AWS_SECRET_ACCESS_KEY\0${secret}\0`);
  });

  it('no_try_variants_or_share_flags_ever_appear', () => {
    const { args } = bwrapArgs(spec, { workspaceHostPath: '/w', tmpHostPath: '/t', seccompFd: 3, firstDataFd: 4 });
    // A "-try" unshare silently runs without the namespace; --share-net would give the jail the host network.
    expect(args.filter((a) => a.endsWith('-try') || a.startsWith('--share') || a === '--proc' || a === '--dev')).toEqual([]);
  });

  it('tenant_strings_stay_single_arguments', () => {
    const hostile: JailSpec = { ...spec, env: { 'X': 'a --bind / /host' }, argv: ['/usr/bin/sh', '-c', '--bind / /x'] };
    const { args, dataFiles } = bwrapArgs(hostile, { workspaceHostPath: '/w', tmpHostPath: '/t', seccompFd: 3, firstDataFd: 4 });
    expect(dataFiles[0]).toBe('--setenv\0X\0a --bind / /host\0');
    expect(args.slice(args.indexOf('--') + 1)).toEqual(['/usr/bin/sh', '-c', '--bind / /x']);
    expect(args.filter((a) => a === '--bind')).toHaveLength(2); // workspace and /tmp only
  });
});

describe('launchRlimits', () => {
  it('cpu_soft_then_hard_a_second_later_exact_file_size_and_nproc_above_pids', () => {
    expect(launchRlimits({ ...DEFAULT_LIMITS, cpuTimeMs: 2500, fileSizeBytes: 16 * MiB + 100, openFiles: 128, maxPids: 20 })).toEqual({
      cpuSoftSeconds: 3,
      cpuHardSeconds: 4,
      fileSizeBytes: 16 * MiB + 100,
      openFiles: 128,
      coreBytes: 0,
      processes: 30, // 20 + bubblewrap's 2 + a margin of 8: the pids cgroup is what stops a fork bomb
    });
  });
});
