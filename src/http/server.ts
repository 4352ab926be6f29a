// Health, readiness, metrics and status (SPEC §5). GET and HEAD only; nothing here
// changes anything; no environment value is ever served. The server shares the event
// loop with the log path, which yields (it reads the workers' pipes in chunks and pauses
// them under backpressure), so probes are answered while workers flood their output.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CorralError } from '../errors.js';
import type { HostPort } from '../config/types.js';
import type { ContainerFigures } from '../container/cgroup.js';
import { isReady, readyCount, type Snapshot } from '../model.js';

export interface MetricsRenderer {
  render(): Promise<string>;
  readonly contentType: string;
}

export interface HttpSource {
  snapshot(): Snapshot;
  /** The metrics registry (built on first use); null when it cannot be had yet. */
  metrics(): MetricsRenderer | null;
  version: string;
  /** corral's cgroup at the last sample (SPEC §10), for /status. */
  container?: () => ContainerFigures | null;
}

/** Ready: not draining, and every pool has at least min_ready ready workers. */
export function readiness(snap: Snapshot): { ready: boolean; pools: Record<string, { ready: number; total: number; min_ready: number }> } {
  const pools: Record<string, { ready: number; total: number; min_ready: number }> = {};
  for (const p of snap.pools) pools[p.name] = { ready: readyCount(p), total: p.desired, min_ready: p.minReady };
  return { ready: isReady(snap), pools };
}

/** SPEC §10's `container` object; null where there is no limit or no figure. */
function containerDoc(c: ContainerFigures | null): Record<string, number | null> {
  return {
    memory_limit_bytes: c?.memoryLimitBytes ?? null,
    memory_usage_bytes: c?.memoryUsageBytes ?? null,
    oom_kills: c?.oomKills ?? null,
    cpu_limit_cores: c?.cpuLimitCores ?? null,
    cpu_throttled_seconds: c?.cpuThrottledSeconds ?? null,
  };
}

/** The pool's queue: the sum of what its live workers last reported; null when none did. */
function queueSum(p: Snapshot['pools'][number]): number | null {
  let sum: number | null = null;
  for (const w of p.workers) if (typeof w.queueDepth === 'number') sum = (sum ?? 0) + w.queueDepth;
  return sum;
}

function statusDoc(snap: Snapshot, version: string): unknown {
  const now = Date.now();
  const pools: Record<string, unknown> = {};
  for (const p of snap.pools) {
    pools[p.name] = {
      desired: p.desired,
      min_ready: p.minReady,
      ready: readyCount(p),
      queue_depth: queueSum(p),
      workers: p.workers.map((w) => ({
        index: w.index,
        pid: w.pid,
        state: w.state,
        gpu: w.gpu,
        restarts: w.restarts,
        last_exit: w.lastExit,
        uptime_s: w.startedAt === null ? null : Math.round((now - w.startedAt) / 100) / 10,
        status: w.statusText,
        queue_depth: w.queueDepth,
        cpu_seconds: w.cpuSeconds === null ? null : Math.round(w.cpuSeconds * 100) / 100,
        rss_bytes: w.rssBytes,
        ...(w.gpuLost === true && { gpu_lost: true }),
      })),
    };
  }
  return { version, draining: snap.draining, live: snap.live, pools };
}

function send(res: ServerResponse, code: number, type: string, body: string, head: boolean): void {
  res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : body);
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

async function handle(src: HttpSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const head = method === 'HEAD';
  const url = new URL(req.url ?? '/', 'http://corral');
  const known = ['/livez', '/healthz', '/readyz', '/metrics', '/status'];
  if (!known.includes(url.pathname)) {
    send(res, 404, TEXT_TYPE, 'not found: try /livez, /readyz, /metrics or /status\n', head);
    return;
  }
  if (method !== 'GET' && !head) {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, TEXT_TYPE, 'method not allowed: GET or HEAD\n', head);
    return;
  }
  const snap = src.snapshot();
  switch (url.pathname) {
    case '/livez':
    case '/healthz':
      // Never depends on model loading or draining: only on corral running and no pool
      // having given up.
      send(res, snap.live ? 200 : 503, TEXT_TYPE, snap.live ? 'ok\n' : 'a pool gave up\n', head);
      return;
    case '/readyz': {
      const r = readiness(snap);
      const body: Record<string, unknown> = { ready: r.ready, draining: snap.draining, pools: r.pools };
      if (url.searchParams.has('verbose')) body.workers = (statusDoc(snap, src.version) as { pools: unknown }).pools;
      send(res, r.ready ? 200 : 503, JSON_TYPE, JSON.stringify(body) + '\n', head);
      return;
    }
    case '/status':
      send(res, 200, JSON_TYPE, JSON.stringify({ ...(statusDoc(snap, src.version) as object), container: containerDoc(src.container?.() ?? null) }) + '\n', head);
      return;
    case '/metrics': {
      const m = src.metrics();
      if (!m) {
        send(res, 503, TEXT_TYPE, 'metrics are not ready yet\n', head);
        return;
      }
      send(res, 200, m.contentType, await m.render(), head);
      return;
    }
  }
}

/** Listens on addr; a port in use (or any bind error) is a CorralError (exit 2). */
export function startHttp(addr: HostPort, src: HttpSource): Promise<Server> {
  const server = createServer((req, res) => {
    handle(src, req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, TEXT_TYPE, `internal error: ${(err as Error).message}\n`, false);
      else res.destroy();
    });
  });
  // Small timeouts: a probe that stalls must not pile up sockets in PID 1.
  server.requestTimeout = 5000;
  server.headersTimeout = 5000;
  server.keepAliveTimeout = 5000;
  server.maxHeadersCount = 50;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const hint = err.code === 'EADDRINUSE' ? 'pick a free port with --http HOST:PORT, or --http off' : 'check the --http address';
      reject(new CorralError('BAD_VALUE', `--http: cannot listen on ${addr.host}:${addr.port} (${err.code ?? err.message})`, { hint }));
    });
    server.listen({ host: addr.host, port: addr.port }, () => {
      server.removeAllListeners('error');
      server.on('error', () => {
        // per-connection errors are not fatal to PID 1
      });
      server.unref();
      resolve(server);
    });
  });
}
