// N-API helpers shared by the addon's files: argument and property readers that turn a
// JS value into C or report why not, so each concern file reads its options in a line.
//
// Allocation failures are thrown as an ENOMEM error where they happen; a caller that
// then wants to throw a usage error calls throw_usage, which leaves the ENOMEM one in
// place (a second throw would replace it, and the user would be told to fix arguments
// that were right).

#ifndef CORRAL_NAPI_UTIL_H
#define CORRAL_NAPI_UTIL_H

#include <stdint.h>

#include <node_api.h>

#define CHECK(env, call)                                                  \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      napi_throw_error((env), "ECORRALNAPI", "N-API call failed: " #call); \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

// Throws "out of memory" (code ENOMEM) and returns NULL.
napi_value throw_enomem(napi_env env);
// Throws a TypeError with msg unless an exception (e.g. ENOMEM) is already pending;
// returns NULL.
napi_value throw_usage(napi_env env, const char *msg);

int get_i32(napi_env env, napi_value v, int32_t *out);
// The callback's one integer argument; returns undefined, or NULL with a TypeError thrown.
napi_value arg_i32(napi_env env, napi_callback_info info, int32_t *out);
// A malloc'd copy of a JS string, or NULL: not a string, or ENOMEM (thrown).
char *get_str(napi_env env, napi_value v);
// A JS string array as a malloc'd NULL-terminated vector with `extra` spare NULL slots,
// or NULL as for get_str.
char **get_strv(napi_env env, napi_value arr, size_t extra);
void free_strv(char **v);

// obj[key] into *out; 0 when it is absent, undefined or null.
int prop(napi_env env, napi_value obj, const char *key, napi_value *out);
int prop_i32(napi_env env, napi_value obj, const char *key, int32_t dflt);
int prop_bool(napi_env env, napi_value obj, const char *key);

#endif
