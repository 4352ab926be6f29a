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

/** Pretty JSON of the effective configuration; `null` marks a setting that is off. */
export function effectiveConfigJson(config: Config): string {
  const out = {
    source: config.source,
    http: address(config.http),
    grace: formatDuration(config.graceMs),
    drain_delay: formatDuration(config.drainDelayMs),
    log_format: config.logFormat,
    log_level: config.logLevel,
    feedback_file: config.feedbackFile,
    pools: Object.fromEntries(config.pools.map((p) => [p.name, pool(p)])),
  };
  return JSON.stringify(out, null, 2);
}
