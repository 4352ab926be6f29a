// Reaping for a PID 1 that runs on libuv.
//
// - become a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER), so orphans of the
//   workers are re-parented to corral even when it is not PID 1;
// - reap zombie children that neither libuv nor node-pty waits for, without ever
//   stealing the status of a child they wait for (a stolen status makes Node lose the
//   child's 'exit' event; see libuv src/unix/process.c uv__wait_children). The pids
//   they wait for are the owned set, kept by src/native/owned.ts.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addon.h"
#include "napi_util.h"

// ---- the owned set: pids libuv or node-pty wait for; never waited for here ----

static pid_t *owned = NULL;
static size_t owned_len = 0, owned_cap = 0;

static int is_owned(pid_t pid) {
  for (size_t i = 0; i < owned_len; i++)
    if (owned[i] == pid) return 1;
  return 0;
}

napi_value Own(napi_env env, napi_callback_info info) {
  int32_t pid;
  napi_value r = arg_i32(env, info, &pid);
  if (r == NULL) return NULL;
  if (pid <= 0 || is_owned(pid)) return r;
  if (owned_len == owned_cap) {
    size_t cap = owned_cap ? owned_cap * 2 : 64;
    pid_t *n = realloc(owned, cap * sizeof(pid_t));
    if (n == NULL) return throw_enomem(env);
    owned = n;
    owned_cap = cap;
  }
  owned[owned_len++] = pid;
  return r;
}

napi_value Disown(napi_env env, napi_callback_info info) {
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

napi_value SetSubreaper(napi_env env, napi_callback_info info) {
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

// Room for one more triple. Made before a child is reaped: once reaped, its status
// exists only here, and a worker's exit must not be lost to a failed realloc. Without
// room the pass stops early and the zombie waits for the next one.
static int reserve3(triples *t) {
  if (t->len + 3 <= t->cap) return 1;
  size_t cap = t->cap ? t->cap * 2 : 48;
  int32_t *n = realloc(t->v, cap * sizeof(int32_t));
  if (n == NULL) return 0;
  t->v = n;
  t->cap = cap;
  return 1;
}

// Records a siginfo from waitid: exit code, or -1 and the signal that killed it.
static void record(triples *t, const siginfo_t *si) {
  int killed = si->si_code != CLD_EXITED;
  t->v[t->len++] = si->si_pid;
  t->v[t->len++] = killed ? -1 : si->si_status;
  t->v[t->len++] = killed ? si->si_status : 0;
}

// Reaps one specific foreign child if it is a zombie. Returns 1 when reaped; 0 when it
// is not waitable or there is no room to record it.
static int reap_pid(pid_t pid, triples *t) {
  if (!reserve3(t)) return 0;
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
napi_value Reap(napi_env env, napi_callback_info info) {
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
    if (!reap_pid(si.si_pid, &t)) break;  // raced with another waiter, or out of memory
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
