// The validated configuration: what the supervisor runs. Built by resolve.ts from flags,
// CORRAL_* environment variables, the config file and the defaults, in that precedence.

import type { ReadySpec, RestartPolicy } from '../model.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface HostPort {
  /** A literal IP for --listen; an IP or host name for --http. `:PORT` means 0.0.0.0. */
  host: string;
  port: number;
}

export interface PoolConfig {
  name: string;
  command: string[];
  /** 'gpu' = one per GPU found (after `gpus`) times `workersPerGpu`. */
  workers: number | 'gpu';
  /** 'auto' (the default): all GPUs if any are found, else none; a list holds indexes or UUIDs as given. */
  gpus: 'all' | 'none' | 'auto' | string[];
  workersPerGpu: number;
  restart: RestartPolicy;
  ready: ReadySpec;
  readyTimeoutMs: number;
  /** null: no heartbeat is required. */
  watchdogMs: number | null;
  /** Sent to the worker's group before a watchdog stop, for a stack dump; null: none. */
  watchdogSignal: NodeJS.Signals | null;
  /** What a sticky CUDA error line does (SPEC §9). */
  onCudaError: 'restart' | 'ignore';
  /** OMP/MKL/OPENBLAS_NUM_THREADS per worker (SPEC §10). */
  threads: 'auto' | 'off' | number;
  /** threads came from a flag, env var or file (a drop-in's default is off, SPEC §12). */
  threadsGiven: boolean;
  /** Absolute paths whose changes restart the pool's workers (SPEC §11); empty: none. */
  watch: string[];
  /** Globs of changes that restart nothing, beside the default ignores. */
  watchIgnore: string[];
  /** The socket corral binds and passes to every worker as fd 3; null: none. */
  listen: HostPort | null;
  /** Worker i gets PORT=portBase+i; null: no PORT. */
  portBase: number | null;
  stopSignal: NodeJS.Signals;
  /** Ready workers the pool needs for /readyz; 0 means the pool never holds readiness back. */
  minReady: number;
  /** `UID[:GID]` or a user name, resolved when workers are spawned; null: corral's own user. */
  user: string | null;
  maxRssBytes: number | null;
  pty: boolean;
  /** Absolute working directory of the workers; null: corral's own. */
  cwd: string | null;
  /** Added to corral's environment for this pool's workers. */
  env: Record<string, string>;
}

export interface Config {
  /** The config file as the user named it, or null when the pool came from the command line. */
  source: string | null;
  /** The health and metrics server; null: off. */
  http: HostPort | null;
  graceMs: number;
  drainDelayMs: number;
  logFormat: 'json' | 'pretty' | 'raw';
  logLevel: LogLevel;
  /** log_level came from a flag, env var or file (interactive use is quiet only without it). */
  logLevelGiven: boolean;
  /** Absolute path, or null: feedback records go to the log stream. */
  feedbackFile: string | null;
  /** In file order: started in this order, stopped in reverse. */
  pools: PoolConfig[];
  /**
   * A drop-in for tini (SPEC §12): one worker, restart never, raw format, no health server.
   * The program's environment then gains nothing that changes how it runs: no NOTIFY_SOCKET
   * unless --ready notify or --watchdog needs it, and threads off unless given.
   */
  dropIn: boolean;
}
