// What each of the addon's files gives corral.c to register: the functions JS calls
// (named as in JS, capitalised) and the constants JS reads, by file.

#ifndef CORRAL_ADDON_H
#define CORRAL_ADDON_H

#include <node_api.h>

// reap.c: the owned set, the subreaper, reaping.
napi_value Own(napi_env env, napi_callback_info info);
napi_value Disown(napi_env env, napi_callback_info info);
napi_value SetSubreaper(napi_env env, napi_callback_info info);
napi_value Reap(napi_env env, napi_callback_info info);

// spawn.c: fork and exec of a worker.
napi_value Spawn(napi_env env, napi_callback_info info);
// spawnStages: {exec: 1, chdir: 2, ...}, the stage codes of a failed spawn, frozen.
napi_value spawn_stages(napi_env env);

// notify.c: the sd_notify receiver and sender.
napi_value NotifyOpen(napi_env env, napi_callback_info info);
napi_value NotifySend(napi_env env, napi_callback_info info);

// logfast.c: the log fast path.
napi_value FrameLines(napi_env env, napi_callback_info info);
// tracebackHeaders: {header, groupHeader}, the lines frameLines leaves to JS, frozen.
napi_value traceback_headers(napi_env env);

// find.c: the multi-phrase search of raw reads (sticky CUDA errors).
napi_value SetPhrases(napi_env env, napi_callback_info info);
napi_value FindPhrase(napi_env env, napi_callback_info info);

// tty.c: the terminal, process groups and job-control signals.
napi_value PgroupAlive(napi_env env, napi_callback_info info);
napi_value Foreground(napi_env env, napi_callback_info info);
napi_value OwnsTerminal(napi_env env, napi_callback_info info);
napi_value IgnoreTtySignals(napi_env env, napi_callback_info info);

// fds.c: pipes and the listening socket.
napi_value Pipe(napi_env env, napi_callback_info info);
napi_value GrowPipe(napi_env env, napi_callback_info info);
napi_value ListenSocket(napi_env env, napi_callback_info info);

// http.c: one blocking HTTP exchange (corral probe, corral status).
napi_value HttpExchange(napi_env env, napi_callback_info info);

#endif
