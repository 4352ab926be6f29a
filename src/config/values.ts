// Parsers for every option value. Each takes what a flag, an env var or the config file
// gave (a string from the first two; a string, number, boolean, array or table from a
// file) and returns the typed value, or throws Invalid saying what was expected; the
// caller adds where the value came from and what was found (resolve.ts).

import { statSync } from 'node:fs';
import { isIP, isIPv4, isIPv6 } from './ip.js';
import { resolve } from 'node:path';
import { parseSignal } from '../process/status.js';
import type { ReadySpec, RestartPolicy } from '../model.js';
import { parseDuration, parseSize } from './units.js';
import { LOG_LEVELS, type HostPort, type LogLevel, type PoolConfig } from './types.js';

export class Invalid extends Error {
  /**
   * @param expected what would have been accepted, as the user should read it
   * @param at the key path below the value's own, for an entry of a table (env.FOO)
   * @param found the offending part, when it is not the whole value
   */
  constructor(
    readonly expected: string,
    readonly at: readonly string[] = [],
    readonly found?: unknown,
  ) {
    super(`expected ${expected}`);
    this.name = 'Invalid';
  }
}

export interface ValueContext {
  /** Relative paths resolve against this: the config file's folder, else corral's cwd. */
  baseDir: string;
}

export type ValueParser<T> = (v: unknown, ctx: ValueContext) => T;

function isOff(v: unknown): boolean {
  return v === null || v === false || (typeof v === 'string' && v.trim().toLowerCase() === 'off');
}

function integer(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*\d{1,15}\s*$/.test(v)) return Number(v);
  return undefined;
}

function text(v: unknown, expected: string): string {
  if (typeof v !== 'string') throw new Invalid(expected);
  return v.trim();
}

export const positiveInt: ValueParser<number> = (v) => {
  const n = integer(v);
  if (n === undefined || n < 1) throw new Invalid('a positive integer');
  return n;
};

export const nonNegativeInt: ValueParser<number> = (v) => {
  const n = integer(v);
  if (n === undefined) throw new Invalid('a non-negative integer');
  return n;
};

/**
 * The most workers corral runs, in one pool and in all pools together: far above one
 * process per GPU of any machine, and low enough that a typo (1000000000) is an error at
 * once instead of a corral that spawns until the machine is out of memory.
 */
export const MAX_WORKERS = 1024;

export const workers: ValueParser<number | 'gpu'> = (v) => {
  if (typeof v === 'string' && v.trim().toLowerCase() === 'gpu') return 'gpu';
  const n = integer(v);
  if (n === undefined || n < 1) throw new Invalid('a positive integer or "gpu"');
  if (n > MAX_WORKERS) throw new Invalid(`a positive integer up to ${MAX_WORKERS} or "gpu"`);
  return n;
};

export const workersPerGpu: ValueParser<number> = (v) => {
  const n = integer(v);
  if (n === undefined || n < 1) throw new Invalid('a positive integer');
  if (n > MAX_WORKERS) throw new Invalid(`a positive integer up to ${MAX_WORKERS}`);
  return n;
};

const PORT_EXPECTED = 'a port number (1-65535)';

function port(v: unknown): number | undefined {
  const n = integer(v);
  return n !== undefined && n >= 1 && n <= 65535 ? n : undefined;
}

export const portBase: ValueParser<number | null> = (v) => {
  if (isOff(v)) return null;
  const n = port(v);
  if (n === undefined) throw new Invalid(`${PORT_EXPECTED} or "off"`);
  return n;
};

const GPU_EXPECTED = '"all", "none" or a list of GPU indexes or UUIDs such as "0,2"';
const GPU_ID = /^(?:\d{1,3}|GPU-[0-9A-Fa-f-]{8,}|MIG-[\w/-]+)$/;

export const gpus: ValueParser<PoolConfig['gpus']> = (v) => {
  let items: unknown[];
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'all' || s === 'none' || s === 'auto') return s;
    items = v.split(',');
  } else if (typeof v === 'number') {
    items = [v];
  } else if (Array.isArray(v)) {
    items = v;
  } else {
    throw new Invalid(GPU_EXPECTED);
  }
  if (items.length === 0) throw new Invalid(`${GPU_EXPECTED} (an empty list leaves no GPU; use "none")`);
  const out: string[] = [];
  for (const item of items) {
    const id = typeof item === 'number' && Number.isSafeInteger(item) ? String(item) : typeof item === 'string' ? item.trim() : undefined;
    if (id === undefined || !GPU_ID.test(id)) throw new Invalid(GPU_EXPECTED, [], item);
    if (out.includes(id)) throw new Invalid(`${GPU_EXPECTED}, each GPU once`, [], item);
    out.push(id);
  }
  return out;
};

export const restart: ValueParser<RestartPolicy> = (v) => {
  const s = text(v, '"always", "on-failure" or "never"').toLowerCase();
  if (s === 'always' || s === 'on-failure' || s === 'never') return s;
  throw new Invalid('"always", "on-failure" or "never"');
};

const READY_EXPECTED = '"started", "notify", "tcp:PORT" or "http:URL"';
const PLACEHOLDER = /\{([^{}]*)\}/g;

/** Checks the placeholders and returns the text with sample values, to validate its shape. */
function sample(s: string): string {
  for (const m of s.matchAll(PLACEHOLDER)) {
    if (m[1] !== 'port' && m[1] !== 'worker') throw new Invalid('only the placeholders {port} and {worker}', [], m[0]);
  }
  return s.replaceAll('{port}', '8000').replaceAll('{worker}', '0');
}

export const ready: ValueParser<ReadySpec> = (v) => {
  const s = text(v, READY_EXPECTED);
  const lower = s.toLowerCase();
  if (lower === 'started' || lower === 'notify') return { kind: lower };
  if (lower.startsWith('tcp:')) {
    const p = s.slice(4).trim();
    const expected = 'tcp:PORT with a port number or {port} (e.g. "tcp:{port}")';
    if (p === '' || port(sample(p)) === undefined || !/^\d+$/.test(sample(p))) throw new Invalid(expected);
    return { kind: 'tcp', port: p };
  }
  if (lower.startsWith('http:') || lower.startsWith('https:')) {
    // Both `http:http://host/path` (the SPEC's http:URL) and the bare URL are accepted.
    const url = lower.startsWith('http:http') ? s.slice(5).trim() : s;
    const expected = 'http:URL with an http:// or https:// URL (e.g. "http://127.0.0.1:{port}/ready")';
    const filled = sample(url);
    let parsed: URL;
    try {
      parsed = new URL(filled);
    } catch {
      throw new Invalid(expected);
    }
    if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '' || !/^https?:\/\//i.test(url)) {
      throw new Invalid(expected);
    }
    return { kind: 'http', url };
  }
  throw new Invalid(READY_EXPECTED);
};

const DURATION_EXPECTED = 'a duration like 500ms, 30s, 5m, 1h or a number of seconds';

/**
 * The longest duration corral accepts: Node's timers hold at most 2^31-1 ms (24.8 days); a
 * longer one fires after 1 ms instead (with a TimeoutOverflowWarning). 24 days, said in the error.
 */
export const MAX_DURATION_MS = 24 * 24 * 3_600_000;

function duration(v: unknown, expected: string): number {
  const ms = typeof v === 'number' || typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined || !Number.isSafeInteger(ms)) throw new Invalid(expected);
  if (ms > MAX_DURATION_MS) throw new Invalid(`${expected}, at most 24 days (576h)`);
  return ms;
}

/** Zero allowed (grace 0: SIGKILL right after the stop signal). */
export const durationMs: ValueParser<number> = (v) => duration(v, DURATION_EXPECTED);

export const positiveDurationMs: ValueParser<number> = (v) => {
  const expected = `${DURATION_EXPECTED}, greater than 0`;
  const ms = duration(v, expected);
  if (ms === 0) throw new Invalid(expected);
  return ms;
};

export const optionalDurationMs: ValueParser<number | null> = (v) => {
  if (isOff(v)) return null;
  const expected = `${DURATION_EXPECTED} greater than 0, or "off"`;
  const ms = duration(v, expected);
  if (ms === 0) throw new Invalid(expected);
  return ms;
};

export const optionalSize: ValueParser<number | null> = (v) => {
  if (isOff(v)) return null;
  const expected = 'a size like 512MiB, 8GiB, 2GB or a number of bytes, greater than 0, or "off"';
  const bytes = typeof v === 'number' || typeof v === 'string' ? parseSize(v) : undefined;
  if (bytes === undefined || bytes === 0 || !Number.isSafeInteger(bytes)) throw new Invalid(expected);
  return bytes;
};

export const signal: ValueParser<NodeJS.Signals> = (v) => {
  const expected = 'a signal name such as SIGTERM, SIGINT or SIGQUIT';
  const sig = typeof v === 'string' ? parseSignal(v) : typeof v === 'number' ? parseSignal(String(v)) : undefined;
  if (sig === undefined) throw new Invalid(expected);
  return sig;
};

/** --threads: "auto", "off" or a thread count per worker. */
export const threads: ValueParser<'auto' | 'off' | number> = (v) => {
  const expected = `"auto", "off" or a positive integer up to ${MAX_WORKERS}`;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'auto' || s === 'off') return s;
  }
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) throw new Invalid(expected);
  return n;
};

export const onCudaError: ValueParser<'restart' | 'ignore'> = (v) => {
  const s = text(v, '"restart" or "ignore"').toLowerCase();
  if (s === 'restart' || s === 'ignore') return s;
  throw new Invalid('"restart" or "ignore"');
};

/** --watchdog-signal: a signal, or "off" (null). */
export const optionalSignal: ValueParser<NodeJS.Signals | null> = (v) => {
  if (isOff(v)) return null;
  const sig = typeof v === 'string' ? parseSignal(v) : typeof v === 'number' ? parseSignal(String(v)) : undefined;
  if (sig === undefined) throw new Invalid('a signal name such as SIGQUIT or SIGUSR1, or "off"');
  return sig;
};

export const bool: ValueParser<boolean> = (v) => {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(s)) return true;
    if (['false', '0', 'no', 'off'].includes(s)) return false;
  }
  throw new Invalid('true or false');
};

/** HOST:PORT, [IPv6]:PORT or :PORT (all IPv4 interfaces). `names`: host names allowed too. */
function hostPort(v: unknown, names: boolean, example: number): HostPort | null {
  const expected = `HOST:PORT such as 0.0.0.0:${example}, [::]:${example} or :${example}, or "off"`;
  if (isOff(v)) return null;
  const s = text(v, expected);
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\]:(\d+)$/.exec(s);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2] ?? '';
    if (!isIPv6(host)) throw new Invalid(expected);
  } else {
    const colon = s.lastIndexOf(':');
    if (colon === -1) throw new Invalid(expected);
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (host === '') host = '0.0.0.0';
    // An IPv6 address needs brackets: in ::1:9000 the port cannot be told apart.
    const hostOk = isIPv4(host) || (names && /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host) && isIP(host) === 0 && /[A-Za-z]/.test(host));
    if (!hostOk) throw new Invalid(names ? expected : `${expected} (an IP address, not a host name)`);
  }
  const p = /^\d+$/.test(portText) ? port(portText) : undefined;
  if (p === undefined) throw new Invalid(expected);
  return { host, port: p };
}

export const listen: ValueParser<HostPort | null> = (v) => hostPort(v, false, 8080);
export const http: ValueParser<HostPort | null> = (v) => hostPort(v, true, 9000);

export const user: ValueParser<string | null> = (v) => {
  if (v === null) return null;
  const expected = 'UID[:GID] or a user name';
  const s = text(v, expected);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/.test(s) || s.length > 64) throw new Invalid(expected);
  return s;
};

export const logFormat: ValueParser<'json' | 'pretty' | 'raw'> = (v) => {
  const s = text(v, '"json", "pretty" or "raw"').toLowerCase();
  if (s === 'json' || s === 'pretty' || s === 'raw') return s;
  throw new Invalid('"json", "pretty" or "raw"');
};

export const logLevel: ValueParser<LogLevel> = (v) => {
  const expected = `one of ${LOG_LEVELS.join(', ')}`;
  const s = text(v, expected).toLowerCase();
  const level = LOG_LEVELS.find((l) => l === s);
  if (level === undefined) throw new Invalid(expected);
  return level;
};

/** A file path; relative ones resolve against the config file's folder (or corral's cwd). */
export const filePath: ValueParser<string | null> = (v, ctx) => {
  if (v === null) return null;
  const s = text(v, 'a file path');
  if (s === '' || s.includes('\0')) throw new Invalid('a file path');
  return resolve(ctx.baseDir, s);
};

export const directory: ValueParser<string | null> = (v, ctx) => {
  if (v === null) return null;
  const expected = 'the path of an existing directory';
  const s = text(v, expected);
  if (s === '' || s.includes('\0')) throw new Invalid(expected);
  const dir = resolve(ctx.baseDir, s);
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {
    // missing or unreadable: reported below
  }
  if (!ok) throw new Invalid(expected);
  return dir;
};

/** A list as a TOML array or a comma-separated string ("a,b"); empty items dropped. */
function list(v: unknown, expected: string): string[] {
  const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : undefined;
  if (!items || !items.every((x) => typeof x === 'string')) throw new Invalid(expected);
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

/** --watch: files or directories that exist, resolved against the config file's folder; "off" or empty for none. */
export const watchPaths: ValueParser<string[]> = (v, ctx) => {
  if (isOff(v)) return [];
  const expected = 'existing files or directories, as a list or separated by commas';
  return list(v, expected).map((s) => {
    if (s.includes('\0')) throw new Invalid(expected);
    const p = resolve(ctx.baseDir, s);
    try {
      statSync(p);
    } catch {
      throw new Invalid(expected, [], s);
    }
    return p;
  });
};

/** --watch-ignore: glob patterns (`*`, `**`, `?`), matched against the changed path below the watched one. */
export const globs: ValueParser<string[]> = (v) => {
  if (isOff(v)) return [];
  return list(v, 'glob patterns such as "*.log" or "data/**", as a list or separated by commas');
};

const COMMAND_EXPECTED = 'a non-empty array of strings such as ["python", "serve.py"]';

export const command: ValueParser<string[]> = (v) => {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) throw new Invalid(COMMAND_EXPECTED);
  const argv = v;
  if ((argv[0] ?? '').trim() === '') throw new Invalid(`${COMMAND_EXPECTED}, the first naming a program`);
  if (argv.some((a) => a.includes('\0'))) throw new Invalid(`${COMMAND_EXPECTED} without NUL characters`);
  return argv;
};

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** NAME = "value"; numbers and booleans are written as strings (OMP_NUM_THREADS = 4). */
export const envTable: ValueParser<Record<string, string>> = (v) => {
  if (!isTable(v)) throw new Invalid('a table of NAME = "value"');
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(v)) {
    if (name === '' || name.includes('=') || name.includes('\0')) {
      throw new Invalid('a variable name without "=" (letters, digits and _)', [name], name);
    }
    if (typeof value === 'string') {
      if (value.includes('\0')) throw new Invalid('a string without NUL characters', [name], value);
      out.push([name, value]);
    } else if (typeof value === 'number' || typeof value === 'boolean') {
      out.push([name, String(value)]);
    } else {
      throw new Invalid('a string', [name], value);
    }
  }
  // fromEntries defines own properties: a variable named __proto__ stays a variable.
  return Object.fromEntries(out);
};

export { isTable };
