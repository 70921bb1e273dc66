/*
 * attack: one raw attack per subcommand, for the containment suite. Built statically (cc -static -O2)
 * so it needs no library inside the jail. Every subcommand first prints `attempt=<name>` and then
 * exactly one result line of `key=value` pairs, e.g. `result=ok` or `errno=EPERM`. A syscall the
 * seccomp policy kills never prints a result line: the process dies with SIGSYS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *errname(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EACCES: return "EACCES";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOTTY: return "ENOTTY";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENOSYS: return "ENOSYS";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENETUNREACH: return "ENETUNREACH";
    case EDQUOT: return "EDQUOT";
    case ELOOP: return "ELOOP";
    default: return "EOTHER";
  }
}

static int report(long rc) {
  if (rc < 0) {
    int e = errno;
    printf("errno=%s\n", errname(e));
    return 1;
  }
  printf("result=ok value=%ld\n", rc);
  return 0;
}

static int usage(void) {
  fprintf(stderr, "usage: attack <subcommand> [args]\n");
  return 2;
}

static int family_of(const char *name) {
  if (!strcmp(name, "inet")) return AF_INET;
  if (!strcmp(name, "inet6")) return AF_INET6;
  if (!strcmp(name, "netlink")) return AF_NETLINK;
  if (!strcmp(name, "packet")) return AF_PACKET;
  if (!strcmp(name, "unix")) return AF_UNIX;
  return -1;
}

/* Connects an AF_UNIX stream socket; abstract names start with '@' (a leading NUL byte). */
static int connect_unix(const char *name) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) {
    printf("stage=socket ");
    return report(-1);
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t len = strlen(name);
  if (len >= sizeof addr.sun_path) return usage();
  memcpy(addr.sun_path, name, len);
  if (name[0] == '@') addr.sun_path[0] = '\0';
  printf("stage=connect ");
  return report(connect(fd, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)));
}

/* Opens descriptors until the kernel refuses: the count shows where RLIMIT_NOFILE stopped it. */
static int open_many(long n) {
  long opened = 0;
  for (; opened < n; opened++) {
    if (open("/", O_RDONLY | O_DIRECTORY) < 0) {
      printf("opened=%ld errno=%s\n", opened, errname(errno));
      return 1;
    }
  }
  printf("opened=%ld result=ok\n", opened);
  return 0;
}

/* Lists open descriptors without /proc: F_GETFD on every number below the nofile limit. */
static int list_fds(void) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  printf("fds=");
  const char *sep = "";
  for (long fd = 0; fd < (long)rl.rlim_cur && fd < 65536; fd++) {
    if (fcntl((int)fd, F_GETFD) >= 0) {
      printf("%s%ld", sep, fd);
      sep = ",";
    }
  }
  printf("\n");
  return 0;
}

/* Writes `bytes` bytes to `path` in 64 KiB chunks, reporting how far it got. */
static int write_file(const char *path, long long bytes) {
  static char chunk[65536];
  memset(chunk, 'x', sizeof chunk);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    printf("written=0 ");
    return report(-1);
  }
  long long written = 0;
  while (written < bytes) {
    size_t want = (size_t)((bytes - written) < (long long)sizeof chunk ? (bytes - written) : (long long)sizeof chunk);
    ssize_t n = write(fd, chunk, want);
    if (n < 0) {
      printf("written=%lld errno=%s\n", written, errname(errno));
      return 1;
    }
    written += n;
  }
  printf("written=%lld result=ok\n", written);
  return 0;
}

static int read_path(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return report(-1);
  char buf[4096];
  long total = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
  if (n < 0) return report(-1);
  printf("result=ok bytes=%ld\n", total);
  return 0;
}

/* Touches `mib` MiB page by page so the memory is really charged. */
static int memory_bomb(long mib) {
  for (long i = 0; i < mib; i++) {
    char *p = malloc(1 << 20);
    if (!p) {
      printf("allocated_mib=%ld errno=ENOMEM\n", i);
      return 1;
    }
    memset(p, 1, 1 << 20);
  }
  printf("allocated_mib=%ld result=ok\n", mib);
  return 0;
}

/* Probes host pids given on the command line: another jail's processes must not exist here. */
static int probe_pids(int argc, char **argv) {
  int visible = 0;
  for (int i = 0; i < argc; i++) {
    if (kill((pid_t)atol(argv[i]), 0) == 0) {
      visible++;
    }
  }
  printf("visible=%d\n", visible);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  const char *cmd = argv[1];
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("attempt=%s ", cmd);

  if (!strcmp(cmd, "ids")) {
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    printf("ruid=%d euid=%d suid=%d\n", (int)r, (int)e, (int)s);
    return 0;
  }
  if (!strcmp(cmd, "setuid0")) return report(setuid(0));
  if (!strcmp(cmd, "ptrace_traceme")) return report(syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0));
  if (!strcmp(cmd, "ptrace_attach")) return report(syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0));
  if (!strcmp(cmd, "mount")) return report(syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
  if (!strcmp(cmd, "umount")) return report(syscall(SYS_umount2, "/workspace", MNT_DETACH));
  if (!strcmp(cmd, "unshare_user")) return report(syscall(SYS_unshare, CLONE_NEWUSER));
  if (!strcmp(cmd, "setns")) return report(syscall(SYS_setns, 0, CLONE_NEWNS));
  if (!strcmp(cmd, "clone_newuser")) {
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
    return report(pid);
  }
  if (!strcmp(cmd, "clone_plain")) {
    long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
    return report(pid > 0 ? 0 : pid);
  }
  if (!strcmp(cmd, "keyctl")) return report(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0, 0, 0));
  if (!strcmp(cmd, "add_key")) return report(syscall(SYS_add_key, "user", "confine", "x", 1, -3));
  if (!strcmp(cmd, "bpf")) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    return report(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
  }
  if (!strcmp(cmd, "perf_event_open")) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    return report(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
  }
  if (!strcmp(cmd, "io_uring_setup")) {
    char params[120];
    memset(params, 0, sizeof params);
    return report(syscall(SYS_io_uring_setup, 8, params));
  }
  if (!strcmp(cmd, "userfaultfd")) return report(syscall(SYS_userfaultfd, 0));
  /* The request number is an unsigned long; the kernel truncates it to 32 bits (CVE-2019-10063). */
  if (!strcmp(cmd, "tiocsti")) return report(syscall(SYS_ioctl, 1, 0x5412UL, "x"));
  if (!strcmp(cmd, "tiocsti_highbit")) return report(syscall(SYS_ioctl, 1, 0x5412UL | (1UL << 32), "x"));
  if (!strcmp(cmd, "tioclinux")) {
    char sub = 6; /* TIOCL_GETSHIFTSTATE */
    return report(syscall(SYS_ioctl, 1, 0x541cUL, &sub));
  }
  if (!strcmp(cmd, "ioctl_fionread")) {
    int n = 0;
    return report(syscall(SYS_ioctl, 0, (unsigned long)FIONREAD, &n));
  }
  if (!strcmp(cmd, "socket") && argc == 3) {
    int family = family_of(argv[2]);
    if (family < 0) return usage();
    return report(socket(family, family == AF_PACKET ? SOCK_RAW : SOCK_STREAM, 0));
  }
  if (!strcmp(cmd, "connect_unix") && argc == 3) return connect_unix(argv[2]);
  if (!strcmp(cmd, "open_many") && argc == 3) return open_many(atol(argv[2]));
  if (!strcmp(cmd, "list_fds")) return list_fds();
  if (!strcmp(cmd, "write") && argc == 4) return write_file(argv[2], atoll(argv[3]));
  if (!strcmp(cmd, "read") && argc == 3) return read_path(argv[2]);
  if (!strcmp(cmd, "symlink") && argc == 4) return report(symlink(argv[2], argv[3]));
  if (!strcmp(cmd, "mkdir") && argc == 3) return report(mkdir(argv[2], 0755));
  if (!strcmp(cmd, "env")) {
    printf("\n");
    for (char **e = environ; *e; e++) printf("%s\n", *e);
    return 0;
  }
  if (!strcmp(cmd, "memory") && argc == 3) return memory_bomb(atol(argv[2]));
  if (!strcmp(cmd, "probe_pids")) return probe_pids(argc - 2, argv + 2);
  if (!strcmp(cmd, "kill_all")) return report(kill(-1, SIGKILL));
  if (!strcmp(cmd, "exec") && argc >= 3) {
    execv(argv[2], argv + 2);
    return report(-1);
  }
  return usage();
}
