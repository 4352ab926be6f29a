// What bench/run.mjs and bench/logs.mjs share: paths, the clean environment, failure
// records, statistics, /proc readings, and watching a spawned init until it exits.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.dirname(HERE);
export const OUT = path.join(HERE, 'out');
export const CORRAL = path.join(ROOT, 'bin', 'corral.js');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Nanoseconds (bigint, from hrtime) to milliseconds. */
export const ms = (ns) => Number(ns) / 1e6;

/** The environment for every init: no CORRAL_* (or pm2) settings leak in from the caller. */
export const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CORRAL_') && !k.startsWith('PM2_') && k !== 'NODE_APP_INSTANCE'));

/** Every run that did not do what it claims lands here and makes the script exit 1. */
export const failures = [];
export function fail(bench, variant, run, reason, stderr) {
  const tail = stderr ? stderr.trim().split('\n').slice(-5).join('\n') : '';
  failures.push({ bench, variant, run, reason, stderr_tail: tail });
  console.error(`  FAIL ${bench}/${variant} run ${run}: ${reason}${tail ? `\n    ${tail.replace(/\n/g, '\n    ')}` : ''}`);
}

export function stats(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  const rank = (p) => s[Math.max(0, Math.ceil((p / 100) * n) - 1)];
  return { n, min: s[0], median, p50: rank(50), p90: rank(90), p99: rank(99), max: s[n - 1] };
}

/** State letter and comm of a pid, or null if it is gone. */
export function procStat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    return { comm: s.slice(s.indexOf('(') + 1, close), state: s[close + 2] };
  } catch {
    return null;
  }
}

/** CPU time of every thread of pid, ns (schedstat: exact, where utime/stime count 10 ms ticks). */
export function cpuNs(pid) {
  let total = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended while we looked
    }
  }
  return total;
}

/** True while pid exists and is not a zombie. */
export function alive(pid) {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z';
}

/** A /proc/<pid>/status field in kB (VmRSS, VmHWM), or null. */
export function statusKb(pid, key) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Resolves with { code, signal, tExit, timedOut[, error] } when child exits (tExit taken in
 * the 'exit' handler), SIGKILLing it after timeoutMs. onError runs when it cannot be spawned.
 */
export function watchExit(child, timeoutMs, onError = () => {}) {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      const tExit = process.hrtime.bigint();
      clearTimeout(timer);
      resolve({ code, signal, tExit, timedOut });
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      onError();
      resolve({ code: null, signal: null, tExit: process.hrtime.bigint(), timedOut, error: e.message });
    });
  });
}

/** The option `name` of opt as a positive integer (or, with integer false, number); exits 2 otherwise. */
export function positive(opt, name, integer = true) {
  const n = Number(opt[name]);
  if (!(n > 0) || (integer && !Number.isInteger(n))) {
    console.error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${opt[name]}`);
    process.exit(2);
  }
  return n;
}

/** The items of a comma-separated option, each one of `allowed`; exits 2 on another. */
export function listOf(value, allowed, what) {
  const items = value.split(',').filter(Boolean);
  for (const x of items) {
    if (!allowed.includes(x)) {
      console.error(`unknown ${what} ${x}; choose from ${allowed.join(', ')}`);
      process.exit(2);
    }
  }
  return items;
}
