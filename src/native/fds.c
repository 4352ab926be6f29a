// File descriptors made outside libuv: the pipes a worker's stdout and stderr are
// written to (close-on-exec, grown with F_SETPIPE_SZ, see pipe(7)) and the listening
// socket the workers share as fd 3.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "addon.h"
#include "napi_util.h"

// pipe() -> [readFd, writeFd], both close-on-exec (the write end is dup2'd onto the
// worker's stdout or stderr in the child, which clears the flag there); -errno on failure.
napi_value Pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  napi_value arr, v;
  CHECK(env, napi_create_array_with_length(env, 2, &arr));
  if (pipe2(fds, O_CLOEXEC) < 0) {
    napi_create_int32(env, -errno, &v);
    napi_set_element(env, arr, 0, v);
    napi_set_element(env, arr, 1, v);
    return arr;
  }
  for (uint32_t i = 0; i < 2; i++) {
    napi_create_int32(env, fds[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

// growPipe(fd, bytes) -> the pipe's capacity after the call, 0 when fd is not a pipe, or
// -errno. Only ever grows it; a refusal (a user's pipe-user-pages limit) leaves it as it was.
napi_value GrowPipe(napi_env env, napi_callback_info info) {
  int32_t a[2];
  size_t argc = 2;
  napi_value argv[2], r;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_int32(env, argv[0], &a[0]) != napi_ok || napi_get_value_int32(env, argv[1], &a[1]) != napi_ok) {
    napi_throw_type_error(env, NULL, "growPipe(fd, bytes)");
    return NULL;
  }
  struct stat st;
  int size;
  if (fstat(a[0], &st) < 0) size = -errno;
  else if (!S_ISFIFO(st.st_mode)) size = 0;
  else {
    size = fcntl(a[0], F_GETPIPE_SZ);
    if (size < 0) size = -errno;
    else if (size < a[1]) {
      int grown = fcntl(a[0], F_SETPIPE_SZ, a[1]);
      if (grown > 0) size = grown;
    }
  }
  CHECK(env, napi_create_int32(env, size, &r));
  return r;
}

// listenSocket(host, port, backlog) -> fd (>= 0) or -errno. A plain blocking socket made
// outside libuv and close-on-exec in corral: libuv must never accept on it, and the
// workers' blocking accept() must not spin on EAGAIN (O_NONBLOCK is shared by all).
napi_value ListenSocket(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], r;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *host = argc >= 1 ? get_str(env, argv[0]) : NULL;
  int32_t port = 0, backlog = 1024;
  if (host == NULL || argc < 2 || !get_i32(env, argv[1], &port)) {
    free(host);
    return throw_usage(env, "listenSocket(host, port, backlog)");
  }
  if (argc >= 3) get_i32(env, argv[2], &backlog);
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  int family = strchr(host, ':') ? AF_INET6 : AF_INET;
  int ok;
  if (family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    ok = inet_pton(AF_INET6, host, &a->sin6_addr) == 1;
    len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    ok = inet_pton(AF_INET, host, &a->sin_addr) == 1;
    len = sizeof *a;
  }
  free(host);
  int err = ok ? 0 : EINVAL;
  int fd = err ? -1 : socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (!err && fd < 0) err = errno;
  int one = 1, zero = 0;
  if (!err) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!err && family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (!err && bind(fd, (struct sockaddr *)&ss, len) < 0) err = errno;
  if (!err && listen(fd, backlog) < 0) err = errno;
  if (err && fd >= 0) close(fd);
  CHECK(env, napi_create_int32(env, err ? -err : fd, &r));
  return r;
}
