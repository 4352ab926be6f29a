// `corral probe` and `corral status`: small clients of a running corral's HTTP server.

import { writeSync } from 'node:fs';
import type { HostPort } from '../config/types.js';
import { native } from '../native/index.js';

export function print(fd: number, text: string): void {
  try {
    writeSync(fd, text.endsWith('\n') ? text : text + '\n');
  } catch {
    // a closed stdout/stderr is no reason to fail
  }
}

/**
 * One HTTP/1.0 GET, blocking, in the addon (http.c): corral's server answers it with the
 * whole body and closes. A probe does nothing else meanwhile, and node:net and node:stream
 * would cost every HEALTHCHECK more than the rest of the probe.
 */
export function get(http: HostPort, path: string, timeoutMs: number): { status: number; body: string } | { error: string } {
  const host = http.host.includes(':') ? `[${http.host}]` : http.host;
  const answer = native().httpExchange(http.host, http.port, `GET ${path} HTTP/1.0\r\nHost: ${host}:${http.port}\r\n\r\n`, timeoutMs);
  if (typeof answer === 'string') return { error: answer };
  const text = answer.toString('utf8');
  const head = text.indexOf('\r\n\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (head === -1 || status === null) return { error: 'the answer is not HTTP' };
  return { status: Number(status[1]), body: text.slice(head + 4) };
}

/** Exit 0 when the endpoint answers 200, else 1 (Docker HEALTHCHECK, exec probes). */
export function probe(target: 'livez' | 'readyz', http: HostPort, print: (fd: number, s: string) => void): number {
  const r = get(http, `/${target}`, 5000);
  if ('error' in r) {
    print(2, `corral: probe ${target}: cannot reach corral at ${http.host}:${http.port} (${r.error})`);
    return 1;
  }
  if (r.status !== 200) print(2, `corral: probe ${target}: ${r.status} ${r.body.trim().slice(0, 500)}`);
  return r.status === 200 ? 0 : 1;
}

interface StatusWorker {
  index?: number;
  pid?: number | null;
  state?: string;
  gpu?: string | null;
  restarts?: number;
  uptime_s?: number | null;
  status?: string | null;
  cpu_seconds?: number | null;
  rss_bytes?: number | null;
  last_exit?: { code: number | null; signal: string | null; reason: string; cause?: string } | null;
}

interface StatusContainer {
  memory_limit_bytes?: number | null;
  memory_usage_bytes?: number | null;
  oom_kills?: number | null;
  cpu_limit_cores?: number | null;
  cpu_throttled_seconds?: number | null;
}

/** `container: memory 1024MiB of 8192MiB, 0 OOM kills; CPU limit 1.5 cores, throttled 3.2s`. */
export function containerLine(c: StatusContainer): string {
  const mem = `memory ${mib(c.memory_usage_bytes)} of ${c.memory_limit_bytes == null ? 'no limit' : mib(c.memory_limit_bytes)}`;
  const ooms = c.oom_kills == null ? '' : `, ${c.oom_kills} OOM kill${c.oom_kills === 1 ? '' : 's'}`;
  const cpu = c.cpu_limit_cores == null ? 'CPU limit -' : `CPU limit ${Math.round(c.cpu_limit_cores * 100) / 100} cores`;
  const thr = c.cpu_throttled_seconds == null ? '' : `, throttled ${c.cpu_throttled_seconds.toFixed(1)}s`;
  return `container: ${mem}${ooms}; ${cpu}${thr}`;
}

function mib(bytes: number | null | undefined): string {
  return bytes == null ? '-' : `${Math.round(bytes / 2 ** 20)}MiB`;
}

function lastExit(e: StatusWorker['last_exit']): string {
  if (!e) return '-';
  return `${e.signal ?? `code ${e.code ?? '?'}`} (${visible(e.cause ?? e.reason)})`;
}

/**
 * A worker's text made safe for a terminal: control characters (ESC as `\e`, others as
 * `\xNN`) and bidirectional overrides (`\u202e`) are shown, not obeyed, so a STATUS= text
 * cannot clear the operator's screen, retitle the window or reverse the line.
 */
export function visible(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  return text.replace(/[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.charCodeAt(0);
    if (n === 0x1b) return '\\e';
    if (n < 0x100) return `\\x${n.toString(16).padStart(2, '0')}`;
    return `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/** Prints a table of pools and workers from GET /status. */
export function status(http: HostPort, print: (fd: number, s: string) => void): number {
  const r = get(http, '/status', 5000);
  if ('error' in r) {
    print(2, `corral: status: cannot reach corral at ${http.host}:${http.port} (${r.error})`);
    return 1;
  }
  if (r.status !== 200) {
    print(2, `corral: status: ${r.status} from ${http.host}:${http.port}`);
    return 1;
  }
  let doc: { pools?: Record<string, { workers?: StatusWorker[] }>; container?: StatusContainer | null };
  try {
    doc = JSON.parse(r.body) as typeof doc;
  } catch {
    print(2, 'corral: status: the answer is not JSON');
    return 1;
  }
  const rows = [['POOL', 'WORKER', 'PID', 'STATE', 'GPU', 'RESTARTS', 'UPTIME', 'CPU', 'RSS', 'LAST EXIT', 'STATUS']];
  for (const [pool, p] of Object.entries(doc.pools ?? {})) {
    for (const w of p.workers ?? []) {
      rows.push([
        pool,
        String(w.index ?? ''),
        String(w.pid ?? '-'),
        w.state ?? '',
        w.gpu ?? '-',
        String(w.restarts ?? 0),
        w.uptime_s == null ? '-' : `${Math.round(w.uptime_s)}s`,
        w.cpu_seconds == null ? '-' : `${w.cpu_seconds.toFixed(1)}s`,
        mib(w.rss_bytes),
        lastExit(w.last_exit),
        visible(w.status ?? ''),
      ]);
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  print(1, rows.map((row) => row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n'));
  if (doc.container) print(1, containerLine(doc.container));
  return 0;
}
