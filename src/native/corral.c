// corral's native addon: what Node cannot do for a PID 1.
//
// - become a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER);
// - reap zombie children that neither libuv nor node-pty waits for, without ever
//   stealing the status of a child they wait for (a stolen status makes Node lose the
//   child's 'exit' event; see libuv src/unix/process.c uv__wait_children);
// - spawn a worker with what child_process cannot set: its own process group in
//   corral's session with the terminal handed over (tcsetpgrp(3), as tini does),
//   supplementary groups for --user (Node calls setgroups(0, NULL)), fd 3 with
//   LISTEN_PID set to the worker's own pid.
//
// Kept small and warning-free; every call is synchronous and cheap.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#define CHECK(env, call)                                                  \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      napi_throw_error((env), "ECORRALNAPI", "N-API call failed: " #call); \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

// ---- the owned set: pids libuv or node-pty wait for; never waited for here ----

static pid_t *owned = NULL;
static size_t owned_len = 0, owned_cap = 0;

static int is_owned(pid_t pid) {
  for (size_t i = 0; i < owned_len; i++)
    if (owned[i] == pid) return 1;
  return 0;
}

static int get_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static napi_value arg_i32(napi_env env, napi_callback_info info, int32_t *out) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_i32(env, argv[0], out)) {
    napi_throw_type_error(env, NULL, "expected an integer pid");
    return NULL;
  }
  napi_value undef;
  CHECK(env, napi_get_undefined(env, &undef));
  return undef;
}

static napi_value Own(napi_env env, napi_callback_info info) {
  int32_t pid;
  napi_value r = arg_i32(env, info, &pid);
  if (r == NULL) return NULL;
  if (pid <= 0 || is_owned(pid)) return r;
  if (owned_len == owned_cap) {
    size_t cap = owned_cap ? owned_cap * 2 : 64;
    pid_t *n = realloc(owned, cap * sizeof(pid_t));
    if (n == NULL) {
      napi_throw_error(env, "ENOMEM", "out of memory");
      return NULL;
    }
    owned = n;
    owned_cap = cap;
  }
  owned[owned_len++] = pid;
  return r;
}

static napi_value Disown(napi_env env, napi_callback_info info) {
  int32_t pid;
  napi_value r = arg_i32(env, info, &pid);
  if (r == NULL) return NULL;
  for (size_t i = 0; i < owned_len; i++) {
    if (owned[i] == pid) {
      owned[i] = owned[--owned_len];
      break;
    }
  }
  return r;
}

// ---- subreaper ----

static napi_value SetSubreaper(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  int ok = prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
  CHECK(env, napi_get_boolean(env, ok, &r));
  return r;
}

// ---- reaping ----

// Reaped statuses are collected as (pid, code, signal) triples.
typedef struct {
  int32_t *v;
  size_t len, cap;
} triples;

static int push3(triples *t, int32_t a, int32_t b, int32_t c) {
  if (t->len + 3 > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 48;
    int32_t *n = realloc(t->v, cap * sizeof(int32_t));
    if (n == NULL) return 0;
    t->v = n;
    t->cap = cap;
  }
  t->v[t->len++] = a;
  t->v[t->len++] = b;
  t->v[t->len++] = c;
  return 1;
}

// Records a siginfo from waitid: exit code, or -1 and the signal that killed it.
static int record(triples *t, const siginfo_t *si) {
  if (si->si_code == CLD_EXITED) return push3(t, si->si_pid, si->si_status, 0);
  return push3(t, si->si_pid, -1, si->si_status);
}

// Reaps one specific foreign child if it is a zombie. Returns 1 when reaped.
static int reap_pid(pid_t pid, triples *t) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG) != 0) return 0;
  if (si.si_pid == 0) return 0;
  record(t, &si);
  return 1;
}

// Reads a whole small /proc file into a growing buffer. Returns length or -1.
static ssize_t read_file(const char *path, char **buf, size_t *cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  for (;;) {
    if (len + 1 >= *cap) {
      size_t ncap = *cap ? *cap * 2 : 4096;
      char *n = realloc(*buf, ncap);
      if (n == NULL) {
        close(fd);
        return -1;
      }
      *buf = n;
      *cap = ncap;
    }
    ssize_t r = read(fd, *buf + len, *cap - len - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
  }
  close(fd);
  (*buf)[len] = '\0';
  return (ssize_t)len;
}

// One pass over /proc/self/task/*/children (any thread of a subreaper may adopt an
// orphan), reaping every foreign zombie. O(live children): used only when the oldest
// waitable child is one that libuv or node-pty still has to collect.
static void scan_children(triples *t) {
  DIR *d = opendir("/proc/self/task");
  if (d == NULL) return;
  char path[64];
  char *buf = NULL;
  size_t cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/self/task/%.20s/children", e->d_name);
    if (read_file(path, &buf, &cap) <= 0) continue;
    char *p = buf;
    while (*p) {
      char *end;
      long pid = strtol(p, &end, 10);
      if (end == p) break;
      p = end;
      while (*p == ' ' || *p == '\n') p++;
      if (pid > 0 && !is_owned((pid_t)pid)) reap_pid((pid_t)pid, t);
    }
  }
  free(buf);
  closedir(d);
}

// reap(): reaps every waitable child that is not in the owned set and returns
// [pid, code, signal, pid, code, signal, ...] (code -1 when killed by a signal).
//
// waitid(P_ALL, WNOWAIT) peeks at the oldest waitable child: while it is foreign it
// is reaped by pid and the peek repeats (about 4 us per orphan); once it is owned,
// peeking cannot see past it, so one scan of the children lists finishes the pass.
static napi_value Reap(napi_env env, napi_callback_info info) {
  (void)info;
  triples t = {NULL, 0, 0};
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: no children at all
    }
    if (si.si_pid == 0) break;  // children exist, none waitable
    if (is_owned(si.si_pid)) {
      scan_children(&t);
      break;
    }
    if (!reap_pid(si.si_pid, &t)) break;  // raced with another waiter
  }
  napi_value arr;
  if (napi_create_array_with_length(env, t.len, &arr) != napi_ok) {
    free(t.v);
    napi_throw_error(env, "ECORRALNAPI", "cannot create result array");
    return NULL;
  }
  for (size_t i = 0; i < t.len; i++) {
    napi_value n;
    napi_create_int32(env, t.v[i], &n);
    napi_set_element(env, arr, (uint32_t)i, n);
  }
  free(t.v);
  return arr;
}

// ---- spawning ----

// Stage codes reported by a child that failed before execve; the parent turns them
// into messages (src/process/spawn.ts).
enum { ST_EXEC = 1, ST_CHDIR, ST_SETGROUPS, ST_SETGID, ST_SETUID, ST_DUP, ST_TTY, ST_SETSID };

typedef struct {
  char *file;
  char **argv;
  char **envp;  // last slot before NULL reserved for LISTEN_PID when listen_fd >= 0
  char *cwd;
  int stdio[3];
  int listen_fd;
  int new_session;
  int foreground;
  int set_ids;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  size_t ngroups;
  char listen_pid[32];
} spawn_opts;

static void free_strv(char **v) {
  if (v == NULL) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

static char *get_str(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s == NULL) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

// Reads a JS string array into a NULL-terminated vector with `extra` spare slots.
static char **get_strv(napi_env env, napi_value arr, size_t extra) {
  uint32_t n;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **v = calloc(n + extra + 1, sizeof(char *));
  if (v == NULL) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, arr, i, &e);
    v[i] = get_str(env, e);
    if (v[i] == NULL) {
      free_strv(v);
      return NULL;
    }
  }
  return v;
}

static int prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  napi_get_named_property(env, obj, key, out);
  napi_valuetype t;
  napi_typeof(env, *out, &t);
  return t != napi_undefined && t != napi_null;
}

static int prop_i32(napi_env env, napi_value obj, const char *key, int32_t dflt) {
  napi_value v;
  int32_t out = dflt;
  if (prop(env, obj, key, &v)) get_i32(env, v, &out);
  return out;
}

static int prop_bool(napi_env env, napi_value obj, const char *key) {
  napi_value v;
  bool b = false;
  if (prop(env, obj, key, &v)) napi_get_value_bool(env, v, &b);
  return b;
}

static void child_fail(int fd, int stage) {
  int msg[2] = {stage, errno};
  ssize_t w;
  do {
    w = write(fd, msg, sizeof msg);
  } while (w < 0 && errno == EINTR);
  _exit(127);
}

// Formats "LISTEN_PID=<pid>" without stdio (only async-signal-safe code after fork).
static void fmt_listen_pid(char *out, pid_t pid) {
  const char *k = "LISTEN_PID=";
  size_t i = 0;
  while (k[i]) {
    out[i] = k[i];
    i++;
  }
  char digits[16];
  int n = 0;
  unsigned long v = (unsigned long)pid;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v && n < 15);
  while (n) out[i++] = digits[--n];
  out[i] = '\0';
}

// Runs in the child between fork and exec: async-signal-safe calls only.
static void child_exec(spawn_opts *o, int err_fd) {
  if (o->new_session) {
    if (setsid() < 0) child_fail(err_fd, ST_SETSID);
  } else {
    setpgid(0, 0);
    // All signals are blocked here, so tcsetpgrp from a background group does not
    // raise SIGTTOU (POSIX: blocked or ignored SIGTTOU lets it proceed).
    if (o->foreground && tcsetpgrp(STDIN_FILENO, getpid()) < 0) child_fail(err_fd, ST_TTY);
  }
  // Node marks fds 0-2 close-on-exec at start-up; an inherited one must be cleared here
  // (the flag belongs to this fd table, so corral's own stays as it is).
  for (int i = 0; i < 3; i++) {
    if (o->stdio[i] >= 0 && o->stdio[i] != i) {
      if (dup2(o->stdio[i], i) < 0) child_fail(err_fd, ST_DUP);
    } else {
      int fl = fcntl(i, F_GETFD);
      if (fl >= 0 && (fl & FD_CLOEXEC)) fcntl(i, F_SETFD, fl & ~FD_CLOEXEC);
    }
  }
  if (o->listen_fd >= 0) {
    if (o->listen_fd == 3) {
      int fl = fcntl(3, F_GETFD);
      if (fl < 0 || fcntl(3, F_SETFD, fl & ~FD_CLOEXEC) < 0) child_fail(err_fd, ST_DUP);
    } else if (dup2(o->listen_fd, 3) < 0) {
      child_fail(err_fd, ST_DUP);
    }
    fmt_listen_pid(o->listen_pid, getpid());
    char **e = o->envp;
    while (*e) e++;
    *e = o->listen_pid;
  }
  if (o->cwd && chdir(o->cwd) < 0) child_fail(err_fd, ST_CHDIR);
  if (o->set_ids) {
    if (setgroups(o->ngroups, o->groups) < 0) child_fail(err_fd, ST_SETGROUPS);
    if (setgid(o->gid) < 0) child_fail(err_fd, ST_SETGID);
    if (setuid(o->uid) < 0) child_fail(err_fd, ST_SETUID);
  }
  // Node ignores SIGPIPE and catches many signals; a worker starts with defaults.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    sigaction(s, &dfl, NULL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(o->file, o->argv, o->envp);
  if (errno == ENOEXEC) {
    // A script without a shebang line: run it with the shell, as execvp(3) does.
    size_t n = 0;
    while (o->argv[n]) n++;
    char *sh_argv[n + 2];
    sh_argv[0] = (char *)"/bin/sh";
    sh_argv[1] = o->file;
    for (size_t i = 1; i <= n; i++) sh_argv[i + 1] = o->argv[i];
    execve("/bin/sh", sh_argv, o->envp);
  }
  child_fail(err_fd, ST_EXEC);
}

static void free_opts(spawn_opts *o) {
  free(o->file);
  free_strv(o->argv);
  free_strv(o->envp);
  free(o->cwd);
  free(o->groups);
}

static napi_value result_obj(napi_env env, int32_t pid, int32_t stage, int32_t err) {
  napi_value obj, v;
  CHECK(env, napi_create_object(env, &obj));
  napi_create_int32(env, pid, &v);
  napi_set_named_property(env, obj, "pid", v);
  napi_create_int32(env, stage, &v);
  napi_set_named_property(env, obj, "stage", v);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, obj, "errno", v);
  return obj;
}

// spawn({file, argv, env, cwd?, stdio?, listenFd?, newSession, foreground, uid?, gid?,
//        groups?}) -> {pid, stage, errno}: pid > 0 on success; else stage and errno
// say which step failed (the child is already reaped then).
static napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "spawn: expected an options object");
    return NULL;
  }
  napi_value o = argv[0], v;
  spawn_opts so;
  memset(&so, 0, sizeof so);
  so.listen_fd = prop_i32(env, o, "listenFd", -1);
  int ok = prop(env, o, "file", &v) && (so.file = get_str(env, v)) != NULL;
  ok = ok && prop(env, o, "argv", &v) && (so.argv = get_strv(env, v, 0)) != NULL;
  ok = ok && prop(env, o, "env", &v) && (so.envp = get_strv(env, v, 1)) != NULL;
  if (ok && prop(env, o, "cwd", &v)) ok = (so.cwd = get_str(env, v)) != NULL;
  for (int i = 0; i < 3; i++) so.stdio[i] = -1;
  if (ok && prop(env, o, "stdio", &v)) {
    for (uint32_t i = 0; i < 3; i++) {
      napi_value e;
      int32_t fd = -1;
      if (napi_get_element(env, v, i, &e) == napi_ok) get_i32(env, e, &fd);
      so.stdio[i] = fd;
    }
  }
  so.new_session = prop_bool(env, o, "newSession");
  so.foreground = prop_bool(env, o, "foreground");
  if (ok && prop(env, o, "uid", &v)) {
    int32_t uid = 0, gid = 0;
    get_i32(env, v, &uid);
    so.uid = (uid_t)uid;
    so.gid = (gid_t)prop_i32(env, o, "gid", gid);
    so.set_ids = 1;
    napi_value g;
    if (prop(env, o, "groups", &g)) {
      uint32_t n = 0;
      napi_get_array_length(env, g, &n);
      so.groups = calloc(n ? n : 1, sizeof(gid_t));
      ok = so.groups != NULL;
      for (uint32_t i = 0; ok && i < n; i++) {
        napi_value e;
        int32_t x = 0;
        napi_get_element(env, g, i, &e);
        get_i32(env, e, &x);
        so.groups[i] = (gid_t)x;
      }
      so.ngroups = n;
    }
  }
  if (!ok) {
    free_opts(&so);
    napi_throw_type_error(env, NULL, "spawn: file, argv and env are required strings");
    return NULL;
  }

  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) < 0) {
    free_opts(&so);
    return result_obj(env, 0, ST_EXEC, errno);
  }
  // Block every signal across fork so no Node handler runs in the child before the
  // dispositions are reset (the same precaution as libuv's uv_spawn).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) {
    close(errpipe[0]);
    child_exec(&so, errpipe[1]);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(errpipe[1]);
  if (pid < 0) {
    close(errpipe[0]);
    free_opts(&so);
    return result_obj(env, 0, ST_EXEC, fork_errno);
  }
  // Also from the parent, so the group exists whichever runs first (job control idiom).
  if (!so.new_session) setpgid(pid, pid);
  int msg[2] = {0, 0};
  ssize_t n;
  do {
    n = read(errpipe[0], msg, sizeof msg);
  } while (n < 0 && errno == EINTR);
  close(errpipe[0]);
  free_opts(&so);
  if (n == (ssize_t)sizeof msg) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return result_obj(env, 0, msg[0], msg[1]);
  }
  return result_obj(env, pid, 0, 0);
}


// ---- sd_notify receiver ----
//
// One AF_UNIX datagram socket (path, or abstract when the address starts with '@'),
// with SO_PASSCRED so every message carries the sender's pid: a READY=1 sent by a
// grandchild is attributed to the worker whose process group it belongs to. libuv
// polls the fd; each wake-up drains the socket and hands JS [pid, text, pid, text, ...].

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
    napi_value p, t;
    napi_create_int32(env, pid, &p);
    napi_create_string_utf8(env, buf, (size_t)r, &t);
    napi_set_element(env, arr, n++, p);
    napi_set_element(env, arr, n++, t);
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
static napi_value NotifyOpen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], r;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un sa;
  socklen_t len;
  int err = argc >= 2 && notify == NULL ? unix_addr_arg(env, argv[0], &sa, &len) : -1;
  if (err < 0) {
    napi_throw_type_error(env, NULL, "notifyOpen(address, callback), once");
    return NULL;
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
  notify = calloc(1, sizeof *notify);
  notify->fd = fd;
  napi_value name;
  napi_create_string_utf8(env, "corral-notify", NAPI_AUTO_LENGTH, &name);
  CHECK(env, napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, notify_drain_js, &notify->tsfn));
  napi_unref_threadsafe_function(env, notify->tsfn);
  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  uv_poll_init(loop, &notify->poll, fd);
  uv_poll_start(&notify->poll, UV_READABLE, notify_on_poll);
  uv_unref((uv_handle_t *)&notify->poll);
  CHECK(env, napi_create_int32(env, 0, &r));
  return r;
}

// ---- log fast path ----

static const char TRACEBACK_LINE[] = "Traceback (most recent call last):";
static const char GROUP_TRACEBACK_LINE[] = "  + Exception Group Traceback (most recent call last):";
static const char HEX[] = "0123456789abcdef";

static int u8_arg(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_uint8_array) return -1;
  *data = p;
  return 0;
}

// Length of the well-formed UTF-8 sequence (Unicode 15, table 3-7) of 2-4 bytes at p, or 0.
static size_t utf8_seq(const uint8_t *p, size_t left) {
  uint8_t c = p[0];
  if (c >= 0xc2 && c <= 0xdf) return left >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (left < 3 || (p[2] & 0xc0) != 0x80) return 0;
    uint8_t lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    return p[1] >= lo && p[1] <= hi ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (left < 4 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) return 0;
    uint8_t lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    return p[1] >= lo && p[1] <= hi ? 4 : 0;
  }
  return 0;
}

// frameLines(src, start, end, dst, dstOff, prefix, suffix, maxPart, res): writes each line of
// src[start, end) that needs no more than JSON string escaping to dst at dstOff as prefix +
// the line as a JSON string body + suffix, exactly as JSON.stringify would escape it ('"', '\\',
// control characters; well-formed UTF-8 copied as it is). It stops at the first line that has
// no newline yet, is longer than maxPart bytes, starts with '{' (JSON, merged by the caller),
// is a Python traceback header, holds '\r' or ESC (CRLF and ANSI handling) or malformed UTF-8,
// or may not fit. res (Uint32Array): [0] where it stopped, [1] lines written, [2] new dstOff,
// [3] 1 if it stopped because dst might be too small for the next line.
static napi_value FrameLines(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *src, *dst, *prefix, *suffix;
  size_t src_len, dst_len, prefix_len, suffix_len, res_len;
  uint32_t start, end, dst_off, max_part;
  napi_typedarray_type rtype;
  void *rp;
  if (argc < 9 || u8_arg(env, argv[0], &src, &src_len) || u8_arg(env, argv[3], &dst, &dst_len) ||
      u8_arg(env, argv[5], &prefix, &prefix_len) || u8_arg(env, argv[6], &suffix, &suffix_len) ||
      napi_get_value_uint32(env, argv[1], &start) != napi_ok || napi_get_value_uint32(env, argv[2], &end) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &dst_off) != napi_ok || napi_get_value_uint32(env, argv[7], &max_part) != napi_ok ||
      napi_get_typedarray_info(env, argv[8], &rtype, &res_len, &rp, NULL, NULL) != napi_ok || rtype != napi_uint32_array ||
      res_len < 4 || end > src_len || start > end || dst_off > dst_len) {
    napi_throw_type_error(env, NULL, "frameLines(src, start, end, dst, dstOff, prefix, suffix, maxPart, res)");
    return NULL;
  }
  uint32_t *res = rp;
  size_t s = start, out = dst_off;
  uint32_t lines = 0, full = 0;
  const size_t tb = sizeof TRACEBACK_LINE - 1, gtb = sizeof GROUP_TRACEBACK_LINE - 1;
  while (s < end) {
    const uint8_t *nlp = memchr(src + s, '\n', end - s);
    if (nlp == NULL) break;
    size_t nl = (size_t)(nlp - src), len = nl - s;
    if (len > max_part) break;
    if (len > 0 && src[s] == '{') break;
    if (len >= tb && src[s] == 'T' && memcmp(src + s, TRACEBACK_LINE, tb) == 0) break;
    if (len >= gtb && src[s] == ' ' && memcmp(src + s, GROUP_TRACEBACK_LINE, gtb) == 0) break;
    // Worst case: every byte a \u00XX escape.
    if (dst_len - out < prefix_len + 6 * len + suffix_len) {
      full = 1;
      break;
    }
    uint8_t *d = dst + out;
    memcpy(d, prefix, prefix_len);
    d += prefix_len;
    size_t i = s;
    int plain = 1;
    while (i < nl) {
      uint8_t c = src[i];
      if (c >= 0x20 && c <= 0x7f) {
        if (c == '"' || c == '\\') *d++ = '\\';
        *d++ = c;
        i++;
      } else if (c < 0x20) {
        if (c == '\r' || c == 0x1b) {
          plain = 0;
          break;
        }
        *d++ = '\\';
        if (c == '\b') *d++ = 'b';
        else if (c == '\t') *d++ = 't';
        else if (c == '\f') *d++ = 'f';
        else {
          *d++ = 'u';
          *d++ = '0';
          *d++ = '0';
          *d++ = (uint8_t)HEX[c >> 4];
          *d++ = (uint8_t)HEX[c & 15];
        }
        i++;
      } else {
        size_t n = utf8_seq(src + i, nl - i);
        if (n == 0) {
          plain = 0;
          break;
        }
        memcpy(d, src + i, n);
        d += n;
        i += n;
      }
    }
    if (!plain) break;
    memcpy(d, suffix, suffix_len);
    out = (size_t)(d + suffix_len - dst);
    lines++;
    s = nl + 1;
  }
  res[0] = (uint32_t)s;
  res[1] = lines;
  res[2] = (uint32_t)out;
  res[3] = full;
  return NULL;
}

// ---- sd_notify sender (the worker side, for corral/worker) ----

// notifySend(address, message) -> 0 or an errno. One datagram, never blocking: a full
// receiver queue gives EAGAIN instead of stalling the worker's event loop.
static int notify_send_fd = -1;
static napi_value NotifySend(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], r;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un sa;
  socklen_t len;
  int err = argc >= 2 ? unix_addr_arg(env, argv[0], &sa, &len) : -1;
  char *message = err >= 0 ? get_str(env, argv[1]) : NULL;
  if (message == NULL) {
    napi_throw_type_error(env, NULL, "notifySend(address, message)");
    return NULL;
  }
  if (!err && notify_send_fd < 0) {
    notify_send_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (notify_send_fd < 0) err = errno;
  }
  if (!err && sendto(notify_send_fd, message, strlen(message), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0) err = errno;
  free(message);
  CHECK(env, napi_create_int32(env, err, &r));
  return r;
}

// ---- the supervisor-held listening socket ----

// listenSocket(host, port, backlog) -> fd (>= 0) or -errno. A plain blocking socket made
// outside libuv and close-on-exec in corral: libuv must never accept on it, and the
// workers' blocking accept() must not spin on EAGAIN (O_NONBLOCK is shared by all).
static napi_value ListenSocket(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], r;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *host = argc >= 1 ? get_str(env, argv[0]) : NULL;
  int32_t port = 0, backlog = 1024;
  if (host == NULL || argc < 2 || !get_i32(env, argv[1], &port)) {
    free(host);
    napi_throw_type_error(env, NULL, "listenSocket(host, port, backlog)");
    return NULL;
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

// ---- small helpers the shell needs ----

// pgroupAlive(pgid): whether any process (zombies included) is left in the group.
static napi_value PgroupAlive(napi_env env, napi_callback_info info) {
  int32_t pgid;
  if (arg_i32(env, info, &pgid) == NULL) return NULL;
  napi_value r;
  int alive = pgid > 0 && (kill(-pgid, 0) == 0 || errno == EPERM);
  CHECK(env, napi_get_boolean(env, alive, &r));
  return r;
}

// foreground(fd): makes corral's own process group the terminal's foreground group
// again (after an interactive worker exits), with SIGTTOU blocked.
static napi_value Foreground(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (arg_i32(env, info, &fd) == NULL) return NULL;
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  pthread_sigmask(SIG_BLOCK, &ttou, &old);
  int ok = tcsetpgrp(fd, getpgrp()) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  napi_value r;
  CHECK(env, napi_get_boolean(env, ok, &r));
  return r;
}

// ownsTerminal(fd): whether fd is a terminal whose foreground group is corral's own
// group. Only then may corral hand the terminal to a worker: a corral started in the
// background must not take the terminal away from the shell.
static napi_value OwnsTerminal(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (arg_i32(env, info, &fd) == NULL) return NULL;
  pid_t fg = tcgetpgrp(fd);
  napi_value r;
  CHECK(env, napi_get_boolean(env, fg > 0 && fg == getpgrp(), &r));
  return r;
}

// pipe() -> [readFd, writeFd], both close-on-exec (the write end is dup2'd onto the
// worker's stdout or stderr in the child, which clears the flag there); -errno on failure.
static napi_value Pipe(napi_env env, napi_callback_info info) {
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
static napi_value GrowPipe(napi_env env, napi_callback_info info) {
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

// ignoreTtySignals(): SIGTTIN and SIGTTOU set to SIG_IGN, as tini does, so corral is
// never stopped for writing to the terminal while a worker owns the foreground.
// Workers get default dispositions back in child_exec.
static napi_value IgnoreTtySignals(napi_env env, napi_callback_info info) {
  (void)info;
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  int ok = sigaction(SIGTTIN, &ign, NULL) == 0 && sigaction(SIGTTOU, &ign, NULL) == 0;
  napi_value r;
  CHECK(env, napi_get_boolean(env, ok, &r));
  return r;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"own", NULL, Own, NULL, NULL, NULL, napi_default, NULL},
      {"disown", NULL, Disown, NULL, NULL, NULL, napi_default, NULL},
      {"setSubreaper", NULL, SetSubreaper, NULL, NULL, NULL, napi_default, NULL},
      {"reap", NULL, Reap, NULL, NULL, NULL, napi_default, NULL},
      {"spawn", NULL, Spawn, NULL, NULL, NULL, napi_default, NULL},
      {"pgroupAlive", NULL, PgroupAlive, NULL, NULL, NULL, napi_default, NULL},
      {"foreground", NULL, Foreground, NULL, NULL, NULL, napi_default, NULL},
      {"ownsTerminal", NULL, OwnsTerminal, NULL, NULL, NULL, napi_default, NULL},
      {"notifyOpen", NULL, NotifyOpen, NULL, NULL, NULL, napi_default, NULL},
      {"frameLines", NULL, FrameLines, NULL, NULL, NULL, napi_default, NULL},
      {"notifySend", NULL, NotifySend, NULL, NULL, NULL, napi_default, NULL},
      {"listenSocket", NULL, ListenSocket, NULL, NULL, NULL, napi_default, NULL},
      {"growPipe", NULL, GrowPipe, NULL, NULL, NULL, napi_default, NULL},
      {"pipe", NULL, Pipe, NULL, NULL, NULL, napi_default, NULL},
      {"ignoreTtySignals", NULL, IgnoreTtySignals, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
