/*
 * tortie-nl: a relay between tortie's route controller (Node.js, which cannot open AF_NETLINK
 * sockets) and the kernel's NETLINK_ROUTE. All netlink encoding and decoding happens in
 * TypeScript (src/dataplane/netlink.ts); this program only moves bytes, so that requests can be
 * pipelined (many in flight, acks collected as they come) instead of one ack per round trip.
 *
 * Usage: tortie-nl [--monitor-rcvbuf BYTES | --no-monitor] [NETNS_PATH]
 *   NETNS_PATH: e.g. /run/netns/NAME; without it, the current namespace.
 *   --monitor-rcvbuf: the notification socket's receive buffer (default 32 MiB); tests shrink it
 *   to force ENOBUFS.
 *   --no-monitor: no notification socket (the CNI server only sends requests).
 *
 * Frames on stdin and stdout: u32 length (of payload, little endian), u8 tag, 3 bytes zero, payload.
 *   stdin  tag 1: netlink messages to send on the request socket (one sendmsg per frame)
 *   stdin  tag 2: write a sysctl: u32 id, then "path\0value" (path under /proc/sys/)
 *   stdin  tag 3: open a namespace: u32 id, then "path\0" (a netns file, e.g. /proc/PID/ns/net;
 *                 empty: the relay's own). Opens the file and a NETLINK_ROUTE socket inside that
 *                 namespace (setns there and back), so one relay serves any number of pods.
 *   stdin  tag 4: u32 socket, then netlink messages to send on a socket from tag 3
 *   stdin  tag 5: close: i32 namespace fd, i32 socket (either -1)
 *   stdout tag 0: hello: u32 portid of the request socket
 *   stdout tag 1: one datagram received on the request socket (acks, dump parts)
 *   stdout tag 2: one datagram received on the monitor socket (route and link notifications,
 *                 minus the echoes of our own requests, which the caller already knows about)
 *   stdout tag 3: the monitor socket overflowed (ENOBUFS): notifications were lost
 *   stdout tag 4: the request socket overflowed or failed: u32 errno; acks may have been lost
 *   stdout tag 5: sysctl result: u32 id, i32 errno (0 = done)
 *   stdout tag 6: successful acks for a run of sequence numbers: u32 first, u32 last. The kernel
 *                 answers one socket's requests in order, so 100k good acks shrink to a few
 *                 frames; errors still come one by one under tag 1, in order with the runs.
 *   stdout tag 7: namespace opened: u32 id, i32 errno (0 = done), i32 namespace fd (-1 for the
 *                 relay's own; usable as IFLA_NET_NS_FD in later requests), i32 socket
 *   stdout tag 8: u32 socket, then one datagram received on that socket
 *   stdout tag 9: u32 socket, i32 errno: the end of the replies to one tag 4 frame. rtnetlink
 *                 handles a request inside sendmsg(2), and a dump continues inside recvmsg(2), so
 *                 once the socket reads empty every reply (dumps included) has been forwarded.
 * Exits 0 when stdin closes; nonzero with a message on stderr on a setup failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define OUT_FLUSH (256 * 1024)
#define SLOT_SIZE (64 * 1024) /* netlink caps a datagram at 32 KiB */

static uint8_t *out;
static size_t out_len, out_cap;

static void die(const char *what) {
  fprintf(stderr, "tortie-nl: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void flush_acks(void);

static void flush_out(void) {
  flush_acks(); /* a pending run goes out with everything else */
  size_t off = 0;
  while (off < out_len) {
    ssize_t n = write(1, out + off, out_len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd p = {.fd = 1, .events = POLLOUT};
        poll(&p, 1, -1);
        continue;
      }
      exit(0); /* the reader has gone: nothing left to do */
    }
    off += (size_t)n;
  }
  out_len = 0;
}

static uint8_t *out_frame(uint8_t tag, size_t len) {
  if (out_len + 8 + len > out_cap) {
    flush_out();
    if (8 + len > out_cap) {
      out_cap = 8 + len;
      out = realloc(out, out_cap);
      if (!out) die("realloc");
    }
  }
  uint8_t *h = out + out_len;
  uint32_t l = (uint32_t)len;
  memcpy(h, &l, 4);
  h[4] = tag;
  h[5] = h[6] = h[7] = 0;
  out_len += 8 + len;
  return h + 8;
}

/* Returns the socket or -errno. */
static int try_open_nl(int rcvbuf, unsigned groups) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) return -errno;
  int one = 1;
  /* FORCE needs CAP_NET_ADMIN, which the agent has; fall back to the capped size otherwise. */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int sndbuf = 4 * 1024 * 1024;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  /* Acks carry only the request's header, and errors carry the kernel's message text. */
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = groups};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

static int open_nl(int rcvbuf, unsigned groups) {
  int fd = try_open_nl(rcvbuf, groups);
  if (fd < 0) {
    errno = -fd;
    die("netlink socket");
  }
  return fd;
}

/* Namespace sockets (tag 3): only these may be named by tag 4 and 5 frames. */
#define MAX_NS_SOCKETS 256
static int ns_sockets[MAX_NS_SOCKETS];
static int ns_fds[MAX_NS_SOCKETS];
static int own_ns = -1;

static int ns_socket_known(int fd) {
  for (int i = 0; i < MAX_NS_SOCKETS; i++)
    if (ns_sockets[i] == fd && fd >= 0) return i;
  return -1;
}

static void do_open_ns(const uint8_t *p, size_t len) {
  uint32_t id = 0;
  int32_t err = 0, nsfd = -1, sock = -1;
  int slot = -1;
  if (len >= 4) memcpy(&id, p, 4);
  const char *path = (const char *)p + 4;
  size_t plen = len > 4 ? strnlen(path, len - 4) : 0;
  for (int i = 0; i < MAX_NS_SOCKETS && slot < 0; i++)
    if (ns_sockets[i] < 0) slot = i;
  if (len < 5 || plen == len - 4) {
    err = EINVAL; /* no terminating NUL */
  } else if (slot < 0) {
    err = EMFILE;
  } else if (plen == 0) {
    int r = try_open_nl(1024 * 1024, 0);
    if (r < 0) err = -r;
    else sock = r;
  } else if ((nsfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
    err = errno;
  } else if (setns(nsfd, CLONE_NEWNET) < 0) {
    err = errno; /* EINVAL: not a network namespace */
  } else {
    int r = try_open_nl(1024 * 1024, 0);
    if (r < 0) err = -r;
    else sock = r;
    /* Back home: later sockets and the namespace fd's users must not land in the pod. */
    if (setns(own_ns, CLONE_NEWNET) < 0) die("setns back to the relay's namespace");
  }
  if (err && nsfd >= 0) {
    close(nsfd);
    nsfd = -1;
  }
  if (!err) {
    ns_sockets[slot] = sock;
    ns_fds[slot] = nsfd;
  }
  uint8_t *o = out_frame(7, 16);
  memcpy(o, &id, 4);
  memcpy(o + 4, &err, 4);
  memcpy(o + 8, &nsfd, 4);
  memcpy(o + 12, &sock, 4);
}

static void do_ns_send(const uint8_t *p, size_t len, uint8_t *slots) {
  int32_t sock = -1, err = 0;
  if (len >= 4) memcpy(&sock, p, 4);
  if (len < 4 || ns_socket_known(sock) < 0) err = EBADF;
  while (!err && len > 4) {
    if (send(sock, p + 4, len - 4, 0) >= 0) break;
    if (errno != EINTR) err = errno;
  }
  /* The replies are queued by now (see tag 9 above): forward until the socket reads empty. */
  while (!err) {
    ssize_t n = recv(sock, slots, SLOT_SIZE, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) err = errno;
      break;
    }
    uint8_t *o = out_frame(8, 4 + (size_t)n);
    memcpy(o, &sock, 4);
    memcpy(o + 4, slots, (size_t)n);
  }
  uint8_t *o = out_frame(9, 8);
  memcpy(o, &sock, 4);
  memcpy(o + 4, &err, 4);
}

static void do_ns_close(const uint8_t *p, size_t len) {
  int32_t nsfd = -1, sock = -1;
  if (len < 8) return;
  memcpy(&nsfd, p, 4);
  memcpy(&sock, p + 4, 4);
  int i = ns_socket_known(sock);
  if (i < 0 || ns_fds[i] != nsfd) return; /* only what tag 3 opened, and as a pair */
  close(sock);
  if (nsfd >= 0) close(nsfd);
  ns_sockets[i] = -1;
  ns_fds[i] = -1;
}

static uint32_t portid_of(int fd) {
  struct sockaddr_nl sa;
  socklen_t sl = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) die("getsockname");
  return sa.nl_pid;
}

/*
 * Drops the echoes of our own requests (nlmsg_pid == our request socket's port id) in the kernel,
 * before they are queued: a 100k-route install then costs no 100k notifications to receive and
 * filter here, and cannot fill the monitor buffer by itself. Route and link notifications carry
 * one message per datagram. Classic BPF loads words in network byte order, hence htonl. If the
 * filter cannot be attached, deliver() still filters in user space.
 */
static void drop_own_echoes(int fd, uint32_t own_portid) {
  if (fd < 0) return; /* no monitor socket */
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_pid)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(own_portid), 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0),
      BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

static void do_sysctl(const uint8_t *p, size_t len) {
  uint32_t id;
  int32_t err = 0;
  if (len < 5) return;
  memcpy(&id, p, 4);
  const char *path = (const char *)p + 4;
  size_t plen = strnlen(path, len - 4);
  if (plen + 1 >= len - 4 || plen == 0 || strstr(path, "..")) {
    err = EINVAL;
  } else {
    const char *value = path + plen + 1;
    size_t vlen = len - 4 - plen - 1;
    char full[512];
    if (snprintf(full, sizeof full, "/proc/sys/%s", path) >= (int)sizeof full) {
      err = ENAMETOOLONG;
    } else {
      int fd = open(full, O_WRONLY | O_CLOEXEC);
      if (fd < 0) err = errno;
      else {
        if (write(fd, value, vlen) < 0) err = errno;
        close(fd);
      }
    }
  }
  uint8_t *o = out_frame(5, 8);
  memcpy(o, &id, 4);
  memcpy(o + 4, &err, 4);
}

static int ack_run_open;
static uint32_t ack_first, ack_last;

static void flush_acks(void) {
  if (!ack_run_open) return;
  ack_run_open = 0; /* first: out_frame may flush, which calls us again */
  uint8_t *o = out_frame(6, 8);
  memcpy(o, &ack_first, 4);
  memcpy(o + 4, &ack_last, 4);
}

/* A datagram that is exactly one successful ack joins the current run of good acks. */
static int absorb_ack(const uint8_t *buf, size_t n) {
  const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
  if (n < NLMSG_HDRLEN + sizeof(int) || !NLMSG_OK(h, n) || h->nlmsg_type != NLMSG_ERROR) return 0;
  if (NLMSG_ALIGN(h->nlmsg_len) < n) return 0; /* more than one message */
  int err;
  memcpy(&err, buf + NLMSG_HDRLEN, sizeof err);
  if (err != 0) return 0;
  if (ack_run_open && h->nlmsg_seq == ack_last + 1) {
    ack_last = h->nlmsg_seq;
  } else {
    flush_acks();
    ack_run_open = 1;
    ack_first = ack_last = h->nlmsg_seq;
  }
  return 1;
}

/* One received datagram: tagged and queued for Node. Drops our own echoes on the monitor. */
static void deliver(uint8_t *buf, size_t n, uint8_t tag, uint32_t own_portid) {
  if (tag == 2) {
    /* Keep only messages not caused by our request socket. */
    size_t kept = 0;
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    size_t rem = n;
    uint8_t *dst = buf;
    while (NLMSG_OK(h, rem)) {
      size_t al = NLMSG_ALIGN(h->nlmsg_len);
      if (al > rem) al = rem;
      if (h->nlmsg_pid != own_portid) {
        memmove(dst + kept, h, al);
        kept += al;
      }
      h = (struct nlmsghdr *)((uint8_t *)h + al);
      rem -= al;
    }
    if (kept) memcpy(out_frame(2, kept), buf, kept);
  } else if (!absorb_ack(buf, n)) {
    flush_acks(); /* keep order: the run before this message is reported first */
    memcpy(out_frame(1, n), buf, n);
  }
  if (out_len >= OUT_FLUSH) flush_out();
}

/*
 * Reads everything the socket holds now, up to BATCH datagrams per recvmmsg(2): a 100k-route
 * install brings 100k acks, and one system call each would cost more than the routes.
 */
#define BATCH 64
#define SLOT SLOT_SIZE
static struct mmsghdr msgs[BATCH];
static struct iovec iovs[BATCH];

static void drain(int fd, uint8_t tag, uint32_t own_portid, uint8_t *slots) {
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      iovs[i].iov_base = slots + (size_t)i * SLOT;
      iovs[i].iov_len = SLOT;
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int got = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (tag == 1) flush_acks();
        return;
      }
      if (errno == ENOBUFS) {
        if (tag == 2) out_frame(3, 0);
        else {
          uint32_t e = ENOBUFS;
          memcpy(out_frame(4, 4), &e, 4);
        }
        continue;
      }
      uint32_t e = (uint32_t)errno;
      memcpy(out_frame(4, 4), &e, 4);
      return;
    }
    for (int i = 0; i < got; i++) deliver(slots + (size_t)i * SLOT, msgs[i].msg_len, tag, own_portid);
  }
}

int main(int argc, char **argv) {
  int mon_rcvbuf = 32 * 1024 * 1024;
  int monitor = 1;
  int argi = 1;
  if (argc > 1 && strcmp(argv[1], "--no-monitor") == 0) {
    monitor = 0;
    argi = 2;
  } else if (argc > 2 && strcmp(argv[1], "--monitor-rcvbuf") == 0) {
    mon_rcvbuf = atoi(argv[2]);
    if (mon_rcvbuf < 4096) {
      fprintf(stderr, "tortie-nl: --monitor-rcvbuf %s: needs a byte count of at least 4096\n", argv[2]);
      return 2;
    }
    argi = 3;
  }
  if (argc > argi) {
    int nsfd = open(argv[argi], O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) die(argv[argi]);
    if (setns(nsfd, CLONE_NEWNET) < 0) die("setns");
    close(nsfd);
  }
  own_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own_ns < 0) die("/proc/thread-self/ns/net");
  for (int i = 0; i < MAX_NS_SOCKETS; i++) ns_sockets[i] = ns_fds[i] = -1;
  /* A bigger pipe means fewer wake-ups of Node while a 100k-route dump streams through. */
  fcntl(1, F_SETPIPE_SZ, 1024 * 1024);
  out_cap = 1024 * 1024;
  out = malloc(out_cap);
  uint8_t *buf = malloc((size_t)BATCH * SLOT);
  size_t in_cap = 1024 * 1024, in_len = 0;
  uint8_t *in = malloc(in_cap);
  if (!out || !buf || !in) die("malloc");

  int req = open_nl(32 * 1024 * 1024, 0);
  int mon = monitor ? open_nl(mon_rcvbuf, 0) : -1;
  /* Group membership by number covers the groups above 32 as well. */
  int groups[] = {RTNLGRP_LINK, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE};
  for (unsigned i = 0; monitor && i < sizeof groups / sizeof groups[0]; i++)
    if (setsockopt(mon, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof groups[i]) < 0)
      die("NETLINK_ADD_MEMBERSHIP");
  uint32_t own = portid_of(req);
  drop_own_echoes(mon, own);
  memcpy(out_frame(0, 4), &own, 4);
  flush_out();

  struct pollfd pfd[3] = {{.fd = 0, .events = POLLIN}, {.fd = req, .events = POLLIN}, {.fd = mon, .events = POLLIN}};
  int stdin_open = 1;
  while (stdin_open) {
    if (poll(pfd, monitor ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (monitor && pfd[2].revents) drain(mon, 2, own, buf);
    if (pfd[1].revents) drain(req, 1, own, buf);
    if (pfd[0].revents) {
      if (in_cap - in_len < 65536) {
        in_cap *= 2;
        in = realloc(in, in_cap);
        if (!in) die("realloc");
      }
      ssize_t n = read(0, in + in_len, in_cap - in_len);
      if (n < 0 && errno != EINTR && errno != EAGAIN) die("read(stdin)");
      if (n == 0) stdin_open = 0;
      if (n > 0) in_len += (size_t)n;
      size_t off = 0;
      while (in_len - off >= 8) {
        uint32_t len;
        memcpy(&len, in + off, 4);
        if (in_len - off < 8 + (size_t)len) break;
        uint8_t tag = in[off + 4];
        uint8_t *p = in + off + 8;
        if (tag == 1) {
          for (;;) {
            ssize_t s = send(req, p, len, 0);
            if (s >= 0) break;
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
              /* The kernel handles sends inline; EAGAIN means our receive side is full. */
              drain(req, 1, own, buf);
              struct pollfd w = {.fd = req, .events = POLLOUT};
              poll(&w, 1, 10);
              continue;
            }
            uint32_t e = (uint32_t)errno;
            memcpy(out_frame(4, 4), &e, 4);
            break;
          }
          /* Collect acks between sends so the receive buffer never fills. */
          drain(req, 1, own, buf);
          if (monitor) drain(mon, 2, own, buf);
        } else if (tag == 2) {
          do_sysctl(p, len);
        } else if (tag == 3) {
          do_open_ns(p, len);
        } else if (tag == 4) {
          do_ns_send(p, len, buf);
        } else if (tag == 5) {
          do_ns_close(p, len);
        }
        off += 8 + (size_t)len;
      }
      memmove(in, in + off, in_len - off);
      in_len -= off;
    }
    flush_out();
  }
  flush_out();
  return 0;
}
