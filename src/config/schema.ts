// Every configuration key: where it may appear (top level or in a pool), its flag, its
// env var and its parser. Flag = the key with - for _, env var = CORRAL_ + KEY in upper
// case; `command`, `cwd` and `env` exist only in a pool of the config file.

import * as v from './values.js';
import type { ValueParser } from './values.js';

export interface KeyDef<T> {
  /** The config-file key (snake case). */
  key: string;
  /** The flag without dashes, or null for a file-only key. */
  flag: string | null;
  /** The environment variable, or null for a file-only key. */
  env: string | null;
  parse: ValueParser<T>;
}

function def<T>(key: string, parse: ValueParser<T>, fileOnly = false): KeyDef<T> {
  return {
    key,
    flag: fileOnly ? null : key.replaceAll('_', '-'),
    env: fileOnly ? null : `CORRAL_${key.toUpperCase()}`,
    parse,
  };
}

/** Top-level keys: options of corral itself. */
export const GLOBAL = {
  http: def('http', v.http),
  grace: def('grace', v.durationMs),
  drainDelay: def('drain_delay', v.durationMs),
  logFormat: def('log_format', v.logFormat),
  logLevel: def('log_level', v.logLevel),
  feedbackFile: def('feedback_file', v.filePath),
};

/** Keys of a [pools.NAME] table; as flags or env vars they apply to every pool. */
export const POOL = {
  command: def('command', v.command, true),
  workers: def('workers', v.workers),
  gpus: def('gpus', v.gpus),
  workersPerGpu: def('workers_per_gpu', v.workersPerGpu),
  restart: def('restart', v.restart),
  ready: def('ready', v.ready),
  readyTimeout: def('ready_timeout', v.positiveDurationMs),
  watchdog: def('watchdog', v.optionalDurationMs),
  watchdogSignal: def('watchdog_signal', v.optionalSignal),
  onCudaError: def('on_cuda_error', v.onCudaError),
  threads: def('threads', v.threads),
  watch: def('watch', v.watchPaths),
  watchIgnore: def('watch_ignore', v.globs),
  listen: def('listen', v.listen),
  portBase: def('port_base', v.portBase),
  stopSignal: def('stop_signal', v.signal),
  minReady: def('min_ready', v.nonNegativeInt),
  user: def('user', v.user),
  maxRss: def('max_rss', v.optionalSize),
  pty: def('pty', v.bool),
  cwd: def('cwd', v.directory, true),
  env: def('env', v.envTable, true),
};

export const CONFIG_FLAG = 'config';
export const CONFIG_ENV = 'CORRAL_CONFIG';

export const GLOBAL_KEYS: readonly string[] = Object.values(GLOBAL).map((k) => k.key);
export const POOL_KEYS: readonly string[] = Object.values(POOL).map((k) => k.key);

/** Every flag of the run command line, --config included. */
export const ALL_FLAGS: readonly string[] = [
  CONFIG_FLAG,
  ...[...Object.values(POOL), ...Object.values(GLOBAL)].flatMap((k: KeyDef<unknown>) => (k.flag === null ? [] : [k.flag])),
];
