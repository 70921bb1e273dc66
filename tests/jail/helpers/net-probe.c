/*
 * net-probe: network attempts from inside a jail with a door (tests/jail/door.test.ts). Static, like
 * tests/attack/attack.c. One attempt per call; prints one line of key=value pairs:
 *   tcp IP PORT MESSAGE [COUNT]   connect over IPv4, send MESSAGE COUNT times, half-close, read the reply to EOF:
 *                                 result=ok sent=N received=N reply=<first 200 bytes, spaces as _>  or  stage=S errno=E
 *   tcphex IP PORT HEX            connect over IPv4, send the bytes HEX encodes (a crafted HTTP request, which
 *                                 should say `connection: close`), read the reply to EOF without half-closing
 *                                 first, as an SDK does: result=ok sent=N received=N reply_hex=<first 16 KiB, hex>
 *   tcp6 ADDR PORT                an IPv6 socket and connect: stage=S errno=E
 *   udp IP PORT                   a datagram socket (a DNS query's) and send: stage=S errno=E or result=ok
 *   unix PATH                     connect a unix socket: stage=S errno=E or result=ok
 *   lo_down / add_address         SIOCSIFFLAGS (lo down) / SIOCSIFADDR (10.9.9.9 on lo): result=ok or errno=E
 *   interfaces                    SIOCGIFCONF: interfaces=name:address,...
 *   many IP PORT N                open N connections at once, send one byte on each and half-close, then
 *                                 read every reply to EOF: result=ok connections=N replies=M
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *errname(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ECONNRESET: return "ECONNRESET";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EINVAL: return "EINVAL";
    default: return "EOTHER";
  }
}

static int fail(const char *stage) {
  printf("stage=%s errno=%s\n", stage, errname(errno));
  return 1;
}

static int tcp(const char *ip, int port, const char *message, long count) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return fail("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) return 2;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return fail("connect");
  long sent = 0;
  size_t len = strlen(message);
  for (long i = 0; i < count; i++) {
    for (size_t off = 0; off < len;) {
      ssize_t n = write(fd, message + off, len - off);
      if (n < 0) return fail("send");
      off += (size_t)n;
      sent += n;
    }
  }
  shutdown(fd, SHUT_WR);
  static char reply[201];
  size_t kept = 0;
  long received = 0;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n && kept < 200; i++) reply[kept++] = buf[i] == ' ' || buf[i] == '\n' ? '_' : buf[i];
    received += n;
  }
  if (n < 0) return fail("receive");
  printf("result=ok sent=%ld received=%ld reply=%s\n", sent, received, reply);
  return 0;
}

static int unhex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Like tcp with one message, but any bytes (CR LF, binary) and the whole reply kept: the caller parses it. */
static int tcphex(const char *ip, int port, const char *hex) {
  static unsigned char message[65536];
  size_t len = strlen(hex) / 2;
  if (strlen(hex) % 2 != 0 || len > sizeof message) return 2;
  for (size_t i = 0; i < len; i++) {
    int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return 2;
    message[i] = (unsigned char)(hi * 16 + lo);
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return fail("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) return 2;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return fail("connect");
  for (size_t off = 0; off < len;) {
    ssize_t n = write(fd, message + off, len - off);
    if (n < 0) return fail("send");
    off += (size_t)n;
  }
  /* No half-close: node's HTTP server (the proxy) takes a client's end of file for a client gone and aborts
     a forwarded call still in flight. */
  static unsigned char reply[16384];
  size_t kept = 0;
  long received = 0;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n && kept < sizeof reply; i++) reply[kept++] = (unsigned char)buf[i];
    received += n;
  }
  if (n < 0) return fail("receive");
  static char out[2 * sizeof reply + 1];
  for (size_t i = 0; i < kept; i++) snprintf(out + 2 * i, 3, "%02x", reply[i]);
  printf("result=ok sent=%zu received=%ld reply_hex=%s\n", len, received, out); /* stdout is unbuffered: one write */
  return 0;
}

static int tcp6(const char *ip, int port) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return fail("socket");
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET6, ip, &a.sin6_addr) != 1) return 2;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return fail("connect");
  printf("result=ok\n");
  return 0;
}

static int udp(const char *ip, int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return fail("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) return 2;
  if (sendto(fd, "q", 1, 0, (struct sockaddr *)&a, sizeof a) != 1) return fail("send");
  printf("result=ok\n");
  return 0;
}

static int unix_connect(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return fail("socket");
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) return 2;
  strcpy(a.sun_path, path);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return fail("connect");
  printf("result=ok\n");
  return 0;
}

/* Interface ioctls go through any IPv4 socket; a stream one is all the egress profile allows. */
static int inet_ioctl(unsigned long request, struct ifreq *ifr) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return fail("socket");
  if (ioctl(fd, request, ifr) != 0) return fail("ioctl");
  printf("result=ok\n");
  return 0;
}

static int interfaces(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return fail("socket");
  struct ifreq list[32];
  struct ifconf conf = {.ifc_len = sizeof list, .ifc_req = list};
  if (ioctl(fd, SIOCGIFCONF, &conf) != 0) return fail("ioctl");
  printf("interfaces=");
  for (int i = 0; i < conf.ifc_len / (int)sizeof(struct ifreq); i++) {
    struct sockaddr_in *a = (struct sockaddr_in *)&list[i].ifr_addr;
    printf("%s%s:%s", i ? "," : "", list[i].ifr_name, inet_ntoa(a->sin_addr));
  }
  printf("\n");
  return 0;
}

static int many(const char *ip, int port, int count) {
  static int fds[1024];
  if (count < 1 || count > 1024) return 2;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) return 2;
  for (int i = 0; i < count; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (fds[i] < 0) return fail("socket");
    if (connect(fds[i], (struct sockaddr *)&a, sizeof a) != 0) return fail("connect");
    if (write(fds[i], "x", 1) != 1) return fail("send");
    shutdown(fds[i], SHUT_WR);
  }
  int replies = 0;
  for (int i = 0; i < count; i++) {
    char buf[256];
    ssize_t n, total = 0;
    while ((n = read(fds[i], buf, sizeof buf)) > 0) total += n;
    if (total > 0) replies++;
  }
  printf("result=ok connections=%d replies=%d\n", count, replies);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2) return 2;
  const char *cmd = argv[1];
  if (!strcmp(cmd, "tcp") && (argc == 5 || argc == 6)) return tcp(argv[2], atoi(argv[3]), argv[4], argc == 6 ? atol(argv[5]) : 1);
  if (!strcmp(cmd, "tcphex") && argc == 5) return tcphex(argv[2], atoi(argv[3]), argv[4]);
  if (!strcmp(cmd, "tcp6") && argc == 4) return tcp6(argv[2], atoi(argv[3]));
  if (!strcmp(cmd, "udp") && argc == 4) return udp(argv[2], atoi(argv[3]));
  if (!strcmp(cmd, "unix") && argc == 3) return unix_connect(argv[2]);
  if (!strcmp(cmd, "interfaces")) return interfaces();
  if (!strcmp(cmd, "many") && argc == 5) return many(argv[2], atoi(argv[3]), atoi(argv[4]));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (!strcmp(cmd, "lo_down")) return inet_ioctl(SIOCSIFFLAGS, &ifr); /* flags 0: down */
  if (!strcmp(cmd, "add_address")) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ifr.ifr_addr;
    a->sin_family = AF_INET;
    inet_pton(AF_INET, "10.9.9.9", &a->sin_addr);
    return inet_ioctl(SIOCSIFADDR, &ifr);
  }
  return 2;
}
