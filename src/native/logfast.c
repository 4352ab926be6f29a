// The log fast path: most worker output is plain text lines, and framing them in C
// straight into the writer's buffer makes no JS string per line (bench/RESULTS.md has
// what it saves). Anything that is not plain goes back to the framer in JS
// (src/logs/framer.ts), which stays the reference for the format.

#include <stdint.h>
#include <string.h>

#include "addon.h"
#include "napi_util.h"

// A traceback is grouped into one record in JS (src/logs/traceback.ts), so a line that
// starts one must leave the fast path. Exported as tracebackHeaders; a unit test keeps
// traceback.ts's copies equal to these.
static const char TRACEBACK_LINE[] = "Traceback (most recent call last):";
static const char GROUP_TRACEBACK_LINE[] = "  + Exception Group Traceback (most recent call last):";
static const char HEX[] = "0123456789abcdef";

napi_value traceback_headers(napi_env env) {
  napi_value obj, v;
  CHECK(env, napi_create_object(env, &obj));
  CHECK(env, napi_create_string_utf8(env, TRACEBACK_LINE, sizeof TRACEBACK_LINE - 1, &v));
  CHECK(env, napi_set_named_property(env, obj, "header", v));
  CHECK(env, napi_create_string_utf8(env, GROUP_TRACEBACK_LINE, sizeof GROUP_TRACEBACK_LINE - 1, &v));
  CHECK(env, napi_set_named_property(env, obj, "groupHeader", v));
  CHECK(env, napi_object_freeze(env, obj));
  return obj;
}

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
napi_value FrameLines(napi_env env, napi_callback_info info) {
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
