// One blocking HTTP exchange for `corral probe` and `corral status`: resolve, connect, send
// the request, read until the server closes, each step bounded by one deadline. A probe is a
// short-lived CLI that does nothing else meanwhile; done here it needs neither node:net nor
// node:stream, which cost a HEALTHCHECK more than the rest of the probe.
//
//   httpExchange(host, port, request, timeoutMs) -> Buffer (the whole answer)
//                                                  | string (why not, as Node words it:
//                                                    "connect ECONNREFUSED 127.0.0.1:1")

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addon.h"
#include "napi_util.h"

#define MAX_ANSWER (4 << 20)

static const char *errno_name(int err) {
  switch (err) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EPIPE: return "EPIPE";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: return strerror(err);
  }
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Waits for events on fd until the deadline: 1 ready, 0 timed out, -1 error (errno).
static int wait_fd(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {fd, events, 0};
    int r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return -1;
  }
}

static void address_text(const struct sockaddr *sa, char *out, size_t size) {
  const void *a = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
  if (inet_ntop(sa->sa_family, a, out, (socklen_t)size) == NULL) snprintf(out, size, "?");
}

// A connected socket to one of host's addresses, or -1 with why in `why`.
static int connect_any(const char *host, int port, long long deadline, char *why, size_t size) {
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  struct addrinfo hints, *list = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  int g = getaddrinfo(host, service, &hints, &list);
  if (g != 0) {
    snprintf(why, size, "getaddrinfo %s %s", g == EAI_NONAME || g == EAI_NODATA ? "ENOTFOUND" : gai_strerror(g), host);
    return -1;
  }
  int fd = -1;
  for (struct addrinfo *ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
    char addr[64];
    address_text(ai->ai_addr, addr, sizeof addr);
    int s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) {
      snprintf(why, size, "socket %s", errno_name(errno));
      continue;
    }
    int err = 0;
    if (connect(s, ai->ai_addr, ai->ai_addrlen) < 0) {
      err = errno;
      if (err == EINPROGRESS) {
        int w = wait_fd(s, POLLOUT, deadline);
        socklen_t len = sizeof err;
        if (w == 0) err = ETIMEDOUT;
        else if (w < 0) err = errno;
        else if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
      }
    }
    if (err == 0) {
      fd = s;
      break;
    }
    snprintf(why, size, "connect %s %s:%d", errno_name(err), addr, port);
    close(s);
  }
  freeaddrinfo(list);
  return fd;
}

// Sends req and reads the answer until EOF into *out (malloc'd); 0, or -1 with why.
static int exchange(int fd, const char *req, size_t req_len, long long deadline, int timeout_ms, char **out, size_t *out_len, char *why, size_t size) {
  size_t sent = 0;
  while (sent < req_len) {
    ssize_t w = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
    if (w > 0) {
      sent += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int r = wait_fd(fd, POLLOUT, deadline);
      if (r > 0) continue;
      if (r == 0) snprintf(why, size, "no answer within %d ms", timeout_ms);
      else snprintf(why, size, "write %s", errno_name(errno));
      return -1;
    }
    snprintf(why, size, "write %s", errno_name(errno));
    return -1;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (buf == NULL) {
    snprintf(why, size, "out of memory");
    return -1;
  }
  for (;;) {
    if (len == cap) {
      if (cap >= MAX_ANSWER) break;  // enough of an answer to judge it
      char *more = realloc(buf, cap * 2);
      if (more == NULL) break;
      buf = more;
      cap *= 2;
    }
    ssize_t r = recv(fd, buf + len, cap - len, 0);
    if (r > 0) {
      len += (size_t)r;
      continue;
    }
    if (r == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int p = wait_fd(fd, POLLIN, deadline);
      if (p > 0) continue;
      if (p == 0) snprintf(why, size, "no answer within %d ms", timeout_ms);
      else snprintf(why, size, "read %s", errno_name(errno));
      free(buf);
      return -1;
    }
    snprintf(why, size, "read %s", errno_name(errno));
    free(buf);
    return -1;
  }
  *out = buf;
  *out_len = len;
  return 0;
}

napi_value HttpExchange(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t port = 0, timeout_ms = 0;
  char *host = argc >= 1 ? get_str(env, argv[0]) : NULL;
  char *req = argc >= 3 ? get_str(env, argv[2]) : NULL;
  if (host == NULL || req == NULL || argc < 4 || !get_i32(env, argv[1], &port) || !get_i32(env, argv[3], &timeout_ms) || port <= 0 || port > 65535 || timeout_ms <= 0) {
    free(host);
    free(req);
    return throw_usage(env, "httpExchange(host, port, request, timeoutMs)");
  }
  long long deadline = now_ms() + timeout_ms;
  char why[256] = "";
  char *answer = NULL;
  size_t answer_len = 0;
  int fd = connect_any(host, port, deadline, why, sizeof why);
  int ok = fd >= 0 && exchange(fd, req, strlen(req), deadline, timeout_ms, &answer, &answer_len, why, sizeof why) == 0;
  if (fd >= 0) close(fd);
  free(host);
  free(req);
  if (!ok) {
    CHECK(env, napi_create_string_utf8(env, why[0] ? why : "no answer", NAPI_AUTO_LENGTH, &result));
    return result;
  }
  void *data = NULL;
  napi_status st = napi_create_buffer_copy(env, answer_len, answer, &data, &result);
  free(answer);
  CHECK(env, st);
  return result;
}
