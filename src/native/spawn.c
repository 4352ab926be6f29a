// Spawning a worker with what child_process cannot set: its own process group in
// corral's session with the terminal handed over (tcsetpgrp(3), as tini does),
// supplementary groups for --user (Node calls setgroups(0, NULL)), fd 3 with
// LISTEN_PID set to the worker's own pid (sd_listen_fds(3)).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "addon.h"
#include "napi_util.h"

// Stage codes of a failed spawn: reported by a child that failed before execve, or
// ST_FORK when there is no child (fork(2) refused: EAGAIN at a process limit, ENOMEM).
// src/process/spawn.ts turns them into messages, reading the names from the spawnStages
// export of this table.
enum { ST_EXEC = 1, ST_CHDIR, ST_SETGROUPS, ST_SETGID, ST_SETUID, ST_DUP, ST_TTY, ST_SETSID, ST_FORK };

static const struct {
  const char *name;
  int32_t code;
} stages[] = {
    {"exec", ST_EXEC},     {"chdir", ST_CHDIR}, {"setgroups", ST_SETGROUPS}, {"setgid", ST_SETGID},
    {"setuid", ST_SETUID}, {"dup", ST_DUP},     {"tty", ST_TTY},             {"setsid", ST_SETSID},
    {"fork", ST_FORK},
};

napi_value spawn_stages(napi_env env) {
  napi_value obj, v;
  CHECK(env, napi_create_object(env, &obj));
  for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
    CHECK(env, napi_create_int32(env, stages[i].code, &v));
    CHECK(env, napi_set_named_property(env, obj, stages[i].name, v));
  }
  CHECK(env, napi_object_freeze(env, obj));
  return obj;
}

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

// ---- in the child, between fork and exec: async-signal-safe calls only ----

// Reports the failed stage and errno on the error pipe (close-on-exec, so the parent
// reads nothing once the exec succeeded) and exits as the shell does for a failed exec.
static void child_fail(int fd, int stage) {
  int msg[2] = {stage, errno};
  ssize_t w;
  do {
    w = write(fd, msg, sizeof msg);
  } while (w < 0 && errno == EINTR);
  _exit(127);
}

// Its own process group, so corral can signal the worker and all it starts at once: a
// session of its own (setsid(2)), or, when it takes the terminal, a group in corral's
// session made the terminal's foreground group (tcsetpgrp(3), as tini's isolate_child).
static void isolate_child(const spawn_opts *o, int err_fd) {
  if (o->new_session) {
    if (setsid() < 0) child_fail(err_fd, ST_SETSID);
    return;
  }
  setpgid(0, 0);
  // All signals are blocked here, so tcsetpgrp from a background group does not
  // raise SIGTTOU (POSIX: blocked or ignored SIGTTOU lets it proceed).
  if (o->foreground && tcsetpgrp(STDIN_FILENO, getpid()) < 0) child_fail(err_fd, ST_TTY);
}

// stdio as asked, and the listening socket as fd 3 (sd_listen_fds(3)).
static void install_fds(const spawn_opts *o, int err_fd) {
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
  if (o->listen_fd < 0) return;
  if (o->listen_fd == 3) {
    int fl = fcntl(3, F_GETFD);
    if (fl < 0 || fcntl(3, F_SETFD, fl & ~FD_CLOEXEC) < 0) child_fail(err_fd, ST_DUP);
  } else if (dup2(o->listen_fd, 3) < 0) {
    child_fail(err_fd, ST_DUP);
  }
}

// Appends LISTEN_PID=<this pid> to the environment, in the slot spawn_opts keeps for
// it: sd_listen_fds(3) ignores fd 3 unless LISTEN_PID names the process that reads it,
// and that pid exists only once forked. Formatted by hand: no stdio after fork.
static void set_listen_pid(spawn_opts *o) {
  const char *k = "LISTEN_PID=";
  char *out = o->listen_pid;
  size_t i = 0;
  while (k[i]) {
    out[i] = k[i];
    i++;
  }
  char digits[16];
  int n = 0;
  unsigned long v = (unsigned long)getpid();
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v && n < 15);
  while (n) out[i++] = digits[--n];
  out[i] = '\0';
  char **e = o->envp;
  while (*e) e++;
  *e = out;
}

// --user: groups first, then gid, then uid (after setuid the others are not allowed).
// setgroups(2) sets the user's supplementary groups, which Node's spawn would drop.
static void drop_privileges(const spawn_opts *o, int err_fd) {
  if (!o->set_ids) return;
  if (setgroups(o->ngroups, o->groups) < 0) child_fail(err_fd, ST_SETGROUPS);
  if (setgid(o->gid) < 0) child_fail(err_fd, ST_SETGID);
  if (setuid(o->uid) < 0) child_fail(err_fd, ST_SETUID);
}

// Node ignores SIGPIPE and catches many signals; a worker starts with defaults and an
// empty mask (spawn blocked every signal across fork).
static void reset_signals(void) {
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
}

// execve(2) the resolved file; a script without a shebang line runs with the shell,
// as execvp(3) does. Returns only by failing.
static void exec_file(const spawn_opts *o, int err_fd) {
  execve(o->file, o->argv, o->envp);
  if (errno == ENOEXEC) {
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

static void child_exec(spawn_opts *o, int err_fd) {
  isolate_child(o, err_fd);
  install_fds(o, err_fd);
  if (o->listen_fd >= 0) set_listen_pid(o);
  if (o->cwd && chdir(o->cwd) < 0) child_fail(err_fd, ST_CHDIR);
  drop_privileges(o, err_fd);
  reset_signals();
  exec_file(o, err_fd);
}

// ---- in corral ----

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

// Reads spawn()'s options object into so; 0 (and so partly filled) when a required
// one is missing or not a string, or memory ran out (then ENOMEM is thrown).
static int read_opts(napi_env env, napi_value o, spawn_opts *so) {
  napi_value v;
  so->listen_fd = prop_i32(env, o, "listenFd", -1);
  int ok = prop(env, o, "file", &v) && (so->file = get_str(env, v)) != NULL;
  ok = ok && prop(env, o, "argv", &v) && (so->argv = get_strv(env, v, 0)) != NULL;
  ok = ok && prop(env, o, "env", &v) && (so->envp = get_strv(env, v, 1)) != NULL;
  if (ok && prop(env, o, "cwd", &v)) ok = (so->cwd = get_str(env, v)) != NULL;
  for (int i = 0; i < 3; i++) so->stdio[i] = -1;
  if (ok && prop(env, o, "stdio", &v)) {
    for (uint32_t i = 0; i < 3; i++) {
      napi_value e;
      int32_t fd = -1;
      if (napi_get_element(env, v, i, &e) == napi_ok) get_i32(env, e, &fd);
      so->stdio[i] = fd;
    }
  }
  so->new_session = prop_bool(env, o, "newSession");
  so->foreground = prop_bool(env, o, "foreground");
  if (ok && prop(env, o, "uid", &v)) {
    int32_t uid = 0, gid = 0;
    get_i32(env, v, &uid);
    so->uid = (uid_t)uid;
    so->gid = (gid_t)prop_i32(env, o, "gid", gid);
    so->set_ids = 1;
    napi_value g;
    if (prop(env, o, "groups", &g)) {
      uint32_t n = 0;
      napi_get_array_length(env, g, &n);
      so->groups = calloc(n ? n : 1, sizeof(gid_t));
      ok = so->groups != NULL;
      if (!ok) throw_enomem(env);
      for (uint32_t i = 0; ok && i < n; i++) {
        napi_value e;
        int32_t x = 0;
        napi_get_element(env, g, i, &e);
        get_i32(env, e, &x);
        so->groups[i] = (gid_t)x;
      }
      so->ngroups = n;
    }
  }
  return ok;
}

typedef struct {
  int32_t pid, stage, err;
} spawn_result;

// Forks and runs child_exec in the child, then waits on the error pipe: end of file
// means the exec succeeded (the pipe is close-on-exec); a {stage, errno} message means
// the child failed before it, and it is reaped here.
static spawn_result fork_exec(spawn_opts *so) {
  spawn_result r = {0, 0, 0};
  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) < 0) {
    r.stage = ST_EXEC;
    r.err = errno;
    return r;
  }
  // Block every signal across fork so no Node handler runs in the child before the
  // dispositions are reset (the same precaution as libuv's uv_spawn).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) {
    close(errpipe[0]);
    child_exec(so, errpipe[1]);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(errpipe[1]);
  if (pid < 0) {
    close(errpipe[0]);
    r.stage = ST_FORK;
    r.err = fork_errno;
    return r;
  }
  // Also from the parent, so the group exists whichever runs first (job control idiom).
  if (!so->new_session) setpgid(pid, pid);
  int msg[2] = {0, 0};
  ssize_t n;
  do {
    n = read(errpipe[0], msg, sizeof msg);
  } while (n < 0 && errno == EINTR);
  close(errpipe[0]);
  if (n == (ssize_t)sizeof msg) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    r.stage = msg[0];
    r.err = msg[1];
    return r;
  }
  r.pid = pid;
  return r;
}

// spawn({file, argv, env, cwd?, stdio?, listenFd?, newSession, foreground, uid?, gid?,
//        groups?}) -> {pid, stage, errno}: pid > 0 on success; else stage and errno
// say which step failed (the child is already reaped then).
napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "spawn: expected an options object");
    return NULL;
  }
  spawn_opts so;
  memset(&so, 0, sizeof so);
  if (!read_opts(env, argv[0], &so)) {
    free_opts(&so);
    return throw_usage(env, "spawn: file, argv and env are required strings");
  }
  spawn_result r = fork_exec(&so);
  free_opts(&so);
  return result_obj(env, r.pid, r.stage, r.err);
}
