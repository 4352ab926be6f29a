// The configuration from its four sources, in precedence order: flag > env var
// CORRAL_<NAME> > config file > default. With a config file, a pool option given as a
// flag or env var overrides that key in every pool of the file. Every mistake is a
// CorralError (exit 2) whose message names where the value came from (the file and key
// path, the flag or the env var), what was expected and what was found.

import { CorralError } from '../errors.js';
import { checkHint, readConfigFile, type ConfigDocument } from './file.js';
import { CONFIG_ENV, CONFIG_FLAG, GLOBAL, GLOBAL_KEYS, POOL, POOL_KEYS, type KeyDef } from './schema.js';
import { nearest } from './suggest.js';
import type { ReadySpec } from '../model.js';
import type { Config, HostPort, PoolConfig } from './types.js';
import { Invalid, isTable } from './values.js';

export interface ConfigInput {
  /** Flag values by flag name (`workers-per-gpu`, `config`); undefined: not given. */
  flags: Readonly<Record<string, string | boolean | undefined>>;
  /** corral's environment; only CORRAL_<option> names are read, empty values count as unset. */
  env: NodeJS.ProcessEnv;
  /** The command from the command line (pool "main"); empty when none was given. */
  command: readonly string[];
  stderrIsTTY: boolean;
  /** Where relative paths from flags and env vars resolve; defaults to process.cwd(). */
  cwd?: string;
}

export const DEFAULT_HTTP: HostPort = { host: '0.0.0.0', port: 9000 };
const DEFAULT_GRACE_MS = 25_000;
const DEFAULT_READY_TIMEOUT_MS = 10 * 60_000;
/** Pool names go into metric labels, LISTEN_FDNAMES and log prefixes: keep them plain. */
const POOL_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;

type Origin = { kind: 'flag'; flag: string } | { kind: 'env'; name: string } | { kind: 'file'; doc: ConfigDocument; path: readonly string[] } | { kind: 'default' };

interface Sourced<T> {
  value: T;
  origin: Origin;
}

function keyPath(path: readonly string[]): string {
  return path.map((p) => (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p))).join('.');
}

function where(origin: Origin, below: readonly string[] = []): string {
  switch (origin.kind) {
    case 'flag':
      return `--${origin.flag}`;
    case 'env':
      return origin.name;
    case 'file':
      return `${origin.doc.name}: ${keyPath([...origin.path, ...below])}`;
    case 'default':
      return 'default';
  }
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** What was found, as the user would recognise it: strings quoted, tables named. */
function show(v: unknown, format: 'toml' | 'json' | null): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return clip(JSON.stringify(v));
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return `a date (${clip(String(v))})`;
  if (Array.isArray(v)) {
    try {
      return clip(JSON.stringify(v));
    } catch {
      return 'an array';
    }
  }
  return format === 'json' ? 'an object' : 'a table';
}

function valueError(origin: Origin, message: string): CorralError {
  if (origin.kind === 'file') return new CorralError('CONFIG_VALUE', message, { hint: checkHint(origin.doc.name) });
  return new CorralError('BAD_VALUE', message);
}

function invalid(origin: Origin, expected: string, found: unknown, below: readonly string[] = []): CorralError {
  const format = origin.kind === 'file' ? origin.doc.format : null;
  return valueError(origin, `${where(origin, below)}: expected ${expected}, got ${show(found, format)}`);
}

function unknownKey(doc: ConfigDocument, path: readonly string[], valid: readonly string[], misplaced: string | undefined): CorralError {
  const key = path[path.length - 1] ?? '';
  const level = path.length === 1 ? 'top-level key' : 'pool key';
  let message = `${doc.name}: ${keyPath(path)}: unknown ${level}`;
  if (misplaced !== undefined) {
    message += `; ${misplaced}`;
  } else {
    const guess = nearest(key, valid);
    message += guess === undefined ? ` (valid keys: ${valid.join(', ')})` : ` (did you mean "${guess}"?)`;
  }
  return new CorralError('CONFIG_KEY', message);
}

/** Looks a key up in flag, env, file and default order, and parses the first found. */
class Sources {
  constructor(
    private readonly input: ConfigInput,
    private readonly cwd: string,
  ) {}

  find(k: KeyDef<unknown>, table: { doc: ConfigDocument; path: readonly string[]; data: Record<string, unknown> } | null): Sourced<unknown> | undefined {
    if (k.flag !== null) {
      const f = this.input.flags[k.flag];
      if (f !== undefined) return { value: f, origin: { kind: 'flag', flag: k.flag } };
    }
    if (k.env !== null) {
      const e = this.input.env[k.env];
      if (e !== undefined && e !== '') return { value: e, origin: { kind: 'env', name: k.env } };
    }
    if (table && Object.hasOwn(table.data, k.key)) {
      return { value: table.data[k.key], origin: { kind: 'file', doc: table.doc, path: [...table.path, k.key] } };
    }
    return undefined;
  }

  read<T>(k: KeyDef<T>, table: Parameters<Sources['find']>[1], fallback: T): Sourced<T> {
    const found = this.find(k, table);
    if (found === undefined) return { value: fallback, origin: { kind: 'default' } };
    const baseDir = found.origin.kind === 'file' ? found.origin.doc.dir : this.cwd;
    try {
      return { value: k.parse(found.value, { baseDir }), origin: found.origin };
    } catch (err) {
      if (err instanceof Invalid) throw invalid(found.origin, err.expected, err.found === undefined ? found.value : err.found, err.at);
      throw err;
    }
  }
}

function configPath(input: ConfigInput): Sourced<string> | null {
  const flag = input.flags[CONFIG_FLAG];
  if (flag !== undefined) {
    if (typeof flag !== 'string' || flag.trim() === '') throw invalid({ kind: 'flag', flag: CONFIG_FLAG }, 'a file path', flag);
    return { value: flag, origin: { kind: 'flag', flag: CONFIG_FLAG } };
  }
  const env = input.env[CONFIG_ENV];
  if (env !== undefined && env !== '') return { value: env, origin: { kind: 'env', name: CONFIG_ENV } };
  return null;
}

function uses(ready: ReadySpec, placeholder: string): boolean {
  return (ready.kind === 'tcp' ? ready.port : ready.kind === 'http' ? ready.url : '').includes(placeholder);
}

function resolvePool(
  src: Sources,
  name: string,
  command: Sourced<string[]>,
  table: Parameters<Sources['find']>[1],
  env: NodeJS.ProcessEnv,
): PoolConfig {
  const workers = src.read(POOL.workers, table, 1);
  const gpus = src.read(POOL.gpus, table, 'auto');
  const workersPerGpu = src.read(POOL.workersPerGpu, table, 1);
  const restart = src.read(POOL.restart, table, workers.value === 1 ? 'never' : 'always');
  const ready = src.read(POOL.ready, table, { kind: 'started' });
  const readyTimeout = src.read(POOL.readyTimeout, table, DEFAULT_READY_TIMEOUT_MS);
  const watchdog = src.read(POOL.watchdog, table, null);
  const watchdogSignal = src.read(POOL.watchdogSignal, table, 'SIGQUIT');
  const onCudaError = src.read(POOL.onCudaError, table, 'restart');
  const threads = src.read(POOL.threads, table, 'auto');
  const watch = src.read(POOL.watch, table, [] as string[]);
  const watchIgnore = src.read(POOL.watchIgnore, table, [] as string[]);
  const listen = src.read(POOL.listen, table, null);
  const portBase = src.read(POOL.portBase, table, null);
  const stopSignal = src.read(POOL.stopSignal, table, 'SIGTERM');
  const minReady = src.read(POOL.minReady, table, 1);
  const user = src.read(POOL.user, table, null);
  const maxRss = src.read(POOL.maxRss, table, null);
  const pty = src.read(POOL.pty, table, false);
  const cwd = src.read(POOL.cwd, table, null);
  const poolEnv = src.read(POOL.env, table, {});

  // A flag or env var applies to every pool of a file: say which pool it does not fit.
  const inPool = (o: Origin): string => (table !== null && o.kind !== 'file' ? ` (pool ${JSON.stringify(name)})` : '');

  if (workers.value === 'gpu' && gpus.value === 'none') {
    throw invalid(workers.origin, `a positive integer${inPool(workers.origin)}, since gpus is "none" and "gpu" means one per GPU`, 'gpu');
  }
  const most = typeof workers.value === 'number' ? workers.value : Array.isArray(gpus.value) ? gpus.value.length * workersPerGpu.value : undefined;
  if (most !== undefined && minReady.value > most) {
    throw invalid(minReady.origin, `at most the pool's ${most} worker${most === 1 ? '' : 's'}${inPool(minReady.origin)}`, minReady.value);
  }
  if (portBase.value !== null && typeof workers.value === 'number' && portBase.value + workers.value - 1 > 65535) {
    throw invalid(portBase.origin, `at most ${65536 - workers.value}${inPool(portBase.origin)}, so that every worker's port is at most 65535`, portBase.value);
  }
  const hasPort = portBase.value !== null || poolEnv.value.PORT !== undefined || (env.PORT ?? '') !== '';
  if (!hasPort && uses(ready.value, '{port}')) {
    const given = ready.value.kind === 'tcp' ? `tcp:${ready.value.port}` : ready.value.kind === 'http' ? ready.value.url : ready.value.kind;
    throw invalid(ready.origin, `a port or URL without {port}${inPool(ready.origin)}, since port_base is not set (it is what gives each worker its PORT)`, given);
  }

  return {
    name,
    command: command.value,
    workers: workers.value,
    gpus: gpus.value,
    workersPerGpu: workersPerGpu.value,
    restart: restart.value,
    ready: ready.value,
    readyTimeoutMs: readyTimeout.value,
    watchdogMs: watchdog.value,
    watchdogSignal: watchdogSignal.value,
    onCudaError: onCudaError.value,
    threads: threads.value,
    threadsGiven: threads.origin.kind !== 'default',
    watch: watch.value,
    watchIgnore: watchIgnore.value,
    listen: listen.value,
    portBase: portBase.value,
    stopSignal: stopSignal.value,
    minReady: minReady.value,
    user: user.value,
    maxRssBytes: maxRss.value,
    pty: pty.value,
    cwd: cwd.value,
    env: poolEnv.value,
  };
}

/** The pools of a file, in file order, with their keys checked. */
function filePools(doc: ConfigDocument): { name: string; data: Record<string, unknown> }[] {
  const json = doc.format === 'json';
  const poolPlace = json ? 'it goes in an object under "pools"' : 'it goes in a [pools.NAME] table';
  for (const key of Object.keys(doc.data)) {
    if (key === 'pools' || GLOBAL_KEYS.includes(key)) continue;
    throw unknownKey(doc, [key], [...GLOBAL_KEYS, 'pools'], POOL_KEYS.includes(key) ? `"${key}" is a pool key: ${poolPlace}` : undefined);
  }
  const pools = doc.data.pools;
  const one = json ? 'at least one pool, as "pools": {"NAME": {"command": [...]}}' : 'at least one [pools.NAME] table with a command';
  const origin: Origin = { kind: 'file', doc, path: ['pools'] };
  if (pools === undefined || (isTable(pools) && Object.keys(pools).length === 0)) throw invalid(origin, one, pools);
  if (!isTable(pools)) throw invalid(origin, `a table of pools: ${one}`, pools);

  const out: { name: string; data: Record<string, unknown> }[] = [];
  for (const [name, data] of Object.entries(pools)) {
    if (!POOL_NAME.test(name)) {
      throw invalid({ kind: 'file', doc, path: ['pools', name] }, 'a pool name of letters, digits, "_" and "-" that starts with a letter (at most 63)', name);
    }
    if (!isTable(data)) throw invalid({ kind: 'file', doc, path: ['pools', name] }, json ? 'an object of pool settings' : 'a table of pool settings', data);
    for (const key of Object.keys(data)) {
      if (POOL_KEYS.includes(key)) continue;
      throw unknownKey(doc, ['pools', name, key], POOL_KEYS, GLOBAL_KEYS.includes(key) ? `"${key}" is a top-level key, not a pool key` : undefined);
    }
    out.push({ name, data });
  }
  return out;
}

/** Validates and merges every source into the configuration corral runs. */
export function resolveConfig(input: ConfigInput): Config {
  const cwd = input.cwd ?? process.cwd();
  const src = new Sources(input, cwd);
  const file = configPath(input);
  if (file !== null && input.command.length > 0) {
    throw new CorralError(
      'USAGE',
      `a command on the command line (${clip(JSON.stringify(input.command.join(' ')))}) cannot be combined with a config file (${where(file.origin)} ${file.value})`,
      { hint: file.origin.kind === 'env' ? `put the command in a pool of the file, or unset ${CONFIG_ENV}` : 'put the command in a pool of the file, or drop --config' },
    );
  }
  if (file === null && input.command.length === 0) throw new CorralError('NO_COMMAND', 'no command given');
  const doc = file === null ? null : readConfigFile(file.value, cwd);
  const top = doc === null ? null : { doc, path: [], data: doc.data };

  // The file's own structure first, so that a typo in a key is reported before a bad value.
  const fromFile = doc === null ? null : filePools(doc);
  const http = src.read(GLOBAL.http, top, DEFAULT_HTTP);
  const graceMs = src.read(GLOBAL.grace, top, DEFAULT_GRACE_MS);
  const drainDelayMs = src.read(GLOBAL.drainDelay, top, 0);
  const logFormat = src.read(GLOBAL.logFormat, top, input.stderrIsTTY ? 'pretty' : 'json');
  const logLevel = src.read(GLOBAL.logLevel, top, 'info');
  const feedbackFile = src.read(GLOBAL.feedbackFile, top, null);

  let pools: PoolConfig[];
  if (doc === null || fromFile === null) {
    const command = [...input.command];
    if ((command[0] ?? '').trim() === '') throw new CorralError('NO_COMMAND', 'the command\'s name is empty');
    pools = [resolvePool(src, 'main', { value: command, origin: { kind: 'default' } }, null, input.env)];
  } else {
    pools = fromFile.map(({ name, data }) => {
      const table = { doc, path: ['pools', name], data };
      if (!Object.hasOwn(data, 'command')) throw invalid({ kind: 'file', doc, path: ['pools', name, 'command'] }, 'a non-empty array of strings such as ["python", "serve.py"]', undefined);
      return resolvePool(src, name, src.read(POOL.command, table, []), table, input.env);
    });
  }

  const only = pools.length === 1 ? pools[0] : undefined;
  const dropIn = logFormat.value === 'raw' && http.value === null && only !== undefined && only.workers === 1 && only.restart === 'never';
  if (dropIn && !only.threadsGiven) only.threads = 'off';
  return {
    source: file === null ? null : file.value,
    dropIn,
    http: http.value,
    graceMs: graceMs.value,
    drainDelayMs: drainDelayMs.value,
    logFormat: logFormat.value,
    logLevel: logLevel.value,
    logLevelGiven: logLevel.origin.kind !== 'default',
    feedbackFile: feedbackFile.value,
    pools,
  };
}

/**
 * The health server's address for `probe` and `status`: flag > env > the file's `http`
 * (when --config or CORRAL_CONFIG names one) > default. Only that key of the file is read:
 * a probe must not fail over a pool setting it does not use.
 */
export function resolveHttp(input: Omit<ConfigInput, 'command' | 'stderrIsTTY'>): HostPort | null {
  const cwd = input.cwd ?? process.cwd();
  const src = new Sources({ ...input, command: [], stderrIsTTY: false }, cwd);
  const file = configPath({ ...input, command: [], stderrIsTTY: false });
  const flagOrEnv = src.find(GLOBAL.http, null);
  if (flagOrEnv !== undefined || file === null) return src.read(GLOBAL.http, null, DEFAULT_HTTP).value;
  const doc = readConfigFile(file.value, cwd);
  return src.read(GLOBAL.http, { doc, path: [], data: doc.data }, DEFAULT_HTTP).value;
}
