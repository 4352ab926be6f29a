// The effective configuration as `corral check-config` prints it: the file's own keys
// and shapes (durations as "25s", sizes in bytes), so the output reads like the file and
// a reviewer can diff the two. Pool env values are masked: they are often secrets, and
// check-config output ends up in CI logs.

import { formatDuration } from './units.js';
import type { ReadySpec } from '../model.js';
import type { Config, HostPort, PoolConfig } from './types.js';

function address(a: HostPort | null): string | null {
  if (a === null) return null;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function readySpec(r: ReadySpec): string {
  switch (r.kind) {
    case 'started':
    case 'notify':
      return r.kind;
    case 'tcp':
      return `tcp:${r.port}`;
    case 'http':
      return r.url;
  }
}

function pool(p: PoolConfig): Record<string, unknown> {
  return {
    command: p.command,
    workers: p.workers,
    gpus: p.gpus,
    workers_per_gpu: p.workersPerGpu,
    restart: p.restart,
    ready: readySpec(p.ready),
    ready_timeout: formatDuration(p.readyTimeoutMs),
    watchdog: p.watchdogMs === null ? null : formatDuration(p.watchdogMs),
    watchdog_signal: p.watchdogSignal,
    on_cuda_error: p.onCudaError,
    threads: p.threads,
    watch: p.watch,
    watch_ignore: p.watchIgnore,
    listen: address(p.listen),
    port_base: p.portBase,
    stop_signal: p.stopSignal,
    min_ready: p.minReady,
    user: p.user,
    max_rss: p.maxRssBytes,
    pty: p.pty,
    cwd: p.cwd,
    env: Object.fromEntries(Object.keys(p.env).map((k) => [k, '***'])),
  };
}

/**
 * Pretty JSON of the effective configuration; `null` marks a setting that is off. With
 * `threads` (check-config), each pool also shows `threads_per_worker`: what its workers' OMP,
 * MKL and OPENBLAS_NUM_THREADS would be here (null: none set, or unknown before GPUs are found).
 */
export function effectiveConfigJson(config: Config, threads?: readonly (number | null)[]): string {
  const out = {
    source: config.source,
    http: address(config.http),
    grace: formatDuration(config.graceMs),
    drain_delay: formatDuration(config.drainDelayMs),
    log_format: config.logFormat,
    log_level: config.logLevel,
    feedback_file: config.feedbackFile,
    pools: Object.fromEntries(config.pools.map((p, i) => [p.name, threads ? { ...pool(p), threads_per_worker: threads[i] ?? null } : pool(p)])),
  };
  return JSON.stringify(out, null, 2);
}
