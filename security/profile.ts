// Builds the seccomp profile of the service's own container (Docker/OCI JSON, read by podman, docker,
// containerd and CRI-O) from three disjoint sources, each its own entry with a comment saying why:
//   1. what the service tree was seen calling under the workload (security/trace.ts);
//   2. what the jails' own allowlists let a tenant program call (src/jail/seccomp/policy.ts): the jail's
//      filter decides those, and a container filter denying them would silently change a tenant's run;
//   3. what the container's start needs before the service runs (the runtime's last steps, the
//      entrypoint's shell, mount and privilege drop).
// Everything else fails with EPERM. Escape syscalls the jails kill (ptrace, bpf, io_uring...) stay
// denied here too unless the service itself calls them (mount, unshare, pivot_root for bubblewrap); a
// jail's KILL still wins over this profile's ERRNO, so a jailed attempt is reported as `seccomp` as before.
import { POLICIES } from '../src/jail/seccomp/policy.js';
import { SYSCALL_NUMBERS } from '../src/jail/seccomp/syscalls.generated.js';

export interface SeccompRule {
  names: string[];
  action: 'SCMP_ACT_ALLOW';
  comment: string;
}

export interface SeccompProfile {
  defaultAction: 'SCMP_ACT_ERRNO';
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: SeccompRule[];
}

const EPERM = 1;

/**
 * 64-bit ABIs only: the 32-bit x86 and x32 entry points are the classic way around a filter written for
 * x86_64 names, and nothing in the image is 32-bit.
 */
export const ARCHITECTURES = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'];

/** The container's start: runc/crun's last calls after loading the filter, the entrypoint (sh, mount,
 * chown of its cgroup, setpriv-style privilege changes) before it execs the service. */
export const RUNTIME_BASELINE = [
  'execve', 'execveat', 'capget', 'capset', 'prctl', 'setgroups', 'setresuid', 'setresgid', 'setuid', 'setgid',
  'setfsuid', 'setfsgid', 'chown', 'fchown', 'fchownat', 'lchown', 'mount', 'umount2', 'getpriority', 'setpriority',
  'socket', 'socketpair', 'ioctl', 'clone', 'clone3', 'getdents64', 'newfstatat', 'statx', 'openat', 'close',
  'read', 'write', 'exit_group', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'wait4', 'dup2', 'fcntl',
];

/** Names libseccomp knows (the generated table); strace can print names a runtime would reject. */
export function knownSyscall(name: string): boolean {
  return Object.hasOwn(SYSCALL_NUMBERS.x86_64, name);
}

/** Every syscall a jail's own filter lets a tenant program make, or answers with its own errno. */
export function jailSyscalls(): Set<string> {
  const names = new Set<string>();
  for (const policy of Object.values(POLICIES)) {
    for (const name of policy.allow) names.add(name);
    for (const name of Object.keys(policy.errno)) names.add(name);
    // ioctl, clone and the socket calls are argument-filtered by the jail, so reachable.
    names.add('ioctl');
    names.add('clone');
    if (policy.socketFamilies.length > 0) {
      names.add('socket');
      names.add('socketpair');
    }
  }
  return names;
}

function sorted(names: Iterable<string>, except: ReadonlySet<string>): string[] {
  return [...new Set(names)].filter((name) => knownSyscall(name) && !except.has(name)).sort();
}

export function buildProfile(observed: Iterable<string>): SeccompProfile {
  const seen = new Set(sorted(observed, new Set()));
  const jail = new Set(sorted(jailSyscalls(), seen));
  const baseline = sorted(RUNTIME_BASELINE, new Set([...seen, ...jail]));
  const rules: SeccompRule[] = [
    { names: [...seen], action: 'SCMP_ACT_ALLOW', comment: 'Observed: confine serve, its jail agent, bubblewrap, terraform and the jailed programs under security/workload.ts (make security-profile).' },
    { names: [...jail], action: 'SCMP_ACT_ALLOW', comment: 'Allowed to tenant programs by the jails\' own filters (src/jail/seccomp/policy.ts), which decide them.' },
    { names: baseline, action: 'SCMP_ACT_ALLOW', comment: 'Container start: the runtime\'s last steps and the entrypoint before it execs the service.' },
  ];
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: ARCHITECTURES,
    syscalls: rules.filter((rule) => rule.names.length > 0),
  };
}

/** Every name the profile allows. */
export function allowedNames(profile: SeccompProfile): Set<string> {
  return new Set(profile.syscalls.filter((rule) => rule.action === 'SCMP_ACT_ALLOW').flatMap((rule) => rule.names));
}
