// The jail-level attack catalogue as data, shared by tests/jail/containment.test.ts and
// `npm run containment-report`. Each entry is one attack against a real jail and the exact outcome that
// means "contained". Attacks that need host-side set-up (listeners, concurrent jails, parent death,
// planted symlinks) live in their own tests and are listed in docs/threat-model.md.
import { MiB } from '../../src/jail/limits.js';
import type { ExitReason, JailLimits, SeccompProfileName } from '../../src/jail/spec.js';

export interface AttackCase {
  /** Test name: `<behaviour>_<outcome>`. */
  name: string;
  /** The "Jail level" row of shared/threats.md it covers. */
  threat: string;
  /** Arguments to /opt/attack/attack, or a script run under sh (which can call `attack` too). */
  command: { attack: string[] } | { script: string };
  /** Extra host programs in the shell profile (besides sh and the attack helper). */
  programs?: string[];
  /** Seccomp profile to run under; the terraform profile allows AF_UNIX, so it is the stricter test. */
  seccompProfile?: SeccompProfileName;
  limits?: Partial<JailLimits>;
  expected: {
    /** Accepted exit reasons; the first is the one the report names. */
    exitReasons: ExitReason[];
    /** Must match stdout (the helper's result line). */
    stdout?: RegExp;
    stderr?: RegExp;
    truncated?: 'stdout' | 'stderr';
  };
}

const killedBySeccomp = (name: string, threat: string, args: string[]): AttackCase => ({
  name: `${name}_killed_by_seccomp`,
  threat,
  command: { attack: args },
  expected: { exitReasons: ['seccomp'], stdout: new RegExp(`^attempt=${args[0]} $`) },
});

const socketRefused = (family: string, profile: SeccompProfileName): AttackCase => ({
  name: `socket_${family}_under_${profile}_profile_fails_eafnosupport`,
  threat: 'open AF_INET/AF_INET6/AF_NETLINK/AF_PACKET sockets',
  command: { attack: ['socket', family] },
  seccompProfile: profile,
  expected: { exitReasons: ['exited'], stdout: /^attempt=socket errno=EAFNOSUPPORT$/m },
});

export const ATTACKS: readonly AttackCase[] = [
  {
    name: 'fork_bomb_ends_pids_limit',
    threat: 'fork bomb',
    // dash cannot background with `&` without /dev/null; a pipeline forks just as well.
    command: { script: 'f() { f | f; }; f' },
    limits: { maxPids: 16, wallTimeMs: 10_000 },
    expected: { exitReasons: ['pids_limit', 'timeout'] },
  },
  {
    name: 'memory_bomb_ends_memory_limit',
    threat: 'memory bomb',
    command: { attack: ['memory', '4096'] },
    limits: { memoryBytes: 64 * MiB },
    expected: { exitReasons: ['memory_limit'] },
  },
  {
    name: 'shell_string_doubling_ends_memory_limit',
    threat: 'memory bomb',
    command: { script: 'x=aaaaaaaaaaaaaaaa; while :; do x="$x$x"; done' },
    limits: { memoryBytes: 64 * MiB },
    expected: { exitReasons: ['memory_limit'] },
  },
  {
    name: 'cpu_spin_ends_cpu_limit',
    threat: 'CPU spin',
    command: { script: 'while :; do :; done' },
    limits: { cpuTimeMs: 1_000, wallTimeMs: 20_000 },
    expected: { exitReasons: ['cpu_limit'] },
  },
  {
    name: 'sleep_past_wall_time_ends_timeout',
    threat: 'sleep past wall time',
    command: { script: 'sleep 60' },
    programs: ['sleep'],
    limits: { wallTimeMs: 1_000 },
    expected: { exitReasons: ['timeout'] },
  },
  {
    name: 'fill_tmp_fails_enospc',
    threat: 'fill /tmp',
    command: { attack: ['write', '/tmp/fill', String(64 * MiB)] },
    // File size above the tmpfs size, so the quota (not RLIMIT_FSIZE) is what stops it.
    limits: { tmpfsBytes: 8 * MiB, fileSizeBytes: 128 * MiB },
    expected: { exitReasons: ['exited'], stdout: /errno=ENOSPC/ },
  },
  {
    name: 'inode_flood_fails_at_the_inode_quota',
    threat: 'fill /tmp',
    // Empty files cost no blocks, only inodes: the tmpfs nr_inodes quota is what stops this.
    // `true`, not `:`: a failed redirection on a special builtin would end the shell before the echo.
    command: { script: 'i=0; while true > /tmp/f$i; do i=$((i+1)); done; echo created=$i' },
    limits: { wallTimeMs: 30_000 },
    expected: { exitReasons: ['exited'], stdout: /^created=\d{3,5}$/m, stderr: /No space left on device/ },
  },
  {
    name: 'huge_file_ends_file_size_limit',
    threat: 'one huge file (RLIMIT_FSIZE)',
    command: { attack: ['write', '/workspace/huge', String(64 * MiB)] },
    limits: { fileSizeBytes: 1 * MiB },
    expected: { exitReasons: ['file_size_limit'] },
  },
  {
    name: 'stdout_flood_ends_output_limit',
    threat: 'stdout/stderr flood',
    command: { script: 'while :; do echo floodfloodfloodfloodfloodfloodflood; done' },
    limits: { stdoutBytes: 64 * 1024 },
    expected: { exitReasons: ['output_limit'], truncated: 'stdout' },
  },
  {
    name: 'stderr_flood_ends_output_limit',
    threat: 'stdout/stderr flood',
    command: { script: 'while :; do echo floodfloodfloodfloodfloodfloodflood >&2; done' },
    limits: { stderrBytes: 64 * 1024 },
    expected: { exitReasons: ['output_limit'], truncated: 'stderr' },
  },
  {
    name: 'thousands_of_open_files_fail_emfile',
    threat: 'thousands of open files',
    command: { attack: ['open_many', '10000'] },
    limits: { openFiles: 128 },
    // 0, 1, 2 are open, nothing else is inherited: the 126th open fails.
    expected: { exitReasons: ['exited'], stdout: /^attempt=open_many opened=125 errno=EMFILE$/m },
  },
  ...[
    ['/etc/shadow', 'read_etc_shadow'],
    ['/root/.bashrc', 'read_root_home'],
    ['/proc/1/environ', 'read_proc_1_environ'],
    ['/proc/self/environ', 'read_proc_self_environ'],
    ['/sys/kernel/notes', 'read_sys'],
    ['/dev/mem', 'read_dev_mem'],
  ].map(([path, name]): AttackCase => ({
    name: `${name}_fails_enoent`,
    threat: 'read host secrets (/etc/shadow, /root, host env, /proc/1/environ)',
    command: { attack: ['read', path!] },
    expected: { exitReasons: ['exited'], stdout: /^attempt=read errno=ENOENT$/m },
  })),
  ...[
    ['/etc/confine-escape', 'write_etc'],
    ['/usr/bin/confine-escape', 'write_usr_bin'],
    ['/confine-escape', 'write_root_dir'],
  ].map(([path, name]): AttackCase => ({
    name: `${name}_fails_erofs`,
    threat: 'write outside the workspace',
    command: { attack: ['write', path!, '16'] },
    expected: { exitReasons: ['exited'], stdout: /^attempt=write written=0 errno=EROFS$/m },
  })),
  {
    name: 'write_missing_host_dir_fails_enoent',
    threat: 'write outside the workspace',
    command: { attack: ['write', '/var/tmp/confine-escape', '16'] },
    expected: { exitReasons: ['exited'], stdout: /^attempt=write written=0 errno=ENOENT$/m },
  },
  killedBySeccomp('ptrace_traceme', 'ptrace', ['ptrace_traceme']),
  killedBySeccomp('ptrace_attach_pid1', 'ptrace', ['ptrace_attach']),
  killedBySeccomp('mount', 'mount', ['mount']),
  killedBySeccomp('umount', 'mount', ['umount']),
  killedBySeccomp('unshare_newuser', 'unshare/setns', ['unshare_user']),
  killedBySeccomp('setns', 'unshare/setns', ['setns']),
  killedBySeccomp('clone_newuser', 'unshare/setns', ['clone_newuser']),
  killedBySeccomp('keyctl', 'keyctl', ['keyctl']),
  killedBySeccomp('add_key', 'keyctl', ['add_key']),
  killedBySeccomp('bpf', 'bpf', ['bpf']),
  killedBySeccomp('perf_event_open', 'perf_event_open', ['perf_event_open']),
  killedBySeccomp('io_uring_setup', 'io_uring', ['io_uring_setup']),
  killedBySeccomp('userfaultfd', 'userfaultfd', ['userfaultfd']),
  killedBySeccomp('tiocsti', 'TIOCSTI', ['tiocsti']),
  killedBySeccomp('tiocsti_high_bit', 'TIOCSTI high-bit variant (CVE-2019-10063)', ['tiocsti_highbit']),
  killedBySeccomp('tioclinux', 'TIOCSTI / TIOCLINUX', ['tioclinux']),
  ...(['inet', 'inet6', 'netlink', 'packet'] as const).flatMap((family) => [
    socketRefused(family, 'shell'),
    socketRefused(family, 'terraform'),
  ]),
  {
    name: 'socket_unix_under_shell_profile_fails_eafnosupport',
    threat: 'connect to a host unix socket',
    command: { attack: ['socket', 'unix'] },
    expected: { exitReasons: ['exited'], stdout: /^attempt=socket errno=EAFNOSUPPORT$/m },
  },
  {
    name: 'setuid_zero_fails_eperm',
    threat: 'setuid binaries',
    command: { attack: ['setuid0'] },
    expected: { exitReasons: ['exited'], stdout: /^attempt=setuid0 errno=EPERM$/m },
  },
  {
    name: 'inherited_fds_none_beyond_stdio',
    threat: 'inherited descriptors (host handles leaking into the jail)',
    command: { attack: ['list_fds'] },
    expected: { exitReasons: ['exited'], stdout: /^attempt=list_fds fds=0,1,2$/m },
  },
];

/** Benign controls: the same helper doing allowed things, so a kill above is the policy, not a crash. */
export const CONTROLS: readonly AttackCase[] = [
  {
    name: 'clone_without_namespace_flags_allowed',
    threat: 'control',
    command: { attack: ['clone_plain'] },
    expected: { exitReasons: ['exited'], stdout: /^attempt=clone_plain result=ok value=0$/m },
  },
  {
    name: 'ioctl_fionread_allowed',
    threat: 'control',
    command: { attack: ['ioctl_fionread'] },
    expected: { exitReasons: ['exited'], stdout: /^attempt=ioctl_fionread (result=ok|errno=ENOTTY|errno=EINVAL)/m },
  },
  {
    name: 'write_in_workspace_allowed',
    threat: 'control',
    command: { attack: ['write', '/workspace/ok', '4096'] },
    expected: { exitReasons: ['exited'], stdout: /^attempt=write written=4096 result=ok$/m },
  },
];
