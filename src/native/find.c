// A multi-phrase search over a worker's raw reads (SPEC §9's sticky CUDA errors), cheap
// enough to run on every read of the log path. The long phrases share one Wu-Manber pass
// (a shift table on 2-byte blocks: a read with none of them costs about n / (shortest long
// phrase - 1) steps); a short phrase, whose window would make every step small, is left to
// glibc's memmem on its own. The phrases come from JS once (setPhrases), so the list lives
// in one place (src/logs/faults.ts).

#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addon.h"
#include "napi_util.h"

#define MAX_PHRASES 32
#define MAX_PHRASE 256
// Shorter phrases are searched with memmem.
#define LONG_PHRASE 16

static uint8_t phrases[MAX_PHRASES][MAX_PHRASE];
static size_t lens[MAX_PHRASES];
static size_t nphrases;
// Shortest long phrase: the window Wu-Manber works on (0: no long phrase).
static size_t window;
static uint8_t shift[65536];

static uint16_t block(const uint8_t *p) {
  return (uint16_t)((p[-1] << 8) | p[0]);
}

// setPhrases(phrases: Uint8Array[]): each 2..256 bytes, at most 32.
napi_value SetPhrases(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t n = 0;
  if (argc < 1 || napi_get_array_length(env, argv[0], &n) != napi_ok || n == 0 || n > MAX_PHRASES) {
    return throw_usage(env, "setPhrases(phrases): 1 to 32 Uint8Arrays");
  }
  size_t shortest = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    napi_typedarray_type type;
    size_t len;
    void *data;
    CHECK(env, napi_get_element(env, argv[0], i, &v));
    if (napi_get_typedarray_info(env, v, &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array || len < 2 || len > MAX_PHRASE) {
      return throw_usage(env, "setPhrases(phrases): each a Uint8Array of 2 to 256 bytes");
    }
    memcpy(phrases[i], data, len);
    lens[i] = len;
    if (len >= LONG_PHRASE && (shortest == 0 || len < shortest)) shortest = len;
  }
  nphrases = n;
  window = shortest;
  if (window > 0) {
    // A block that ends at offset j of a long phrase's first `window` bytes may be followed
    // by window-1-j more bytes of it: the window can move on by that much and no further.
    size_t most = window - 1;
    for (size_t h = 0; h < 65536; h++) shift[h] = (uint8_t)(most > 255 ? 255 : most);
    for (size_t i = 0; i < nphrases; i++) {
      if (lens[i] < LONG_PHRASE) continue;
      for (size_t j = 1; j < window; j++) {
        size_t s = window - 1 - j;
        uint16_t h = block(&phrases[i][j]);
        if (s < shift[h]) shift[h] = (uint8_t)s;
      }
    }
  }
  napi_value undefined;
  CHECK(env, napi_get_undefined(env, &undefined));
  return undefined;
}

// The first long phrase in src[start, end), or -1.
static ptrdiff_t find_long(const uint8_t *src, size_t start, size_t end) {
  if (window == 0 || end - start < window) return -1;
  size_t i = start + window - 1;
  while (i < end) {
    uint8_t s = shift[block(&src[i])];
    if (s > 0) {
      i += s;
      continue;
    }
    size_t at = i + 1 - window;
    for (size_t k = 0; k < nphrases; k++) {
      if (lens[k] >= LONG_PHRASE && at + lens[k] <= end && memcmp(&src[at], phrases[k], lens[k]) == 0) return (ptrdiff_t)at;
    }
    i++;
  }
  return -1;
}

// findPhrase(src: Uint8Array, start, end): the offset of the first phrase in src[start, end), or -1.
napi_value FindPhrase(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_typedarray_type type;
  size_t len;
  void *data;
  int32_t start, end;
  if (argc < 3 || napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      !get_i32(env, argv[1], &start) || !get_i32(env, argv[2], &end) || start < 0 || end < start || (size_t)end > len) {
    return throw_usage(env, "findPhrase(src, start, end): a Uint8Array and 0 <= start <= end <= its length");
  }
  const uint8_t *src = data;
  ptrdiff_t found = find_long(src, (size_t)start, (size_t)end);
  // A short phrase only counts before what was found already.
  for (size_t k = 0; k < nphrases; k++) {
    if (lens[k] >= LONG_PHRASE) continue;
    size_t limit = found >= 0 ? (size_t)found + lens[k] : (size_t)end;
    if (limit > (size_t)end) limit = (size_t)end;
    const uint8_t *hit = memmem(src + start, limit - (size_t)start, phrases[k], lens[k]);
    if (hit != NULL) found = hit - src;
  }
  napi_value out;
  CHECK(env, napi_create_int32(env, (int32_t)found, &out));
  return out;
}
