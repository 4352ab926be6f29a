// The N-API helpers declared in napi_util.h.

#include "napi_util.h"

#include <stdbool.h>
#include <stdlib.h>

napi_value throw_enomem(napi_env env) {
  napi_throw_error(env, "ENOMEM", "out of memory");
  return NULL;
}

napi_value throw_usage(napi_env env, const char *msg) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) napi_throw_type_error(env, NULL, msg);
  return NULL;
}

int get_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

napi_value arg_i32(napi_env env, napi_callback_info info, int32_t *out) {
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

char *get_str(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s == NULL) {
    throw_enomem(env);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

void free_strv(char **v) {
  if (v == NULL) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

char **get_strv(napi_env env, napi_value arr, size_t extra) {
  uint32_t n;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **v = calloc(n + extra + 1, sizeof(char *));
  if (v == NULL) {
    throw_enomem(env);
    return NULL;
  }
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

int prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  napi_get_named_property(env, obj, key, out);
  napi_valuetype t;
  napi_typeof(env, *out, &t);
  return t != napi_undefined && t != napi_null;
}

int prop_i32(napi_env env, napi_value obj, const char *key, int32_t dflt) {
  napi_value v;
  int32_t out = dflt;
  if (prop(env, obj, key, &v)) get_i32(env, v, &out);
  return out;
}

int prop_bool(napi_env env, napi_value obj, const char *key) {
  napi_value v;
  bool b = false;
  if (prop(env, obj, key, &v)) napi_get_value_bool(env, v, &b);
  return b;
}
