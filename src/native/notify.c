// sd_notify(3) for corral: the receiver corral binds ($NOTIFY_SOCKET) and the sender
// a Node worker uses (corral/worker).
//
// One AF_UNIX datagram socket (path, or abstract when the address starts with '@'),
// with SO_PASSCRED so every message carries the sender's pid: a READY=1 sent by a
// grandchild is attributed to the worker whose process group it belongs to. libuv
// polls the fd; each wake-up drains the socket and hands JS [pid, text, pid, text, ...].

#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "addon.h"
#include "napi_util.h"

// ---- receiver ----

typedef struct {
  int fd;
  uv_poll_t poll;
  napi_threadsafe_function tsfn;
} notify_state;

static notify_state *notify = NULL;

static void notify_drain_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  (void)data;
  if (env == NULL || notify == NULL) return;
  napi_value arr;
  if (napi_create_array(env, &arr) != napi_ok) return;
  uint32_t n = 0;
  char buf[65536];
  char cbuf[CMSG_SPACE(sizeof(struct ucred))];
  for (;;) {
    struct iovec iov = {buf, sizeof buf - 1};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    ssize_t r = recvmsg(notify->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN: drained
    }
    int32_t pid = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        pid = (int32_t)cred.pid;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        // Passed fds (FDSTORE=1) are not kept: close them instead of leaking.
        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int fds[64];
        if (nfd > 64) nfd = 64;
        memcpy(fds, CMSG_DATA(c), nfd * sizeof(int));
        for (size_t i = 0; i < nfd; i++) close(fds[i]);
      }
    }
    // A message JS cannot be given (no memory for its string) is dropped, as a full
    // socket queue would drop it; the drain goes on so the socket does not fill up.
    napi_value p, t;
    if (napi_create_int32(env, pid, &p) != napi_ok || napi_create_string_utf8(env, buf, (size_t)r, &t) != napi_ok) continue;
    if (napi_set_element(env, arr, n, p) != napi_ok || napi_set_element(env, arr, n + 1, t) != napi_ok) continue;
    n += 2;
  }
  if (n == 0) return;
  napi_value undef;
  napi_get_undefined(env, &undef);
  napi_call_function(env, undef, js_cb, 1, &arr, NULL);
}

static void notify_on_poll(uv_poll_t *h, int status, int events) {
  (void)h;
  (void)status;
  (void)events;
  if (notify) napi_call_threadsafe_function(notify->tsfn, NULL, napi_tsfn_nonblocking);
}

static int unix_addr(const char *address, struct sockaddr_un *sa, socklen_t *len) {
  size_t n = strlen(address);
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (n == 0 || n >= sizeof sa->sun_path) return -1;
  memcpy(sa->sun_path, address, n);
  if (address[0] == '@') sa->sun_path[0] = '\0';  // abstract namespace: no trailing NUL
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (address[0] == '@' ? 0 : 1));
  return 0;
}

// A JS string naming a unix socket (a path, or '@name' in the abstract namespace) as a
// sockaddr: 0, ENAMETOOLONG, or -1 when v is not a string.
static int unix_addr_arg(napi_env env, napi_value v, struct sockaddr_un *sa, socklen_t *len) {
  char *address = get_str(env, v);
  if (address == NULL) return -1;
  int err = unix_addr(address, sa, len) < 0 ? ENAMETOOLONG : 0;
  free(address);
  return err;
}

// notifyOpen(address, onMessages): binds the receiver; returns 0 or an errno.
napi_value NotifyOpen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], r;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un sa;
  socklen_t len;
  int err = argc >= 2 && notify == NULL ? unix_addr_arg(env, argv[0], &sa, &len) : -1;
  if (err < 0) {
    return throw_usage(env, "notifyOpen(address, callback), once");
  }
  int fd = err ? -1 : socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (!err && fd < 0) err = errno;
  int one = 1;
  if (!err && setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0) err = errno;
  // Large enough that a burst of X_CORRAL_BATCH records from many workers is not dropped.
  int rcvbuf = 4 << 20;
  if (!err) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (!err && bind(fd, (struct sockaddr *)&sa, len) < 0) err = errno;
  if (err) {
    if (fd >= 0) close(fd);
    CHECK(env, napi_create_int32(env, err, &r));
    return r;
  }
  notify_state *st = calloc(1, sizeof *st);
  if (st == NULL) {
    close(fd);
    CHECK(env, napi_create_int32(env, ENOMEM, &r));
    return r;
  }
  st->fd = fd;
  uv_loop_t *loop;
  napi_value name;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok ||
      napi_create_string_utf8(env, "corral-notify", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, notify_drain_js, &st->tsfn) != napi_ok) {
    close(fd);
    free(st);
    return throw_usage(env, "notifyOpen(address, callback), once");
  }
  napi_unref_threadsafe_function(env, st->tsfn);
  notify = st;
  uv_poll_init(loop, &notify->poll, fd);
  uv_poll_start(&notify->poll, UV_READABLE, notify_on_poll);
  uv_unref((uv_handle_t *)&notify->poll);
  CHECK(env, napi_create_int32(env, 0, &r));
  return r;
}

// ---- sender (the worker side, for corral/worker) ----

// notifySend(address, message) -> 0 or an errno. One datagram, never blocking: a full
// receiver queue gives EAGAIN instead of stalling the worker's event loop.
static int notify_send_fd = -1;
napi_value NotifySend(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], r;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un sa;
  socklen_t len;
  int err = argc >= 2 ? unix_addr_arg(env, argv[0], &sa, &len) : -1;
  char *message = err >= 0 ? get_str(env, argv[1]) : NULL;
  if (message == NULL) return throw_usage(env, "notifySend(address, message)");
  if (!err && notify_send_fd < 0) {
    notify_send_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (notify_send_fd < 0) err = errno;
  }
  if (!err && sendto(notify_send_fd, message, strlen(message), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0) err = errno;
  free(message);
  CHECK(env, napi_create_int32(env, err, &r));
  return r;
}
