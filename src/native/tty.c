// The terminal and process groups: what the shell needs to hand the terminal to an
// interactive worker and take it back (job control as tini does it, see tcsetpgrp(3)),
// and to tell whether a worker's process group is gone.

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <termios.h>
#include <unistd.h>

#include "addon.h"
#include "napi_util.h"

// pgroupAlive(pgid): whether any process (zombies included) is left in the group.
napi_value PgroupAlive(napi_env env, napi_callback_info info) {
  int32_t pgid;
  if (arg_i32(env, info, &pgid) == NULL) return NULL;
  napi_value r;
  int alive = pgid > 0 && (kill(-pgid, 0) == 0 || errno == EPERM);
  CHECK(env, napi_get_boolean(env, alive, &r));
  return r;
}

// foreground(fd): makes corral's own process group the terminal's foreground group
// again (after an interactive worker exits), with SIGTTOU blocked.
napi_value Foreground(napi_env env, napi_callback_info info) {
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
napi_value OwnsTerminal(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (arg_i32(env, info, &fd) == NULL) return NULL;
  pid_t fg = tcgetpgrp(fd);
  napi_value r;
  CHECK(env, napi_get_boolean(env, fg > 0 && fg == getpgrp(), &r));
  return r;
}

// ignoreTtySignals(): SIGTTIN and SIGTTOU set to SIG_IGN, as tini does, so corral is
// never stopped for writing to the terminal while a worker owns the foreground. Also the
// signals Node cannot listen for (SIGSTKFLT, SIGRTMIN..SIGRTMAX) and SIGPROF, where they
// still have their default action: one sent to a corral that is not PID 1 would kill it and
// leave its workers running without their supervisor. (SIGPROF keeps a handler V8's
// profiler installed, --cpu-prof.) Workers get default dispositions back in child_exec.
static void ignore_if_default(int sig, const struct sigaction *ign) {
  struct sigaction old;
  if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO)) sigaction(sig, ign, NULL);
}

napi_value IgnoreTtySignals(napi_env env, napi_callback_info info) {
  (void)info;
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  int ok = sigaction(SIGTTIN, &ign, NULL) == 0 && sigaction(SIGTTOU, &ign, NULL) == 0;
#ifdef SIGSTKFLT
  ignore_if_default(SIGSTKFLT, &ign);
#endif
  ignore_if_default(SIGPROF, &ign);
  for (int s = SIGRTMIN; s <= SIGRTMAX; s++) ignore_if_default(s, &ign);
  napi_value r;
  CHECK(env, napi_get_boolean(env, ok, &r));
  return r;
}
