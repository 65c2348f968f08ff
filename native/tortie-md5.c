/*
 * tortie-md5: the two socket calls Node.js cannot make, for BGP session passwords (RFC 2385
 * TCP MD5 signatures). A plain C Node-API addon, loaded by src/bgp/session/md5-addon.ts:
 *
 *   socket(family: 4 | 6): number
 *       a new, unconnected, non-blocking TCP socket; Node wraps it (`new net.Socket({ fd })`)
 *       and connects it after the key is set, so the SYN already carries the signature.
 *   setKey(fd: number, peer: string, key: Buffer | null): void
 *       TCP_MD5SIG for one peer address on a socket (a connecting socket, or a listener: accepted
 *       connections inherit its keys); a null or empty key removes the peer's key. An IPv4 peer on
 *       an IPv6 socket (a dual-stack listener) is given as ::ffff:a.b.c.d, which Linux files as
 *       an IPv4 key.
 *   close(fd: number): void
 *       for a socket Node never took.
 *
 * Errors are thrown with `code` set to the errno name (EINVAL, ENOENT, ...) or TORTIE_MD5_ARG.
 * Keys never appear in messages. Built with the system cc against Node's own headers
 * (no node-gyp): see md5-addon.ts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>

static napi_value throw_errno(napi_env env, const char *what) {
  int e = errno;
  const char *name = NULL;
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 32)
  name = strerrorname_np(e);
#endif
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  napi_throw_error(env, name ? name : "TORTIE_MD5_SYSCALL", msg);
  return NULL;
}

static napi_value throw_arg(napi_env env, const char *msg) {
  napi_throw_error(env, "TORTIE_MD5_ARG", msg);
  return NULL;
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return -1;
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

static napi_value js_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t family;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || get_int(env, argv[0], &family) != 0 || (family != 4 && family != 6))
    return throw_arg(env, "socket(family): family must be 4 or 6");
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return throw_errno(env, "socket");
  napi_value r;
  napi_create_int32(env, fd, &r);
  return r;
}

static napi_value js_set_key(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || get_int(env, argv[0], &fd) != 0 || fd < 0)
    return throw_arg(env, "setKey(fd, peer, key): fd must be a file descriptor");

  char addr[INET6_ADDRSTRLEN + 1];
  size_t addrlen = 0;
  if (napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &addrlen) != napi_ok || addrlen == 0 || addrlen >= sizeof addr - 1)
    return throw_arg(env, "setKey(fd, peer, key): peer must be an IP address");

  struct tcp_md5sig sig;
  memset(&sig, 0, sizeof sig);
  napi_valuetype kt;
  napi_typeof(env, argv[2], &kt);
  if (kt != napi_null && kt != napi_undefined) {
    bool isbuf = false;
    void *data;
    size_t len;
    if (napi_is_buffer(env, argv[2], &isbuf) != napi_ok || !isbuf || napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok)
      return throw_arg(env, "setKey(fd, peer, key): key must be a Buffer or null");
    if (len > TCP_MD5SIG_MAXKEYLEN) return throw_arg(env, "setKey(fd, peer, key): key longer than 80 bytes (TCP_MD5SIG_MAXKEYLEN)");
    memcpy(sig.tcpm_key, data, len);
    sig.tcpm_keylen = (uint16_t)len;
  }

  /* The key's address must be in the socket's own family; IPv4 on an IPv6 socket is v4-mapped. */
  int domain = 0;
  socklen_t dl = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) != 0) return throw_errno(env, "getsockopt(SO_DOMAIN)");
  struct in_addr v4;
  struct in6_addr v6;
  if (inet_pton(AF_INET, addr, &v4) == 1) {
    if (domain == AF_INET) {
      struct sockaddr_in *sin = (struct sockaddr_in *)&sig.tcpm_addr;
      sin->sin_family = AF_INET;
      sin->sin_addr = v4;
    } else {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sig.tcpm_addr;
      sin6->sin6_family = AF_INET6;
      sin6->sin6_addr.s6_addr[10] = 0xff;
      sin6->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&sin6->sin6_addr.s6_addr[12], &v4, 4);
    }
  } else if (inet_pton(AF_INET6, addr, &v6) == 1) {
    if (domain != AF_INET6) return throw_arg(env, "setKey(fd, peer, key): an IPv6 peer needs an IPv6 socket");
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sig.tcpm_addr;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = v6;
  } else {
    return throw_arg(env, "setKey(fd, peer, key): peer must be an IP address");
  }

  int rc = setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig);
  memset(sig.tcpm_key, 0, sizeof sig.tcpm_key);
  if (rc != 0) return throw_errno(env, "setsockopt(TCP_MD5SIG)");
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || get_int(env, argv[0], &fd) != 0 || fd < 0)
    return throw_arg(env, "close(fd): fd must be a file descriptor");
  if (close(fd) != 0) return throw_errno(env, "close");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"socket", NULL, js_socket, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setKey", NULL, js_set_key, NULL, NULL, NULL, napi_enumerable, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

#ifndef NODE_GYP_MODULE_NAME
#define NODE_GYP_MODULE_NAME tortie_md5
#endif
NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
