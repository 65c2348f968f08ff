/*
 * tortie-cni-shim: the CNI executable the kubelet runs (/opt/cni/bin/tortie-cni). All CNI logic is
 * TypeScript; this program only forwards one invocation (the CNI_* environment and the network
 * configuration on stdin) over a unix socket to the CNI server inside the tortie agent
 * (src/cni/server.ts, framing in src/cni/framing.ts) and writes back what the plugin would have
 * written: stdout, stderr and the exit status. It saves each ADD and DEL the start-up of Node.
 *
 * When the agent is not there (no socket, nothing listening) or does not accept the request within
 * the timeout, it execs the standalone plugin `tortie-cni-node` from its own directory, with the
 * same environment and stdin, so pods can still be wired while the agent is down. The request
 * runs in exactly one of the two: the agent starts only after this program's 'G', which it never
 * sends once it has given up.
 *
 * Configuration keys read from stdin (top level of the plugin's configuration):
 *   "agentSocket":    the server's socket (default /var/run/tortie/cni.sock)
 *   "agentTimeoutMs": how long to wait for the agent to accept (default 1000)
 * Without "agentSocket", TORTIE_CNI_SOCKET in the environment names the socket (tests, development).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/var/run/tortie/cni.sock"
#define DEFAULT_TIMEOUT_MS 1000
#define FALLBACK_NAME "tortie-cni-node"
#define MAX_STDIN (4 * 1024 * 1024)

extern char **environ;

/* Added to the forwarded variables: the inode of the caller's PID namespace (see server.ts). */
#define PIDNS_VAR "CNI_TORTIE_PIDNS"

struct buf {
  char *data;
  size_t len, cap;
};

static void buf_put(struct buf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
      perror("tortie-cni: out of memory");
      exit(1);
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void buf_u32(struct buf *b, uint32_t v) {
  uint8_t le[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
  buf_put(b, le, 4);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a scanner for the top-level keys we need; anything odd leaves the defaults ---- */

struct conf {
  char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
  long timeout_ms;
  char version[32];
};

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* p at '"'; returns just past the closing quote, or NULL. Copies the unescaped text if out. */
static const char *scan_string(const char *p, const char *end, char *out, size_t outcap, int *fits) {
  size_t n = 0;
  *fits = 1;
  for (p++; p < end; p++) {
    char c = *p;
    if (c == '"') {
      if (out) out[n < outcap ? n : outcap - 1] = 0;
      return p + 1;
    }
    if (c == '\\') {
      if (++p >= end) return NULL;
      c = *p;
      if (c == 'u') *fits = 0; /* not needed for paths; give up on the value */
      else if (c == 'n') c = '\n';
      else if (c == 't') c = '\t';
      else if (c != '"' && c != '\\' && c != '/') *fits = 0;
    }
    if (out) {
      if (n + 1 < outcap) out[n++] = c;
      else *fits = 0;
    }
  }
  return NULL;
}

static const char *skip_value(const char *p, const char *end) {
  int fits;
  if (p >= end) return NULL;
  if (*p == '"') return scan_string(p, end, NULL, 0, &fits);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (p < end) {
      if (*p == '"') {
        p = scan_string(p, end, NULL, 0, &fits);
        if (!p) return NULL;
        continue;
      }
      if (*p == '{' || *p == '[') depth++;
      else if (*p == '}' || *p == ']') {
        if (--depth == 0) return p + 1;
      }
      p++;
    }
    return NULL;
  }
  while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') p++;
  return p;
}

static void scan_conf(const char *p, size_t len, struct conf *c) {
  const char *end = p + len;
  char key[32], val[sizeof(c->socket)];
  int fits;
  p = skip_ws(p, end);
  if (p >= end || *p != '{') return;
  p++;
  for (;;) {
    p = skip_ws(p, end);
    if (p >= end || *p != '"') return;
    p = scan_string(p, end, key, sizeof key, &fits);
    if (!p) return;
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return;
    p = skip_ws(p + 1, end);
    if (p >= end) return;
    int want_socket = fits && strcmp(key, "agentSocket") == 0;
    int want_version = fits && strcmp(key, "cniVersion") == 0;
    if ((want_socket || want_version) && *p == '"') {
      int vfits;
      p = scan_string(p, end, val, sizeof val, &vfits);
      if (!p) return;
      if (vfits && want_socket && val[0] == '/') strcpy(c->socket, val);
      if (vfits && want_version && strlen(val) < sizeof c->version && strspn(val, "0123456789.") == strlen(val)) strcpy(c->version, val);
    } else if (fits && strcmp(key, "agentTimeoutMs") == 0 && (*p >= '0' && *p <= '9')) {
      char *after;
      long v = strtol(p, &after, 10);
      if (v > 0 && v <= 600000) c->timeout_ms = v;
      p = skip_value(p, end);
      if (!p) return;
    } else {
      p = skip_value(p, end);
      if (!p) return;
    }
    p = skip_ws(p, end);
    if (p >= end || *p != ',') return;
    p++;
  }
}

/* ---- fallback: exec the standalone plugin with the stdin we already consumed ---- */

static void fail_json(const char *version, int code, const char *msg, const char *details) {
  /* msg and details are our own texts, free of characters JSON would need escaped. */
  printf("{\"cniVersion\":\"%s\",\"code\":%d,\"msg\":\"%s\",\"details\":\"%s\"}\n", version, code, msg, details);
  fflush(stdout);
  fprintf(stderr, "tortie-cni error: %s: %s\n", msg, details);
  exit(1);
}

static void fallback(const struct buf *in, const struct conf *c) {
  char self[PATH_MAX], path[PATH_MAX + 32];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) fail_json(c->version, 5, "cannot find the fallback plugin", "readlink /proc/self/exe failed");
  self[n] = 0;
  char *slash = strrchr(self, '/');
  if (slash) *slash = 0;
  snprintf(path, sizeof path, "%s/%s", self, FALLBACK_NAME);

  int fd = memfd_create("tortie-cni-stdin", 0);
  if (fd < 0) fail_json(c->version, 5, "cannot pass stdin to the fallback plugin", "memfd_create failed");
  for (size_t off = 0; off < in->len;) {
    ssize_t w = write(fd, in->data + off, in->len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail_json(c->version, 5, "cannot pass stdin to the fallback plugin", "write to memfd failed");
    }
    off += (size_t)w;
  }
  if (lseek(fd, 0, SEEK_SET) < 0 || dup2(fd, 0) < 0) fail_json(c->version, 5, "cannot pass stdin to the fallback plugin", "dup2 failed");
  close(fd);
  char *argv[] = {path, NULL};
  execve(path, argv, environ);
  fail_json(c->version, 11, "the tortie agent is not reachable and the fallback plugin cannot run", strerror(errno));
}

/* ---- the exchange with the agent ---- */

/* Writes all of p before the deadline; 0 on success. */
static int send_all(int fd, const void *p, size_t n, int64_t deadline) {
  const char *q = p;
  while (n > 0) {
    ssize_t w = send(fd, q, n, MSG_NOSIGNAL);
    if (w > 0) {
      q += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno != EAGAIN) return -1;
    int left = (int)(deadline - now_ms());
    if (left <= 0) return -1;
    struct pollfd pfd = {fd, POLLOUT, 0};
    if (poll(&pfd, 1, left) <= 0) return -1;
  }
  return 0;
}

/* Reads exactly n bytes; deadline < 0 waits forever. 0 on success. */
static int recv_all(int fd, void *p, size_t n, int64_t deadline) {
  char *q = p;
  while (n > 0) {
    ssize_t r = recv(fd, q, n, 0);
    if (r > 0) {
      q += r;
      n -= (size_t)r;
      continue;
    }
    if (r == 0) return -1;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -1;
    int left = deadline < 0 ? -1 : (int)(deadline - now_ms());
    if (deadline >= 0 && left <= 0) return -1;
    struct pollfd pfd = {fd, POLLIN, 0};
    int pr = poll(&pfd, 1, left);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) return -1;
  }
  return 0;
}

static uint32_t le32(const uint8_t *b) { return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24; }

static void write_fd(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

int main(void) {
  struct buf in = {0};
  char chunk[65536];
  for (;;) {
    ssize_t r = read(0, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    buf_put(&in, chunk, (size_t)r);
    if (in.len > MAX_STDIN) break; /* the standalone plugin explains; the server would refuse it */
  }

  struct conf c = {DEFAULT_SOCKET, DEFAULT_TIMEOUT_MS, "1.1.0"};
  const char *env_socket = getenv("TORTIE_CNI_SOCKET");
  if (env_socket && env_socket[0] == '/' && strlen(env_socket) < sizeof c.socket) strcpy(c.socket, env_socket);
  scan_conf(in.data ? in.data : "", in.len, &c);
  if (in.len > MAX_STDIN) fallback(&in, &c);

  struct buf req = {0};
  struct buf env = {0};
  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "CNI_", 4) == 0 && strchr(*e, '=') && strncmp(*e, PIDNS_VAR "=", sizeof PIDNS_VAR) != 0) buf_put(&env, *e, strlen(*e) + 1);
  }
  /* Our PID namespace: the server opens a CNI_NETNS of /proc/PID/ns/net only if it shares it. */
  struct stat pidns;
  if (stat("/proc/self/ns/pid", &pidns) == 0) {
    char entry[64];
    int n = snprintf(entry, sizeof entry, PIDNS_VAR "=%llu", (unsigned long long)pidns.st_ino);
    buf_put(&env, entry, (size_t)n + 1);
  }
  buf_put(&req, "TCN1", 4);
  buf_u32(&req, (uint32_t)env.len);
  if (env.len) buf_put(&req, env.data, env.len);
  buf_u32(&req, (uint32_t)in.len);
  if (in.len) buf_put(&req, in.data, in.len);

  int64_t deadline = now_ms() + c.timeout_ms;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fallback(&in, &c);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, c.socket, sizeof addr.sun_path - 1); /* c.socket is NUL-terminated and fits */
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    /* A full backlog on a unix socket says EAGAIN: the agent is alive but slow; wait for it. */
    if (errno != EAGAIN && errno != EINPROGRESS) fallback(&in, &c);
    struct pollfd pfd = {fd, POLLOUT, 0};
    int left = (int)(deadline - now_ms());
    int err = 0;
    socklen_t len = sizeof err;
    if (left <= 0 || poll(&pfd, 1, left) <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
      /* EAGAIN from connect(2) on unix sockets cannot be polled on: try once more. */
      if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EISCONN) fallback(&in, &c);
    }
  }
  uint8_t tag;
  if (send_all(fd, req.data, req.len, deadline) < 0 || recv_all(fd, &tag, 1, deadline) < 0 || tag != 'A') {
    close(fd);
    fallback(&in, &c);
  }
  tag = 'G';
  if (send_all(fd, &tag, 1, now_ms() + 10000) < 0) {
    /* The agent may have seen the 'G': falling back could run the request twice. */
    fail_json(c.version, 11, "the tortie agent stopped answering", "sending the go to the CNI server failed");
  }

  /* The agent runs it now: no timeout, an ADD waits for IPAM and the kernel. */
  uint8_t head[9];
  if (recv_all(fd, head, 9, -1) < 0 || head[0] != 'R') fail_json(c.version, 11, "the tortie agent stopped while handling this request", "connection to the CNI server closed");
  uint32_t exit_code = le32(head + 1), out_len = le32(head + 5);
  if (out_len > MAX_STDIN) fail_json(c.version, 5, "the tortie agent sent a malformed answer", "stdout too long");
  char *out = malloc(out_len + 4);
  if (!out || recv_all(fd, out, out_len + 4, -1) < 0) fail_json(c.version, 11, "the tortie agent stopped while handling this request", "connection to the CNI server closed");
  uint32_t err_len = le32((uint8_t *)out + out_len);
  if (err_len > MAX_STDIN) fail_json(c.version, 5, "the tortie agent sent a malformed answer", "stderr too long");
  char *err = malloc(err_len + 1);
  if (!err || recv_all(fd, err, err_len, -1) < 0) fail_json(c.version, 11, "the tortie agent stopped while handling this request", "connection to the CNI server closed");
  close(fd);
  write_fd(2, err, err_len);
  write_fd(1, out, out_len);
  return (int)(exit_code & 0xff);
}
