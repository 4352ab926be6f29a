// What a worker's line says (SPEC §4): its level, its text without terminal escapes, and,
// for a line that is a JSON object, the fields to merge into corral's record.
// Every line goes through here, so the common case (plain text, no escape, not '{') is a
// character test and an early return: no regex, no allocation.

const lower: [string, number][] = [
  ['trace', 10],
  ['debug', 20],
  ['info', 30],
  ['warn', 40],
  ['warning', 40],
  ['error', 50],
  ['critical', 60],
  ['fatal', 60],
];
// Upper case too: Python's levelname is 'INFO', and lower-casing allocates.
const names = new Map<string, number>([...lower, ...lower.map(([k, v]): [string, number] => [k.toUpperCase(), v])]);

function byName(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  return names.get(v) ?? names.get(v.toLowerCase());
}

/**
 * Python's numeric levels (logging.DEBUG = 10 ... CRITICAL = 50), rounded down to the named
 * level below. Above 50 is still critical; 1..9 is trace (uvicorn's TRACE is 5); NOTSET (0)
 * and below say nothing.
 */
function byLevelno(v: unknown): number | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  if (v >= 50) return 60;
  if (v >= 40) return 50;
  if (v >= 30) return 40;
  if (v >= 20) return 30;
  if (v >= 10) return 20;
  if (v > 0) return 10;
  return undefined;
}

/** The numeric pino level of a worker's JSON `level`/`levelname`/`levelno`, or undefined. */
export function levelOf(obj: Record<string, unknown>): number | undefined {
  // Precedence level > levelname > levelno; a value that names no level (`"level":"verbose"`)
  // falls through to the next key instead of hiding it.
  const l = obj.level;
  if (typeof l === 'number') {
    if (Number.isFinite(l)) return l;
  } else {
    const n = byName(l);
    if (n !== undefined) return n;
  }
  return byName(obj.levelname) ?? byLevelno(obj.levelno);
}

// ECMA-48: CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL or ST, hyperlinks and
// titles), the other string controls DCS/SOS/PM/APC (ESC P|X|^|_ ... ST), nF (ESC, intermediates,
// final: charset designation), and two-character Fp/Fe/Fs (ESC 7, ESC M, ESC c). A sequence
// that does not complete loses its ESC and introducer only, so no text is ever dropped.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ansi = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]+[0-~]|[0-~])?/g;

/** `s` without terminal escape sequences; `s` itself (no copy) when it has no ESC. */
export function stripAnsi(s: string): string {
  if (s.indexOf('\x1b') === -1) return s;
  return s.replace(ansi, '');
}

/** The merged fields of a JSON line; see mergeJson. */
export interface Merged {
  /** From levelOf(); undefined: the caller's default. */
  level: number | undefined;
  /** `,"key":value,...` to follow corral's own fields; '' for `{}`. */
  body: string;
  /** The object's `kind` when a string ("feedback" for feedback records). */
  kind: string | undefined;
}

/** Whether `s` (the line's first non-space character on) can be a JSON object at all. */
function objectShaped(s: string): boolean {
  let c = s.charCodeAt(0);
  if (c !== 123 /* { */) {
    if (c !== 32 && c !== 9) return false;
    let i = 1;
    while (c === 32 || c === 9) c = s.charCodeAt(i++);
    if (c !== 123) return false;
  }
  // Checked before JSON.parse so that `{not json` costs no exception.
  let j = s.length - 1;
  let e = s.charCodeAt(j);
  while (e === 32 || e === 9 || e === 13 || e === 10) e = s.charCodeAt(--j);
  return e === 125; /* } */
}

/** `,"key":` of a worker's key. Keys repeat from line to line and JSON.stringify is not cheap. */
const keys = new Map<string, string>();
const KEYS_CACHED = 1024; // bounded: a worker that uses ids as keys must not grow it forever

function keyOf(key: string): string {
  let s = keys.get(key);
  if (s === undefined) {
    s = `,${JSON.stringify(key)}:`;
    if (keys.size < KEYS_CACHED) keys.set(key, s);
  }
  return s;
}

/** `,"worker_<key>":` for corral's own `key`, never clashing with a key the worker has. */
function renamed(obj: Record<string, unknown>, key: string): string {
  let k = `worker_${key}`;
  while (Object.hasOwn(obj, k)) k = `worker_${k}`;
  return keyOf(k);
}

/**
 * If `line` is a JSON object (first non-space char '{', parses to a plain object), returns
 * the record body to follow corral's own fields: a string starting with ',' of the form
 * `,"key":value,...` (its fields in their order, serialised with JSON.stringify) plus the
 * level to use, with these rules (SPEC §4): `message` becomes `msg` (when there is no `msg`);
 * corral's own keys time, pool, worker, pid, stream (and level, which corral sets from
 * levelOf()) are removed from the body and a clashing worker value is kept under
 * `worker_<key>` (level is NOT renamed: it is consumed); a `msg` that is not a string is kept as is.
 * Escape sequences in top-level string values are stripped (JSON format carries no ANSI).
 * Returns undefined for anything that is not a JSON object (arrays, numbers, broken JSON,
 * a line like `{not json`), so the caller treats the line as text.
 *
 * "Their order" is the order JSON.parse gives: integer-like keys ("1", "42") come first, and
 * integers beyond 2^53 lose precision, as in every JSON.parse-based logger.
 */
export function mergeJson(line: string): Merged | undefined {
  // Small enough to be inlined: a text line costs one character test.
  const c = line.charCodeAt(0);
  if (c !== 123 /* { */ && c !== 32 && c !== 9) return undefined;
  return merge(line);
}

function merge(line: string): Merged | undefined {
  if (!objectShaped(line)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const obj = parsed as Record<string, unknown>;
  const hasMsg = Object.hasOwn(obj, 'msg');
  let body = '';
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    switch (key) {
      case 'level':
        continue;
      case 'message':
        body += hasMsg ? ',"message":' : ',"msg":';
        break;
      case 'time':
      case 'pool':
      case 'worker':
      case 'pid':
      case 'stream':
        body += renamed(obj, key);
        break;
      default:
        body += keyOf(key);
    }
    // JSON.parse gives finite numbers only, whose JSON is their string.
    if (typeof v === 'number') body += String(v);
    else body += JSON.stringify(typeof v === 'string' ? stripAnsi(v) : v);
  }
  const kind = obj.kind;
  return { level: levelOf(obj), body, kind: typeof kind === 'string' ? kind : undefined };
}
