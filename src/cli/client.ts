// `corral probe` and `corral status`: small clients of a running corral's HTTP server.

import { request } from 'node:http';
import type { HostPort } from '../config/types.js';

function get(http: HostPort, path: string, timeoutMs: number): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: http.host, port: http.port, path, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('timeout', () => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms`));
    });
    req.on('error', (err) => {
      resolve({ error: err.message });
    });
    req.end();
  });
}

/** Exit 0 when the endpoint answers 200, else 1 (Docker HEALTHCHECK, exec probes). */
export async function probe(target: 'livez' | 'readyz', http: HostPort, print: (fd: number, s: string) => void): Promise<number> {
  const r = await get(http, `/${target}`, 5000);
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
export async function status(http: HostPort, print: (fd: number, s: string) => void): Promise<number> {
  const r = await get(http, '/status', 5000);
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
