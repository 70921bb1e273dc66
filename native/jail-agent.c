// confine-jail-agent: the service's only spawner of jails, one long-lived root process per JailHost.
//
// Why it exists (measured, docs/security.md finding 6): node forks itself for every child_process.spawn,
// ~2 ms of a blocked event loop per exec at the service's size, and a jail used to cost three (a bash +
// setpriv launch chain, mount, umount). This small process forks instead, so node spends no fork on a
// run. A launcher does what that chain did, in the same order, and resets what it should have:
//   fork -> enter the job cgroup (write own pid to each cgroup.procs) -> wait for the run's details ->
//   place the pipes at their descriptors, close every other descriptor -> rlimits -> working directory,
//   umask, priority, oom_score_adj, a fresh session keyring -> drop supplementary groups, bounding set,
//   ambient capabilities -> setresgid/setresuid to the workspace's unprivileged uid -> zero every
//   capability set and check the ids -> no_new_privs -> parent-death signal -> exec bubblewrap with an
//   empty environment.
// It also mounts and unmounts workspace tmpfs with mount(2)/umount2(2) instead of exec'ing mount(8).
// Policy (argv, limits, paths, uids) is decided by the TypeScript side; the agent refuses uid/gid 0, checks
// a request whole before acting on it, and ignores (with a line on stderr) requests that reuse a live id.
//
// Protocol on stdin (requests) / stdout (events), little-endian frames:
//   u32 length-of-rest | u8 type | u32 id | payload
// Payload primitives: u32, u64, bytes = u32 length + data, strs = u32 count + bytes each.
// Requests:
//   PREPARE  strs procsFiles                  fork a launcher and enter its cgroup; -> READY or FAILED
//   SPAWN    u32 prepared | strs procsFiles | bytes exec | u32 n | bytes data x n | bytes stdin
//            exec = u32 uid | u32 gid | u64 rlimit x 6 | u32 n | u32 targetFd x n | strs argv | bytes netns
//            rlimits: cpu soft, cpu hard (s), fsize (bytes), nofile, core, nproc
//            netns: empty, or /proc/<pid>/ns/net of a live door of this agent: the launcher joins it
//            (setns, while still root) and bubblewrap keeps it; any other path fails the run
//            -> STARTED pid, OUTPUT..., [FAILED], EXIT
//   DOOR     bytes socketPath | u32 port | u32 uid | u32 gid
//            a door (issue 11): a process in a fresh network namespace holding only lo (up) and a TCP
//            listener on 127.0.0.1:port; it drops to uid/gid once bound and relays every connection to
//            the unix socket socketPath.  -> STARTED pid (listening), [FAILED], EXIT when it dies
//   KILL     (none)                            SIGKILL the run's launcher/bubblewrap, or the door
//   MOUNT    bytes source | bytes target | bytes fstype | u64 flags | bytes data   -> DONE
//   UMOUNT   bytes target | u32 flags                                             -> DONE
// Events:
//   READY, STARTED u32 pid, OUTPUT u32 stream(1|2) bytes, FAILED bytes message,
//   EXIT i32 code (-1 if signaled) i32 signal, DONE i32 errno bytes message
// When stdin closes (the service ended) every child is killed and the agent exits; it also dies with
// its parent (PR_SET_PDEATHSIG), and bubblewrap dies with the agent (--die-with-parent).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

enum { REQ_PREPARE = 1, REQ_SPAWN = 2, REQ_KILL = 3, REQ_MOUNT = 4, REQ_UMOUNT = 5, REQ_DOOR = 6 };
enum { EV_READY = 1, EV_STARTED = 2, EV_OUTPUT = 3, EV_FAILED = 4, EV_EXIT = 5, EV_DONE = 6 };
// SCM_RIGHTS carries at most 253 descriptors per message; a run's are sent in chunks of FDS_PER_MESSAGE.
enum { MAX_FRAME = 64 * 1024 * 1024, MAX_PASSED_FDS = 1000, FDS_PER_MESSAGE = 250, OUTPUT_CHUNK = 64 * 1024 };
/* In the exec blob: uid, gid and six u64 rlimits precede the count of data descriptors. */
enum { EXEC_NDATA_OFFSET = 4 + 4 + 6 * 8 };

/* ---------- frames out ---------- */

static void write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(3); // the service is gone: nothing to report to
    p += n;
    len -= (size_t)n;
  }
}

struct out { char *data; size_t len, cap; };

static void out_grow(struct out *o, size_t more) {
  if (o->len + more <= o->cap) return;
  size_t cap = o->cap ? o->cap : 256;
  while (cap < o->len + more) cap *= 2;
  o->data = realloc(o->data, cap);
  if (!o->data) _exit(4);
  o->cap = cap;
}
static void out_raw(struct out *o, const void *p, size_t n) { out_grow(o, n); memcpy(o->data + o->len, p, n); o->len += n; }
static void out_u32(struct out *o, uint32_t v) { uint8_t b[4] = {v, v >> 8, v >> 16, v >> 24}; out_raw(o, b, 4); }
static void out_bytes(struct out *o, const void *p, size_t n) { out_u32(o, (uint32_t)n); out_raw(o, p, n); }

static void send_event(uint8_t type, uint32_t id, const struct out *payload) {
  struct out f = {0};
  out_u32(&f, 1 + 4 + (uint32_t)(payload ? payload->len : 0));
  out_raw(&f, &type, 1);
  out_u32(&f, id);
  if (payload) out_raw(&f, payload->data, payload->len);
  write_all(STDOUT_FILENO, f.data, f.len);
  free(f.data);
}

static void send_message(uint8_t type, uint32_t id, const char *fmt, ...) {
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  struct out p = {0};
  out_bytes(&p, text, strlen(text));
  send_event(type, id, &p);
  free(p.data);
}

/* ---------- frames in ---------- */

struct reader { const uint8_t *p, *end; int bad; };

static uint32_t rd_u32(struct reader *r) {
  if (r->end - r->p < 4) { r->bad = 1; return 0; }
  uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
  r->p += 4;
  return v;
}
static uint64_t rd_u64(struct reader *r) { uint64_t lo = rd_u32(r); return lo | (uint64_t)rd_u32(r) << 32; }
static const uint8_t *rd_bytes(struct reader *r, uint32_t *len) {
  *len = rd_u32(r);
  if (r->bad || (size_t)(r->end - r->p) < *len) { r->bad = 1; *len = 0; return NULL; }
  const uint8_t *p = r->p;
  r->p += *len;
  return p;
}
/** A NUL-terminated copy; NUL inside the value is malformed (it would split an argument). */
static char *rd_str(struct reader *r) {
  uint32_t len;
  const uint8_t *p = rd_bytes(r, &len);
  if (r->bad || memchr(p, 0, len)) { r->bad = 1; return NULL; }
  char *s = malloc(len + 1);
  if (!s) _exit(4);
  memcpy(s, p, len);
  s[len] = 0;
  return s;
}
static char **rd_strs(struct reader *r, uint32_t *count) {
  *count = rd_u32(r);
  if (r->bad || *count > 100000) { r->bad = 1; return NULL; }
  char **v = calloc(*count + 1, sizeof *v);
  if (!v) _exit(4);
  for (uint32_t i = 0; i < *count && !r->bad; i++) v[i] = rd_str(r);
  return v;
}
static void free_strs(char **v) {
  if (!v) return;
  for (char **s = v; *s; s++) free(*s);
  free(v);
}

/**
 * The netns path at the end of an exec blob (after argv); *len 0 when there is none. Sets r->bad when
 * the blob is malformed. The agent checks it, and the launcher counts the descriptor it implies.
 */
static const uint8_t *exec_netns(const uint8_t *exec, size_t exec_len, uint32_t *len, int *bad) {
  struct reader r = {exec, exec + exec_len, 0};
  *len = 0;
  if (exec_len < EXEC_NDATA_OFFSET) { *bad = 1; return NULL; }
  r.p += EXEC_NDATA_OFFSET;
  uint32_t ndata = rd_u32(&r);
  for (uint32_t i = 0; !r.bad && i < ndata && i <= MAX_PASSED_FDS; i++) rd_u32(&r);
  uint32_t argc = rd_u32(&r), arg_len;
  for (uint32_t i = 0; !r.bad && i < argc; i++) rd_bytes(&r, &arg_len);
  const uint8_t *netns = r.bad || r.p == r.end ? NULL : rd_bytes(&r, len);
  if (r.bad || ndata > MAX_PASSED_FDS) { *bad = 1; *len = 0; return NULL; }
  return netns;
}

/* ---------- runs ---------- */

/* What an epoll event refers to. Watches live inside their run, which is freed only between batches. */
enum watch_kind { W_CTL, W_OUT1, W_OUT2, W_WRITE };
struct run;
struct watch { struct run *run; enum watch_kind kind; int index; };

struct pending_write { int fd; uint8_t *data; size_t len, off; struct watch watch; };

struct run {
  uint32_t id;
  pid_t pid;
  int ctl;            /* agent end of the launcher's control socket; -1 once the launcher exec'd or died */
  int ready;          /* the launcher is inside its cgroup */
  int taken;          /* a SPAWN was accepted for it (whatever happened next): never a second one */
  int spawned;        /* GO sent */
  int took;           /* the launcher acknowledged the run (so a later death is the run's, not a setup failure) */
  uint8_t *go;        /* a cold SPAWN waits here for READY */
  size_t go_len;
  int go_fds[MAX_PASSED_FDS + 4]; /* stdio, data, and a door's network namespace */
  int go_nfds;
  int output[2];      /* stdout, stderr read ends (-1 at EOF) */
  struct pending_write *writes;
  int nwrites;
  int reaped, status;
  int finished;       /* EXIT sent; freed after the current batch of events */
  int door;           /* a door process, not a launcher: `ready` once it listens */
  int netns;          /* a ready door's network namespace, sent by the door itself (-1: none) */
  struct watch ctl_watch, output_watch[2];
  struct run *next;
};

static int epfd, sigfd;
static struct run *runs, *graveyard;
static pid_t agent_pid;

static struct run *find_run(uint32_t id) {
  for (struct run *r = runs; r; r = r->next) if (r->id == id) return r;
  return NULL;
}
/** The live (not yet reaped) run whose launcher has this pid: a reaped run's pid may already be reused. */
static struct run *find_pid(pid_t pid) {
  for (struct run *r = runs; r; r = r->next) if (r->pid == pid && !r->reaped) return r;
  return NULL;
}

static void watch_fd(int fd, uint32_t events, struct watch *w, struct run *run, enum watch_kind kind, int index) {
  *w = (struct watch){run, kind, index};
  struct epoll_event ev = {.events = events, .data.ptr = w};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) _exit(5);
}

static void unwatch_close(int fd) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
}

/** Launcher ends the agent still holds (a run whose launcher never took them). */
static void close_go(struct run *run) {
  for (int i = 0; i < run->go_nfds; i++) if (run->go_fds[i] >= 0) close(run->go_fds[i]);
  run->go_nfds = 0;
  free(run->go);
  run->go = NULL;
}

/** Unlinks a finished run; its memory lives until the end of the event batch that may still name it. */
static void bury_run(struct run *run) {
  for (struct run **p = &runs; *p; p = &(*p)->next) {
    if (*p == run) { *p = run->next; break; }
  }
  close_go(run);
  if (run->door && run->netns >= 0) { close(run->netns); run->netns = -1; }
  run->finished = 1;
  run->next = graveyard;
  graveyard = run;
}

static void free_graveyard(void) {
  while (graveyard) {
    struct run *run = graveyard;
    graveyard = run->next;
    free(run->writes);
    free(run);
  }
}

/** EXIT once the launcher is reaped, its control socket closed and both outputs at end of file. */
static void maybe_finish(struct run *run) {
  if (!run->reaped || run->ctl >= 0 || run->output[0] >= 0 || run->output[1] >= 0) return;
  for (int i = 0; i < run->nwrites; i++) {
    if (run->writes[i].fd >= 0) { unwatch_close(run->writes[i].fd); run->writes[i].fd = -1; }
    free(run->writes[i].data);
    run->writes[i].data = NULL;
  }
  struct out p = {0};
  int code = WIFEXITED(run->status) ? WEXITSTATUS(run->status) : -1;
  int sig = WIFSIGNALED(run->status) ? WTERMSIG(run->status) : 0;
  out_u32(&p, (uint32_t)code);
  out_u32(&p, (uint32_t)sig);
  send_event(EV_EXIT, run->id, &p);
  free(p.data);
  bury_run(run);
}

/** For requests that never got a launcher: FAILED, then the EXIT every run ends with. */
static void fail_request(uint32_t id, const char *why) {
  send_message(EV_FAILED, id, "%s", why);
  struct out p = {0};
  out_u32(&p, 125);
  out_u32(&p, 0);
  send_event(EV_EXIT, id, &p);
  free(p.data);
}

/* ---------- the launcher (child side) ---------- */

static void launcher_fail(int ctl, const char *what) {
  char text[512];
  int n = snprintf(text, sizeof text, "F%s: %s", what, strerror(errno));
  if (send(ctl, text, (size_t)(n < (int)sizeof text ? n : (int)sizeof text - 1), MSG_NOSIGNAL) < 0) { /* agent gone */ }
  _exit(125);
}

static void drop_capabilities(int ctl) {
  for (int cap = 0; cap <= 63; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) launcher_fail(ctl, "drop bounding set");
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) launcher_fail(ctl, "clear ambient capabilities");
}

static void clear_capability_sets(int ctl) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capset, &header, data) != 0) launcher_fail(ctl, "clear capabilities");
}

static void exec_jail(int ctl, const uint8_t *go, size_t go_len, const int *fds, int nfds, int has_netns) {
  struct reader r = {go, go + go_len, 0};
  uint32_t uid = rd_u32(&r), gid = rd_u32(&r);
  uint64_t rl[6];
  for (int i = 0; i < 6; i++) rl[i] = rd_u64(&r);
  uint32_t ndata = rd_u32(&r);
  if (r.bad || ndata > MAX_PASSED_FDS || (int)ndata + 3 + has_netns != nfds) { errno = EINVAL; launcher_fail(ctl, "malformed run"); }
  int targets[MAX_PASSED_FDS + 3] = {0, 1, 2};
  int highest = 2;
  for (uint32_t i = 0; i < ndata; i++) {
    targets[3 + i] = (int)rd_u32(&r);
    if (targets[3 + i] < 3 || targets[3 + i] > MAX_PASSED_FDS + 64) { errno = EINVAL; launcher_fail(ctl, "descriptor number"); }
    if (targets[3 + i] > highest) highest = targets[3 + i];
  }
  uint32_t argc;
  char **argv = rd_strs(&r, &argc);
  if (r.bad || argc == 0 || argv[0][0] != '/') { errno = EINVAL; launcher_fail(ctl, "malformed argv"); }
  if (uid == 0 || gid == 0) { errno = EPERM; launcher_fail(ctl, "refusing to run a jail as host root"); }
  if (has_netns) {
    // A door's network namespace (the agent checked the path and opened it): joined while still root,
    // before anything is dropped; bubblewrap then runs without --unshare-net and keeps it. The jail's own
    // user namespace does not own it, so nothing inside holds a capability over its interfaces.
    nfds--;
    if (setns(fds[nfds], CLONE_NEWNET) != 0) launcher_fail(ctl, "join the door's network namespace");
    close(fds[nfds]);
  }

  // Descriptors: move everything above the targets first, so no dup2 overwrites a source.
  int moved_ctl = fcntl(ctl, F_DUPFD_CLOEXEC, highest + 1);
  if (moved_ctl < 0) launcher_fail(ctl, "move control socket");
  ctl = moved_ctl;
  int moved[MAX_PASSED_FDS + 3];
  for (int i = 0; i < nfds; i++) {
    moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, highest + 1);
    if (moved[i] < 0) launcher_fail(ctl, "move descriptor");
    close(fds[i]);
  }
  for (int fd = 0; fd <= highest; fd++) {
    int wanted = 0;
    for (int i = 0; i < nfds; i++) if (targets[i] == fd) wanted = 1;
    if (!wanted) close(fd);
  }
  for (int i = 0; i < nfds; i++) {
    if (dup2(moved[i], targets[i]) < 0) launcher_fail(ctl, "place descriptor");
  }
  // Everything above the targets (the moved copies, the control socket) closes at exec; nothing the
  // agent or the service inherited reaches the jail.
  if (syscall(SYS_close_range, highest + 1, ~0U, CLOSE_RANGE_CLOEXEC) != 0) launcher_fail(ctl, "close descriptors");

  struct rlimit limit;
  limit = (struct rlimit){rl[0], rl[1]};
  if (setrlimit(RLIMIT_CPU, &limit) != 0) launcher_fail(ctl, "rlimit cpu");
  limit = (struct rlimit){rl[2], rl[2]};
  if (setrlimit(RLIMIT_FSIZE, &limit) != 0) launcher_fail(ctl, "rlimit fsize");
  limit = (struct rlimit){rl[3], rl[3]};
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) launcher_fail(ctl, "rlimit nofile");
  limit = (struct rlimit){rl[4], rl[4]};
  if (setrlimit(RLIMIT_CORE, &limit) != 0) launcher_fail(ctl, "rlimit core");
  limit = (struct rlimit){rl[5], rl[5]};
  if (setrlimit(RLIMIT_NPROC, &limit) != 0) launcher_fail(ctl, "rlimit nproc");

  limit = (struct rlimit){0, 0};
  if (setrlimit(RLIMIT_RTPRIO, &limit) != 0) launcher_fail(ctl, "rlimit rtprio");
  // Nothing else of the service's process state reaches the jail: working directory, umask, priority,
  // OOM preference (a negative oom_score_adj would shield the jail from the memory cgroup's OOM killer;
  // raising it to 0 needs no privilege, lowering a positive one does and is not needed), session keyring
  // (a fresh empty one: setresuid keeps the old one, and its possessor could read the service's keys).
  if (chdir("/") != 0) launcher_fail(ctl, "chdir /");
  umask(022);
  if (setpriority(PRIO_PROCESS, 0, 0) != 0) launcher_fail(ctl, "setpriority");
  int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (oom < 0 || (write(oom, "0", 1) != 1 && errno != EACCES)) launcher_fail(ctl, "oom_score_adj");
  close(oom);
  if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0) launcher_fail(ctl, "new session keyring");

  drop_capabilities(ctl);
  if (setgroups(0, NULL) != 0) launcher_fail(ctl, "setgroups");
  if (setresgid(gid, gid, gid) != 0) launcher_fail(ctl, "setresgid");
  if (setresuid(uid, uid, uid) != 0) launcher_fail(ctl, "setresuid");
  clear_capability_sets(ctl);
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (getresuid(&ru, &eu, &su) != 0 || ru != uid || eu != uid || su != uid) { errno = EPERM; launcher_fail(ctl, "uid check"); }
  if (getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid || getgroups(0, NULL) != 0) { errno = EPERM; launcher_fail(ctl, "gid check"); }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) launcher_fail(ctl, "no_new_privs");
  // Set after the uid change, which clears it; bubblewrap's --die-with-parent takes over from here.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) launcher_fail(ctl, "parent-death signal");
  if (getppid() != agent_pid) _exit(125);

  char *empty_env[] = {NULL};
  execve(argv[0], argv, empty_env);
  launcher_fail(ctl, argv[0]);
}

static void launcher_main(int ctl, char **procs) {
  // Only the control socket stays: a launcher may wait long in the pool, and must not hold other runs'
  // pipe ends (their outputs would never reach end of file) or the agent's channel to the service.
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0) _exit(125);
  if (ctl > 3 && syscall(SYS_close_range, 3, ctl - 1, 0) != 0) _exit(125);
  if (syscall(SYS_close_range, ctl + 1, ~0U, 0) != 0) _exit(125);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  signal(SIGPIPE, SIG_DFL);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != agent_pid) _exit(125);
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%d", getpid());
  for (char **file = procs; *file; file++) {
    int fd = open(*file, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, pid, (size_t)len) != len) launcher_fail(ctl, *file);
    close(fd);
  }
  if (send(ctl, "R", 1, MSG_NOSIGNAL) != 1) _exit(125);

  static uint8_t go[1 << 20];
  static int fds[MAX_PASSED_FDS + 4];
  int nfds = 0, expected = -1, has_netns = 0;
  ssize_t go_len = 0;
  // The run arrives as one message with the details and the first descriptors, then messages with the rest.
  while (expected < 0 || nfds < expected) {
    char control[CMSG_SPACE(sizeof(int) * FDS_PER_MESSAGE)];
    uint8_t more;
    struct iovec iov = expected < 0 ? (struct iovec){go, sizeof go} : (struct iovec){&more, 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n;
    do n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
    if (n == 0) _exit(0); // released unused (KILL of an idle launcher, or the agent ended)
    if (n < 0) launcher_fail(ctl, "receive the run");
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) { errno = EMSGSIZE; launcher_fail(ctl, "run too large"); }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      if (nfds + count > MAX_PASSED_FDS + 4) { errno = EMSGSIZE; launcher_fail(ctl, "too many descriptors"); }
      memcpy(fds + nfds, CMSG_DATA(c), sizeof(int) * (size_t)count);
      nfds += count;
    }
    if (expected < 0) {
      go_len = n;
      struct reader r = {go + EXEC_NDATA_OFFSET, go + n, 0};
      uint32_t count = n >= EXEC_NDATA_OFFSET ? rd_u32(&r) : 0;
      if (n < EXEC_NDATA_OFFSET || r.bad || count > MAX_PASSED_FDS) { errno = EINVAL; launcher_fail(ctl, "malformed run"); }
      uint32_t netns_len;
      int bad = 0;
      exec_netns(go, (size_t)n, &netns_len, &bad);
      if (bad) { errno = EINVAL; launcher_fail(ctl, "malformed run"); }
      has_netns = netns_len > 0;
      expected = (int)count + 3 + has_netns; // the agent sends the namespace's descriptor last
    }
  }
  // Acknowledged before anything else: a launcher killed after this point died running the run.
  if (send(ctl, "G", 1, MSG_NOSIGNAL) != 1) _exit(125);
  exec_jail(ctl, go, (size_t)go_len, fds, nfds, has_netns);
}

/* ---------- the door (child side) ---------- */

// A door relays the jail's TCP connections to the host's proxy: fd[0] is the jail's connection, fd[1] the
// proxy's unix socket; buf[i] holds bytes read from fd[i] not yet written to fd[1 - i]. One bounded buffer
// per direction, refilled only once drained, so a slow reader stalls its writer instead of growing memory.
enum { DOOR_MAX_CONNECTIONS = 64, DOOR_BUFFER = 64 * 1024, DOOR_LISTENER = 2 * DOOR_MAX_CONNECTIONS };
struct door_conn {
  int used;
  int fd[2];
  size_t len[2], off[2];
  int eof[2];      /* fd[i] reached end of file */
  int shut[2];     /* write side of fd[i] shut down (its peer saw our end of file) */
  uint32_t armed[2]; /* events fd[i] is registered for; 0 = not in the epoll set */
};
static struct door_conn door_conns[DOOR_MAX_CONNECTIONS];
static uint8_t door_buffers[DOOR_MAX_CONNECTIONS][2][DOOR_BUFFER];
static int door_epoll, door_listener, door_listening, door_open;
static struct sockaddr_un door_target;

static void door_arm(int fd, uint32_t *armed, uint32_t want, uint64_t tag) {
  if (want == *armed) return;
  struct epoll_event ev = {.events = want, .data.u64 = tag};
  int op = *armed == 0 ? EPOLL_CTL_ADD : want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  if (epoll_ctl(door_epoll, op, fd, &ev) != 0) _exit(5);
  *armed = want;
}

/** Stops accepting while at the cap (the backlog waits), resumes below it. */
static void door_listen(int on) {
  uint32_t armed = door_listening ? EPOLLIN : 0;
  door_arm(door_listener, &armed, on ? EPOLLIN : 0, DOOR_LISTENER);
  door_listening = on;
}

static void door_close(int index) {
  struct door_conn *c = &door_conns[index];
  for (int i = 0; i < 2; i++) {
    if (c->armed[i]) epoll_ctl(door_epoll, EPOLL_CTL_DEL, c->fd[i], NULL);
    close(c->fd[i]);
  }
  memset(c, 0, sizeof *c);
  door_open--;
  if (!door_listening) door_listen(1);
}

/** Moves what it can both ways, handles end of file, re-arms; closes the pair once both ways are done. */
static void door_pump(int index, uint32_t events[2]) {
  struct door_conn *c = &door_conns[index];
  for (int i = 0; i < 2; i++) {
    if (events[i] & EPOLLERR) { door_close(index); return; }
    if ((events[i] & (EPOLLIN | EPOLLHUP)) && !c->eof[i] && c->len[i] == 0) {
      ssize_t n = read(c->fd[i], door_buffers[index][i], DOOR_BUFFER);
      if (n > 0) { c->len[i] = (size_t)n; c->off[i] = 0; }
      else if (n == 0) c->eof[i] = 1;
      else if (errno != EAGAIN && errno != EINTR) { door_close(index); return; }
    }
  }
  for (int i = 0; i < 2; i++) {
    while (c->off[i] < c->len[i]) {
      ssize_t n = send(c->fd[1 - i], door_buffers[index][i] + c->off[i], c->len[i] - c->off[i], MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n < 0) { door_close(index); return; } // the reader is gone: nothing more can be delivered
      c->off[i] += (size_t)n;
    }
    if (c->off[i] == c->len[i]) c->off[i] = c->len[i] = 0;
    // Half-close passes through: end of file from one side, once its bytes are delivered, reaches the other.
    if (c->eof[i] && c->len[i] == 0 && !c->shut[1 - i]) {
      shutdown(c->fd[1 - i], SHUT_WR);
      c->shut[1 - i] = 1;
    }
  }
  if (c->eof[0] && c->eof[1] && c->len[0] == 0 && c->len[1] == 0) { door_close(index); return; }
  for (int i = 0; i < 2; i++) {
    uint32_t want = (!c->eof[i] && c->len[i] == 0 ? EPOLLIN : 0) | (c->len[1 - i] > 0 ? EPOLLOUT : 0);
    // Not registered at all when it wants nothing: epoll reports a hung-up socket even with no events
    // asked for, which would spin while the other direction drains.
    door_arm(c->fd[i], &c->armed[i], want, (uint64_t)(index * 2 + i));
  }
}

static void door_accept(void) {
  while (door_open < DOOR_MAX_CONNECTIONS) {
    int client = accept4(door_listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) return; // EAGAIN, or a connection aborted before it was taken
    // The one place this process connects to: the path it was given, fixed before it dropped privileges.
    int proxy = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (proxy < 0 || connect(proxy, (struct sockaddr *)&door_target, sizeof door_target) != 0) {
      // Proxy gone or its backlog full: the jail sees its connection closed, the door carries on.
      if (proxy >= 0) close(proxy);
      close(client);
      continue;
    }
    int index = 0;
    while (door_conns[index].used) index++;
    door_conns[index] = (struct door_conn){.used = 1, .fd = {client, proxy}};
    door_open++;
    uint32_t none[2] = {0, 0};
    door_pump(index, none);
  }
  door_listen(0);
}

static void door_main(int ctl, int sync_out, int sync_in, const char *path, uint32_t port, uid_t uid, gid_t gid) {
  // Only the control socket stays, as in a launcher: nothing of the agent's or other runs' reaches here,
  // not even the service's stderr (a door has nothing to say but its failures, sent on the control socket).
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0) _exit(125);
  // Keep the control socket and the two ends of the user-namespace handshake (below); close the rest.
  int keep[3] = {ctl, sync_out, sync_in};
  for (int i = 0; i < 3; i++)
    for (int j = i + 1; j < 3; j++)
      if (keep[j] < keep[i]) { int t = keep[i]; keep[i] = keep[j]; keep[j] = t; }
  unsigned from = 3;
  for (int i = 0; i < 3; i++) {
    if ((unsigned)keep[i] > from && syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0) != 0) _exit(125);
    from = (unsigned)keep[i] + 1;
  }
  if (syscall(SYS_close_range, from, ~0U, 0) != 0) _exit(125);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != agent_pid) _exit(125);

  // A fresh network namespace (only lo, down until raised here; nothing routes anywhere else) owned by a
  // fresh user namespace. Raising lo needs CAP_NET_ADMIN over the namespace: the service holds no such
  // capability in a container or under its systemd unit (seven capabilities, not NET_ADMIN), but the
  // creator of a user namespace holds every capability in it. The agent maps exactly the run's uid and gid
  // into it (start_door), so the door can then become that uid and hold nothing. A launcher (root in the
  // parent namespace) may still join the network namespace; the jail, in a user namespace of its own, has
  // no capability over it.
  if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) launcher_fail(ctl, "new user and network namespaces");
  if (write(sync_out, "U", 1) != 1) _exit(125);
  char mapped;
  if (read(sync_in, &mapped, 1) != 1 || mapped != 'M') { errno = EPERM; launcher_fail(ctl, "uid and gid map of the door's user namespace"); }
  close(sync_out);
  close(sync_in);
  int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (probe < 0 || ioctl(probe, SIOCGIFFLAGS, &ifr) != 0) launcher_fail(ctl, "read lo flags");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(probe, SIOCSIFFLAGS, &ifr) != 0) launcher_fail(ctl, "bring lo up");
  close(probe);
  door_listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (door_listener < 0 || setsockopt(door_listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) launcher_fail(ctl, "listener socket");
  if (bind(door_listener, (struct sockaddr *)&address, sizeof address) != 0) launcher_fail(ctl, "bind 127.0.0.1");
  if (listen(door_listener, DOOR_MAX_CONNECTIONS) != 0) launcher_fail(ctl, "listen");
  door_target.sun_family = AF_UNIX;
  memcpy(door_target.sun_path, path, strlen(path) + 1); // length checked by the agent
  // The agent needs this namespace to hand to launchers, but may not open /proc/<door>/ns/net itself: that
  // takes ptrace access to another uid's process (CAP_SYS_PTRACE, which a container's service lacks). The
  // door opens its own and sends it with its ready message.
  int own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own_netns < 0) launcher_fail(ctl, "open its network namespace");

  // Bound: from here on it needs no privilege at all. Same drop as a launcher's, plus limits that fit a
  // relay (descriptors for its connections, no files written, no processes).
  if (chdir("/") != 0) launcher_fail(ctl, "chdir /");
  drop_capabilities(ctl);
  if (setgroups(0, NULL) != 0) launcher_fail(ctl, "setgroups");
  if (setresgid(gid, gid, gid) != 0) launcher_fail(ctl, "setresgid");
  if (setresuid(uid, uid, uid) != 0) launcher_fail(ctl, "setresuid");
  clear_capability_sets(ctl);
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (getresuid(&ru, &eu, &su) != 0 || ru != uid || eu != uid || su != uid) { errno = EPERM; launcher_fail(ctl, "uid check"); }
  if (getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid || getgroups(0, NULL) != 0) { errno = EPERM; launcher_fail(ctl, "gid check"); }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) launcher_fail(ctl, "no_new_privs");
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) launcher_fail(ctl, "not dumpable");
  struct rlimit limit = {2 * DOOR_MAX_CONNECTIONS + 16, 2 * DOOR_MAX_CONNECTIONS + 16};
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) launcher_fail(ctl, "rlimit nofile");
  limit = (struct rlimit){0, 0};
  if (setrlimit(RLIMIT_FSIZE, &limit) != 0 || setrlimit(RLIMIT_CORE, &limit) != 0 || setrlimit(RLIMIT_NPROC, &limit) != 0) launcher_fail(ctl, "rlimits");
  // Set after the uid change, which clears it.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) launcher_fail(ctl, "parent-death signal");
  if (getppid() != agent_pid) _exit(125);

  door_epoll = epoll_create1(EPOLL_CLOEXEC);
  if (door_epoll < 0) launcher_fail(ctl, "epoll");
  door_listen(1);
  char ready = 'R';
  struct iovec iov = {.iov_base = &ready, .iov_len = 1};
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &own_netns, sizeof(int));
  if (sendmsg(ctl, &msg, MSG_NOSIGNAL) != 1) _exit(125);
  close(own_netns);
  close(ctl);

  struct epoll_event events[64];
  for (;;) {
    int n = epoll_wait(door_epoll, events, 64, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) _exit(5);
    for (int i = 0; i < n; i++) {
      uint64_t tag = events[i].data.u64;
      if (tag == DOOR_LISTENER) { door_accept(); continue; }
      int index = (int)(tag / 2);
      // An earlier event of this batch may have closed the pair (and a new one may have reused its slot,
      // for which a spurious pump is harmless: reads and writes are non-blocking).
      if (!door_conns[index].used) continue;
      uint32_t got[2] = {0, 0};
      got[tag % 2] = events[i].events;
      door_pump(index, got);
    }
  }
}

/* ---------- requests ---------- */

static struct run *start_launcher(uint32_t id, char **procs) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return NULL;
  pid_t pid = fork();
  if (pid < 0) { close(sv[0]); close(sv[1]); return NULL; }
  if (pid == 0) {
    close(sv[0]);
    launcher_main(sv[1], procs);
    _exit(125);
  }
  close(sv[1]);
  struct run *run = calloc(1, sizeof *run);
  if (!run) _exit(4);
  run->id = id;
  run->pid = pid;
  run->ctl = sv[0];
  run->output[0] = run->output[1] = -1;
  run->next = runs;
  runs = run;
  watch_fd(sv[0], EPOLLIN, &run->ctl_watch, run, W_CTL, 0);
  return run;
}

/** Forks a door (door_main); it reports 'R' on its control socket once it listens as `uid`. */
static void start_door(uint32_t id, const char *path, uint32_t port, uint32_t uid, uint32_t gid) {
  int sv[2], up[2], down[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) { fail_request(id, "could not start a door"); return; }
  if (pipe2(up, O_CLOEXEC) != 0) { close(sv[0]); close(sv[1]); fail_request(id, "could not start a door"); return; }
  if (pipe2(down, O_CLOEXEC) != 0) { close(sv[0]); close(sv[1]); close(up[0]); close(up[1]); fail_request(id, "could not start a door"); return; }
  pid_t pid = fork();
  if (pid < 0) {
    close(sv[0]); close(sv[1]); close(up[0]); close(up[1]); close(down[0]); close(down[1]);
    fail_request(id, "could not start a door");
    return;
  }
  if (pid == 0) {
    close(sv[0]);
    close(up[0]);
    close(down[1]);
    door_main(sv[1], up[1], down[0], path, port, (uid_t)uid, (gid_t)gid);
    _exit(125);
  }
  close(sv[1]);
  close(up[1]);
  close(down[0]);
  // The door has unshared its user namespace (or died: EOF): map the run's uid and gid, one each, and let
  // it go on. Blocking here is bounded by a few system calls of our own child; a door that fails reports
  // on its control socket like any other.
  char unshared;
  if (read(up[0], &unshared, 1) == 1 && unshared == 'U') {
    char path_map[64], line[64];
    int ok = 1;
    const char *files[2] = {"uid_map", "gid_map"};
    uint32_t ids[2] = {uid, gid};
    for (int i = 0; i < 2 && ok; i++) {
      snprintf(path_map, sizeof path_map, "/proc/%d/%s", (int)pid, files[i]);
      int n = snprintf(line, sizeof line, "%u %u 1\n", ids[i], ids[i]);
      int fd = open(path_map, O_WRONLY | O_CLOEXEC);
      ok = fd >= 0 && write(fd, line, (size_t)n) == n;
      if (fd >= 0) close(fd);
    }
    if (ok && write(down[1], "M", 1) != 1) { /* the door died: its control socket says so */ }
  }
  close(up[0]);
  close(down[1]);
  struct run *run = calloc(1, sizeof *run);
  if (!run) _exit(4);
  run->id = id;
  run->pid = pid;
  run->ctl = sv[0];
  run->door = 1;
  run->netns = -1;
  run->taken = 1; // never a launcher: no SPAWN may use it
  run->output[0] = run->output[1] = -1;
  run->next = runs;
  runs = run;
  watch_fd(sv[0], EPOLLIN, &run->ctl_watch, run, W_CTL, 0);
}

static void handle_door(uint32_t id, struct reader *r) {
  char *path = rd_str(r);
  uint32_t port = rd_u32(r), uid = rd_u32(r), gid = rd_u32(r);
  if (r->bad || r->p != r->end) fail_request(id, "malformed DOOR");
  else if (find_run(id)) fprintf(stderr, "confine-jail-agent: DOOR with the id of live run %u ignored\n", id);
  else if (path[0] != '/' || strlen(path) >= sizeof door_target.sun_path) fail_request(id, "door socket path must be absolute and fit sun_path");
  else if (port == 0 || port > 65535) fail_request(id, "door port out of range");
  else if (uid == 0 || gid == 0) fail_request(id, "refusing to run a door as host root");
  else start_door(id, path, port, uid, gid);
  free(path);
}

/**
 * Opens the network namespace a SPAWN names, only if it is /proc/<pid>/ns/net of a door this agent
 * started that is listening and not reaped (an unreaped child's pid cannot have been reused), so no bug
 * on the service's side can move a jail into the host's namespace or another process's. -1 + why if not.
 */
static int open_door_netns(const uint8_t *path, uint32_t len, const char **why) {
  char text[64];
  *why = "the jail's network namespace is not a live door of this agent";
  if (len >= sizeof text) return -1;
  memcpy(text, path, len);
  text[len] = 0;
  unsigned pid;
  int end = 0;
  if (sscanf(text, "/proc/%u/ns/net%n", &pid, &end) != 1 || end != (int)len || text[6] < '1' || text[6] > '9') return -1;
  struct run *door = find_pid((pid_t)pid);
  if (!door || !door->door || !door->ready || door->netns < 0) return -1;
  int fd = fcntl(door->netns, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) *why = "could not open the door's network namespace";
  return fd;
}

static void flush_write(struct run *run, int index) {
  struct pending_write *w = &run->writes[index];
  while (w->fd >= 0 && w->off < w->len) {
    ssize_t n = write(w->fd, w->data + w->off, w->len - w->off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return; // EPOLLOUT resumes
    if (n < 0) break;                      // EPIPE: the reader is gone, which is its business
    w->off += (size_t)n;
  }
  if (w->fd >= 0) { unwatch_close(w->fd); w->fd = -1; }
  free(w->data);
  w->data = NULL;
}

/** Sends the run to a launcher that is in its cgroup; registers the agent's ends of its pipes. */
static void send_go(struct run *run) {
  // The whole run fits the socket buffer (sized here; the agent is root), so a launcher that is slow to
  // read (frozen by a kill) can never block the agent; a send that would block fails the run instead.
  int sndbuf = (int)run->go_len + 64 * 1024;
  if (setsockopt(run->ctl, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0) {
    setsockopt(run->ctl, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  ssize_t sent = 0;
  uint8_t more = '+';
  for (int first = 0; sent >= 0 && first < run->go_nfds; first += FDS_PER_MESSAGE) {
    int count = run->go_nfds - first < FDS_PER_MESSAGE ? run->go_nfds - first : FDS_PER_MESSAGE;
    struct iovec iov = first == 0 ? (struct iovec){run->go, run->go_len} : (struct iovec){&more, 1};
    char control[CMSG_SPACE(sizeof(int) * FDS_PER_MESSAGE)];
    memset(control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
    memcpy(CMSG_DATA(c), run->go_fds + first, sizeof(int) * (size_t)count);
    sent = sendmsg(run->ctl, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  close_go(run);
  run->spawned = 1;
  if (sent < 0) {
    send_message(EV_FAILED, run->id, "could not hand the run to its launcher: %s", strerror(errno));
    if (!run->reaped) kill(run->pid, SIGKILL);
  } else {
    struct out p = {0};
    out_u32(&p, (uint32_t)run->pid);
    send_event(EV_STARTED, run->id, &p);
    free(p.data);
  }
  watch_fd(run->output[0], EPOLLIN, &run->output_watch[0], run, W_OUT1, 0);
  watch_fd(run->output[1], EPOLLIN, &run->output_watch[1], run, W_OUT2, 0);
  for (int i = 0; i < run->nwrites; i++) {
    watch_fd(run->writes[i].fd, EPOLLOUT, &run->writes[i].watch, run, W_WRITE, i);
    flush_write(run, i);
  }
}

static int make_pipe(int fds[2], int agent_end_nonblocking_index) {
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  int fd = fds[agent_end_nonblocking_index];
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0) return 0;
  int saved = errno;
  close(fds[0]);
  close(fds[1]);
  errno = saved;
  return -1;
}

static void handle_spawn(uint32_t id, struct reader *r) {
  uint32_t prepared = rd_u32(r);
  uint32_t nprocs;
  char **procs = rd_strs(r, &nprocs);
  uint32_t exec_len;
  const uint8_t *exec = rd_bytes(r, &exec_len);
  uint32_t ndata = rd_u32(r);
  // The whole request is read and checked before anything is forked or created.
  const uint8_t *data[MAX_PASSED_FDS + 1];
  uint32_t lens[MAX_PASSED_FDS + 1];
  for (uint32_t i = 0; !r->bad && i < ndata && i < MAX_PASSED_FDS; i++) data[i + 1] = rd_bytes(r, &lens[i + 1]);
  data[0] = rd_bytes(r, &lens[0]); // stdin
  struct reader inner = {exec, exec + exec_len, 0};
  if (exec_len >= EXEC_NDATA_OFFSET) inner.p += EXEC_NDATA_OFFSET;
  uint32_t inner_ndata = rd_u32(&inner);
  if (r->bad || ndata > MAX_PASSED_FDS || exec_len < EXEC_NDATA_OFFSET || inner.bad || inner_ndata != ndata) {
    free_strs(procs);
    if (!find_run(id)) fail_request(id, "malformed SPAWN");
    else fprintf(stderr, "confine-jail-agent: malformed SPAWN for live run %u ignored\n", id);
    return;
  }
  uint32_t netns_len;
  int netns_bad = 0;
  const uint8_t *netns = exec_netns(exec, exec_len, &netns_len, &netns_bad);
  struct run *run = prepared ? find_run(id) : NULL;
  if (run && run->door) {
    // A door is no launcher, and an answer under its id would end the door's own request on the service's side.
    free_strs(procs);
    fprintf(stderr, "confine-jail-agent: SPAWN with the id of door %u ignored\n", id);
    return;
  }
  if (prepared && !run) { free_strs(procs); fail_request(id, "no prepared launcher with this id"); return; }
  if (prepared && (run->taken || run->ctl < 0 || !run->ready || run->reaped)) {
    // Taken twice, or dying: the run fails, and the launcher's own EXIT ends it.
    free_strs(procs);
    send_message(EV_FAILED, id, "the prepared launcher is no longer waiting");
    if (!run->reaped) kill(run->pid, SIGKILL);
    return;
  }
  if (!prepared && find_run(id)) {
    // A protocol violation by the service: answering would land on the live run with this id.
    free_strs(procs);
    fprintf(stderr, "confine-jail-agent: SPAWN with the id of live run %u ignored\n", id);
    return;
  }
  int netns_fd = -1;
  const char *netns_why = "malformed SPAWN";
  if (netns_bad || (netns_len > 0 && (netns_fd = open_door_netns(netns, netns_len, &netns_why)) < 0)) {
    free_strs(procs);
    if (!prepared) { fail_request(id, netns_why); return; }
    send_message(EV_FAILED, id, "%s", netns_why); // the prepared launcher's own EXIT ends the run
    run->taken = 1;
    if (!run->reaped) kill(run->pid, SIGKILL);
    return;
  }
  if (!prepared) {
    run = start_launcher(id, procs);
    if (!run) { free_strs(procs); if (netns_fd >= 0) close(netns_fd); fail_request(id, "could not start a launcher"); return; }
  }
  free_strs(procs);
  run->taken = 1;
  run->go_nfds = (int)ndata + 3 + (netns_fd >= 0);
  for (int i = 0; i < run->go_nfds; i++) run->go_fds[i] = -1;
  if (netns_fd >= 0) run->go_fds[ndata + 3] = netns_fd; // last: the launcher joins it, then closes it

  // Pipes: stdin and data pipes (agent writes), stdout and stderr (agent reads). The launcher gets its
  // ends through SCM_RIGHTS in the same message as the run.
  run->writes = calloc(ndata + 1, sizeof *run->writes);
  if (!run->writes) _exit(4);
  run->nwrites = 0;
  int p[2];
  int failed = 0;
  // Order passed: stdin, stdout, stderr, data...
  for (uint32_t i = 0; !failed && i <= ndata; i++) {
    if (make_pipe(p, 1) != 0) { failed = 1; break; }
    run->writes[i] = (struct pending_write){.fd = p[1], .len = lens[i]};
    if (lens[i] > 0) {
      run->writes[i].data = malloc(lens[i]);
      if (!run->writes[i].data) _exit(4);
      memcpy(run->writes[i].data, data[i], lens[i]);
    }
    run->nwrites++;
    run->go_fds[i == 0 ? 0 : i + 2] = p[0];
  }
  for (int s = 0; !failed && s < 2; s++) {
    if (make_pipe(p, 0) != 0) { failed = 1; break; }
    run->output[s] = p[0];
    run->go_fds[1 + s] = p[1];
  }
  if (failed) {
    send_message(EV_FAILED, id, "could not create the run's pipes: %s", strerror(errno));
    for (int s = 0; s < 2; s++) if (run->output[s] >= 0) { close(run->output[s]); run->output[s] = -1; }
    close_go(run);
    if (!run->reaped) kill(run->pid, SIGKILL);
    return; // the launcher's death finishes the run
  }
  run->go = malloc(exec_len);
  if (!run->go) _exit(4);
  memcpy(run->go, exec, exec_len);
  run->go_len = exec_len;
  if (run->ready) send_go(run);
}

/** DONE for a mount or unmount: the errno (0 on success) and its text. */
static void send_done(uint32_t id, int rc) {
  struct out p = {0};
  out_u32(&p, (uint32_t)rc);
  const char *text = rc ? strerror(rc) : "";
  out_bytes(&p, text, strlen(text));
  send_event(EV_DONE, id, &p);
  free(p.data);
}

static void handle_request(uint8_t type, uint32_t id, struct reader *r) {
  switch (type) {
    case REQ_PREPARE: {
      uint32_t n;
      char **procs = rd_strs(r, &n);
      if (r->bad) fail_request(id, "malformed PREPARE");
      else if (find_run(id)) fprintf(stderr, "confine-jail-agent: PREPARE with the id of live run %u ignored\n", id);
      else if (!start_launcher(id, procs)) fail_request(id, "could not start a launcher");
      free_strs(procs);
      return;
    }
    case REQ_SPAWN:
      handle_spawn(id, r);
      return;
    case REQ_DOOR:
      handle_door(id, r);
      return;
    case REQ_KILL: {
      struct run *run = find_run(id);
      if (run && !run->reaped) kill(run->pid, SIGKILL);
      return;
    }
    case REQ_MOUNT: {
      char *source = rd_str(r), *target = rd_str(r), *fstype = rd_str(r);
      uint64_t flags = rd_u64(r);
      char *data = rd_str(r);
      send_done(id, r->bad ? EINVAL : (mount(source, target, fstype, flags, data) == 0 ? 0 : errno));
      free(source); free(target); free(fstype); free(data);
      return;
    }
    case REQ_UMOUNT: {
      char *target = rd_str(r);
      uint32_t flags = rd_u32(r);
      send_done(id, r->bad ? EINVAL : (umount2(target, (int)flags) == 0 ? 0 : errno));
      free(target);
      return;
    }
    default:
      send_message(EV_FAILED, id, "unknown request type %u", type);
  }
}

/* ---------- event loop ---------- */

static void on_ctl(struct run *run) {
  char buf[512];
  // Only a door's ready message carries a descriptor (its network namespace); any other is closed.
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
  struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf - 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  ssize_t n = recvmsg(run->ctl, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  int passed = -1;
  if (n > 0) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < count; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        if (passed < 0 && run->door && buf[0] == 'R' && run->netns < 0) passed = fd;
        else close(fd);
      }
    }
  }
  if (n <= 0) {
    // Closed: the launcher exec'd bubblewrap (close-on-exec) or died.
    unwatch_close(run->ctl);
    run->ctl = -1;
    if (!run->spawned) {
      // It died before taking the run: the pipes it would have used are the agent's to close.
      for (int s = 0; s < 2; s++) if (run->output[s] >= 0) { close(run->output[s]); run->output[s] = -1; }
      close_go(run);
    } else if (!run->took) {
      // Handed the run but gone before acknowledging it (killed while idle, a moment before): a setup
      // failure, not the tenant program's signal.
      send_message(EV_FAILED, run->id, "the launcher died before it took the run");
    }
    maybe_finish(run);
    return;
  }
  buf[n] = 0;
  if (buf[0] == 'G') {
    run->took = 1;
  } else if (buf[0] == 'R' && run->door) {
    if (passed < 0) { send_message(EV_FAILED, run->id, "the door sent no network namespace"); return; }
    run->netns = passed;
    run->ready = 1;
    struct out p = {0};
    out_u32(&p, (uint32_t)run->pid);
    send_event(EV_STARTED, run->id, &p);
    free(p.data);
  } else if (buf[0] == 'R') {
    run->ready = 1;
    if (run->go) send_go(run);
    else send_event(EV_READY, run->id, NULL);
  } else if (buf[0] == 'F') {
    send_message(EV_FAILED, run->id, "%s", buf + 1);
  }
}

static void on_output(struct run *run, int stream) {
  static uint8_t chunk[OUTPUT_CHUNK];
  int fd = run->output[stream];
  ssize_t n = read(fd, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    unwatch_close(fd);
    run->output[stream] = -1;
    maybe_finish(run);
    return;
  }
  struct out p = {0};
  out_u32(&p, (uint32_t)(stream + 1));
  out_bytes(&p, chunk, (size_t)n);
  send_event(EV_OUTPUT, run->id, &p);
  free(p.data);
}

static void on_sigchld(void) {
  struct signalfd_siginfo info;
  while (read(sigfd, &info, sizeof info) > 0) { /* drain; waitpid below collects every child */ }
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    struct run *run = find_pid(pid);
    if (!run) continue; // an orphan adopted as subreaper (a jail's exiting init): reaping it was the point
    run->reaped = 1;
    run->status = status;
    maybe_finish(run);
  }
}

static uint8_t *inbuf;
static size_t inlen, incap;

static void on_requests(void) {
  if (incap - inlen < 65536) {
    incap = incap ? incap * 2 : 1 << 20;
    inbuf = realloc(inbuf, incap);
    if (!inbuf) _exit(4);
  }
  ssize_t n = read(STDIN_FILENO, inbuf + inlen, incap - inlen);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    // The service is gone or closed us: nothing may outlive it.
    for (struct run *r = runs; r; r = r->next) if (!r->reaped) kill(r->pid, SIGKILL);
    _exit(0);
  }
  inlen += (size_t)n;
  size_t at = 0;
  while (inlen - at >= 4) {
    struct reader head = {inbuf + at, inbuf + inlen, 0};
    uint32_t len = rd_u32(&head);
    if (len < 5 || len > MAX_FRAME) _exit(6); // a broken stream cannot be resynchronised
    if (inlen - at - 4 < len) break;
    const uint8_t *frame = inbuf + at + 4;
    struct reader body = {frame + 5, frame + len, 0};
    uint32_t id = (uint32_t)frame[1] | (uint32_t)frame[2] << 8 | (uint32_t)frame[3] << 16 | (uint32_t)frame[4] << 24;
    handle_request(frame[0], id, &body);
    at += 4 + len;
  }
  memmove(inbuf, inbuf + at, inlen - at);
  inlen -= at;
}

int main(int argc, char **argv) {
  agent_pid = getpid();
  // The service names itself (argv[1], its pid): a service that is pid 1, as in a container, is a
  // legitimate parent, so a parent of 1 alone cannot mean that the service died before we started.
  pid_t service = argc > 1 ? (pid_t)strtol(argv[1], NULL, 10) : 0;
  // Its own process group: a terminal's Ctrl-C goes to the service, which shuts down gracefully, and not
  // straight to the agent (which would kill every jail first). The service starts it in a new session
  // already (no window before this line); this covers other callers. Its life stays bound to the service's.
  if (getpgrp() != getpid() && setpgid(0, 0) != 0) return 2;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return 2;
  if (service > 0 ? getppid() != service : getppid() == 1) return 2; // the service died before we started
  // Orphans are ours to reap. bubblewrap's monitor exits as soon as its pid-1 init reports the program's
  // status, so that init is orphaned while it exits. Without this it was reparented to host init, which
  // may reap late (~2 s on the development machine) or never (a bare process as pid 1 in a container),
  // and each such zombie counts against RLIMIT_NPROC of the jail's uid: a session (one uid for its whole
  // life) running requests back to back failed "bwrap: Can't fork for pid 1" (issue 9 item 7). As a
  // subreaper the agent receives them, and on_sigchld's waitpid(-1) reaps them as they exit.
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) return 2;
  // Nothing the service inherited stays open here (or could reach a launcher).
  if (syscall(SYS_close_range, 3, ~0U, 0) != 0) return 2;
  for (int fd = 0; fd <= 1; fd++) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  fcntl(STDIN_FILENO, F_SETFD, FD_CLOEXEC);
  fcntl(STDOUT_FILENO, F_SETFD, FD_CLOEXEC);
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (sigfd < 0 || epfd < 0) return 2;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev) != 0) return 2;
  static int sig_marker;
  ev.data.ptr = &sig_marker;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd, &ev) != 0) return 2;

  struct epoll_event events[64];
  for (;;) {
    int n = epoll_wait(epfd, events, 64, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 2;
    for (int i = 0; i < n; i++) {
      void *ptr = events[i].data.ptr;
      if (ptr == NULL) { on_requests(); continue; }
      if (ptr == &sig_marker) { on_sigchld(); continue; }
      struct watch *w = ptr;
      // A watch whose fd was closed earlier in this batch is skipped: its run's state says so.
      struct run *run = w->run;
      if (run->finished) continue;
      switch (w->kind) {
        case W_CTL: if (run->ctl >= 0) on_ctl(run); break;
        case W_OUT1: if (run->output[0] >= 0) on_output(run, 0); break;
        case W_OUT2: if (run->output[1] >= 0) on_output(run, 1); break;
        case W_WRITE: if (run->writes[w->index].fd >= 0) flush_write(run, w->index); break;
      }
    }
    free_graveyard();
  }
}
