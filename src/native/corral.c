// corral's native addon: what Node cannot do for a PID 1. One file per concern:
//
//   reap.c     the owned set, the child subreaper, reaping foreign zombies
//   spawn.c    fork and exec of a worker (process group, terminal, groups, fd 3)
//   notify.c   sd_notify: the receiver corral binds and the sender workers use
//   logfast.c  the log fast path (frameLines)
//   find.c     the multi-phrase search of raw reads (setPhrases, findPhrase)
//   tty.c      the terminal and process groups
//   fds.c      pipes and the listening socket
//   http.c     one blocking HTTP exchange, for corral probe and corral status
//
// This file only registers them. Kept small and warning-free; every call is
// synchronous and cheap. The files share helpers (napi_util.h) and their entry points
// (addon.h) by extern names; binding.gyp builds with -fvisibility=hidden so that none of
// them is exported from corral.node or bound to a same-named symbol elsewhere in node.

#include "addon.h"
#include "napi_util.h"

static napi_value Init(napi_env env, napi_value exports) {
  napi_value stages = spawn_stages(env);
  if (stages == NULL) return NULL;
  napi_value headers = traceback_headers(env);
  if (headers == NULL) return NULL;
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
      {"setPhrases", NULL, SetPhrases, NULL, NULL, NULL, napi_default, NULL},
      {"findPhrase", NULL, FindPhrase, NULL, NULL, NULL, napi_default, NULL},
      {"notifySend", NULL, NotifySend, NULL, NULL, NULL, napi_default, NULL},
      {"listenSocket", NULL, ListenSocket, NULL, NULL, NULL, napi_default, NULL},
      {"growPipe", NULL, GrowPipe, NULL, NULL, NULL, napi_default, NULL},
      {"pipe", NULL, Pipe, NULL, NULL, NULL, napi_default, NULL},
      {"httpExchange", NULL, HttpExchange, NULL, NULL, NULL, napi_default, NULL},
      {"ignoreTtySignals", NULL, IgnoreTtySignals, NULL, NULL, NULL, napi_default, NULL},
      {"spawnStages", NULL, NULL, NULL, NULL, stages, napi_enumerable, NULL},
      {"tracebackHeaders", NULL, NULL, NULL, NULL, headers, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
