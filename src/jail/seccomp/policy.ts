// Seccomp policies as data: an explicit allowlist per profile. Anything not listed fails with EPERM;
// the syscalls an escape needs kill the whole process, so an attempt is reported as `seccomp`.

export const ERRNO = { EPERM: 1, ENOSYS: 38, EAFNOSUPPORT: 97 } as const;

export const AF_UNIX = 1;
export const AF_INET = 2;
/** socket(2) types that are a plain TCP stream: SOCK_STREAM, optionally | SOCK_NONBLOCK | SOCK_CLOEXEC. */
export const SOCK_STREAM_TYPES = [0x1, 0x801, 0x80001, 0x80801] as const;
/** Protocols of a stream socket that are TCP: 0 (the default) and IPPROTO_TCP (not SCTP, not MPTCP). */
export const TCP_PROTOCOLS = [0, 6] as const;

/** clone(2) flags that create namespaces (Docker's default profile uses the same mask). */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** Terminal ioctls that inject input or talk to the console: TIOCSTI (CVE-2017-5226), TIOCLINUX. */
export const IOCTL_TIOCSTI = 0x5412;
export const IOCTL_TIOCLINUX = 0x541c;

export interface SeccompPolicy {
  name: string;
  /** Allowed unconditionally. */
  allow: readonly string[];
  /** Allowed only for these address families (socket, socketpair); others get EAFNOSUPPORT. */
  socketFamilies: readonly number[];
  /**
   * Families allowed as TCP streams only (type SOCK_STREAM_TYPES, protocol TCP_PROTOCOLS); any other
   * type or protocol of these families gets EAFNOSUPPORT too (no UDP, no raw, no SCTP).
   */
  streamFamilies?: readonly number[];
  /** ioctl is allowed except for these requests (compared on the low 32 bits, CVE-2019-10063). */
  ioctlKill: readonly number[];
  /** clone is allowed unless a flag in this mask is set. */
  cloneKillFlags: number;
  /** Returned with a specific errno so runtimes fall back gracefully (clone3 -> ENOSYS -> clone). */
  errno: Readonly<Record<string, number>>;
  /** Never allowed; an attempt kills the process with SIGSYS. */
  kill: readonly string[];
  defaultErrno: number;
}

/** Escape and kernel-attack-surface syscalls: ptrace, mounts, namespaces, keyrings, bpf, io_uring... */
export const KILL_SYSCALLS = [
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd',
  'mount', 'umount2', 'pivot_root', 'chroot', 'move_mount', 'open_tree', 'fsopen', 'fsconfig',
  'fsmount', 'fspick', 'mount_setattr',
  'unshare', 'setns',
  'keyctl', 'add_key', 'request_key',
  'bpf', 'perf_event_open', 'userfaultfd',
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module',
  'open_by_handle_at', 'name_to_handle_at',
  'swapon', 'swapoff', 'reboot', 'acct', 'quotactl', 'syslog', 'iopl', 'ioperm',
  'settimeofday', 'clock_settime', 'adjtimex', 'clock_adjtime', 'sethostname', 'setdomainname',
  'lookup_dcookie', 'vhangup', 'nfsservctl', 'uselib', 'fanotify_init',
] as const;

/** What a dynamically linked program, a POSIX shell and coreutils need. No sockets at all. */
const PROCESS_AND_FILES = [
  // memory and program start-up
  'brk', 'mmap', 'munmap', 'mprotect', 'mremap', 'madvise', 'msync', 'mincore',
  'arch_prctl', 'set_tid_address', 'set_robust_list', 'get_robust_list', 'rseq', 'prctl',
  'execve', 'execveat', 'exit', 'exit_group', 'prlimit64', 'getrlimit', 'setrlimit', 'getrandom',
  'uname', 'sysinfo', 'getcpu', 'sched_getaffinity', 'sched_yield', 'sched_getparam',
  'sched_getscheduler', 'membarrier', 'capget',
  // processes (clone is filtered separately)
  'fork', 'vfork', 'wait4', 'waitid', 'kill', 'tkill', 'tgkill',
  'getpid', 'getppid', 'gettid', 'getpgid', 'getpgrp', 'setpgid', 'getsid', 'setsid',
  'getuid', 'geteuid', 'getgid', 'getegid', 'getgroups', 'getresuid', 'getresgid',
  // signals and time
  'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait',
  'rt_sigpending', 'rt_sigqueueinfo', 'sigaltstack', 'pause', 'alarm', 'setitimer', 'getitimer',
  'nanosleep', 'clock_nanosleep', 'clock_gettime', 'clock_getres', 'gettimeofday', 'time', 'times',
  'getrusage', 'futex', 'futex_waitv',
  // descriptors and I/O
  'read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2',
  'pwritev2', 'lseek', 'close', 'close_range', 'dup', 'dup2', 'dup3', 'fcntl', 'pipe', 'pipe2',
  'poll', 'ppoll', 'select', 'pselect6', 'sendfile', 'copy_file_range', 'splice', 'tee',
  'fadvise64', 'flock', 'fsync', 'fdatasync', 'ftruncate', 'fallocate',
  // files and directories
  'open', 'openat', 'openat2', 'creat', 'stat', 'fstat', 'lstat', 'newfstatat', 'statx', 'statfs',
  'fstatfs', 'access', 'faccessat', 'faccessat2', 'readlink', 'readlinkat', 'getdents',
  'getdents64', 'getcwd', 'chdir', 'fchdir', 'mkdir', 'mkdirat', 'rmdir', 'unlink', 'unlinkat',
  'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat', 'chmod', 'fchmod',
  'fchmodat', 'truncate', 'utime', 'utimes', 'utimensat', 'futimesat', 'umask',
  'getxattr', 'lgetxattr', 'fgetxattr', 'listxattr', 'llistxattr', 'flistxattr',
] as const;

/** Go runtime (terraform and its provider plugins) on top of the above: epoll, eventfd, pidfd. */
const GO_RUNTIME = [
  'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2',
  'eventfd', 'eventfd2', 'pidfd_open', 'pidfd_send_signal', 'timer_create', 'timer_settime',
  'timer_gettime', 'timer_delete', 'timerfd_create', 'timerfd_settime', 'timerfd_gettime',
  'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch', 'sync_file_range',
] as const;

/** Provider plugins speak gRPC to terraform over AF_UNIX sockets (the family is filtered). */
const UNIX_SOCKETS = [
  'connect', 'bind', 'listen', 'accept', 'accept4', 'getsockname', 'getpeername', 'getsockopt',
  'setsockopt', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'shutdown',
] as const;

const COMMON = {
  ioctlKill: [IOCTL_TIOCSTI, IOCTL_TIOCLINUX],
  cloneKillFlags: CLONE_NAMESPACE_FLAGS,
  errno: { clone3: ERRNO.ENOSYS },
  kill: KILL_SYSCALLS,
  defaultErrno: ERRNO.EPERM,
} as const;

export const SHELL_POLICY: SeccompPolicy = {
  name: 'shell',
  allow: PROCESS_AND_FILES,
  socketFamilies: [],
  ...COMMON,
};

export const TERRAFORM_POLICY: SeccompPolicy = {
  name: 'terraform',
  allow: [...PROCESS_AND_FILES, ...GO_RUNTIME, ...UNIX_SOCKETS],
  socketFamilies: [AF_UNIX],
  ...COMMON,
};

/**
 * The service's own analysers (node running confine's policy and plan-summary code on a tenant's
 * configuration, src/domains/terraform/analysis): an event loop and threads, no sockets at all. libuv's
 * io_uring stays off (UV_USE_IO_URING=0 in the jail's environment), so it stays a kill here.
 */
export const NODE_POLICY: SeccompPolicy = {
  name: 'node',
  allow: [...PROCESS_AND_FILES, ...GO_RUNTIME],
  socketFamilies: [],
  ...COMMON,
};

/**
 * A Terraform step with a door (issue 11): terraform's profile plus TCP client sockets over IPv4, so the
 * provider can reach the door's listener on 127.0.0.1 (the only address its network namespace has).
 * IPv6, netlink, packet, UDP and raw sockets are still refused.
 */
export const TERRAFORM_EGRESS_POLICY: SeccompPolicy = {
  ...TERRAFORM_POLICY,
  name: 'terraform-egress',
  streamFamilies: [AF_INET],
};

export const POLICIES = {
  shell: SHELL_POLICY,
  terraform: TERRAFORM_POLICY,
  'terraform-egress': TERRAFORM_EGRESS_POLICY,
  node: NODE_POLICY,
} as const;
