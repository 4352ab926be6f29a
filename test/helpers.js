// Test helpers: run corral (optionally as a real PID 1 in a new PID namespace), wait
// for handshakes on its output, and poll with deadlines. Never a bare sleep.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const corralBin = join(root, 'bin', 'corral.js');
export const fixture = (name) => join(root, 'test', 'fixtures', name);

/** Resolves when pred() returns a truthy value; rejects after timeoutMs. */
export async function until(pred, { timeoutMs = 10_000, intervalMs = 10, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Children of a pid, from /proc/<pid>/task/*\/children. */
export function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const running = new Set();

/** Every live descendant of pid, nearest first. */
function descendantsOf(pid) {
  const out = [];
  const queue = [pid];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'latin1').split(' ').filter(Boolean)) {
          out.push(Number(c));
          queue.push(Number(c));
        }
      } catch {
        // gone
      }
    }
  }
  return out;
}

/** SIGKILLs every corral a test left running, and its whole tree (use in afterEach). */
export function killAll() {
  for (const child of running) {
    for (const pid of [child.pid, ...descendantsOf(child.pid)].reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  running.clear();
}

/**
 * Starts corral. With pid1, inside `unshare --pid --fork --mount-proc`, so corral is
 * PID 1 of a new namespace; `corralPid()` gives its pid as seen from here.
 */
export function runCorral(args, { pid1 = false, env = {}, cwd = root, stdin = 'ignore' } = {}) {
  const argv = pid1
    ? ['unshare', ['--pid', '--fork', '--mount-proc', process.execPath, corralBin, ...args]]
    : [process.execPath, [corralBin, ...args]];
  const child = spawn(argv[0], argv[1], { cwd, env: { ...process.env, CORRAL_LOG_FORMAT: 'json', CORRAL_HTTP: 'off', ...env }, stdio: [stdin, 'pipe', 'pipe'] });
  running.add(child);
  child.on('close', () => running.delete(child));
  const out = { stdout: '', stderr: '' };
  const waiters = [];
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      const m = out[w.stream].match(w.re);
      if (m) {
        waiters.splice(i, 1);
        w.resolve(m);
      }
    }
  };
  // Workers' lines arrive as JSON records on corral's stderr; `stdout` collects their
  // text (records with a `stream`), plus anything corral itself printed on its stdout.
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    out.stdout += d;
    check();
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    out.stderr += d;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop();
    for (const line of lines) {
      if (!line.startsWith('{') || !line.includes('"stream":')) continue;
      try {
        const rec = JSON.parse(line);
        if (typeof rec.stream === 'string' && typeof rec.msg === 'string') out.stdout += rec.msg + '\n';
      } catch {
        // not a record
      }
    }
    check();
  });
  const started = Date.now();
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      const at = Date.now();
      for (const w of waiters.splice(0)) w.reject(new Error(`corral exited (${code ?? signal}) before ${w.re} appeared on ${w.stream}\nstdout: ${out.stdout}\nstderr: ${out.stderr}`));
      resolve({ code, signal, at, ms: at - started, ...out });
    });
  });
  return {
    child,
    out,
    exited,
    /** Waits until `re` matches the whole stdout (or stderr) so far. */
    waitFor(re, stream = 'stdout', timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const w = { re, stream, resolve, reject };
        waiters.push(w);
        check();
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(new Error(`timed out waiting for ${re} on ${stream}\nstdout: ${out.stdout}\nstderr: ${out.stderr}`));
          }
        }, timeoutMs).unref();
      });
    },
    /** corral's own pid as seen from the test (inside unshare it is unshare's child). */
    async corralPid() {
      if (!pid1) return child.pid;
      return until(() => childrenOf(child.pid)[0], { what: 'corral inside unshare' });
    },
    async kill(signal) {
      process.kill(await this.corralPid(), signal);
    },
    /** corral's JSON records on stderr. */
    records() {
      return out.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
    },
  };
}

/** Runs corral to completion. */
export async function runToEnd(args, opts) {
  const c = runCorral(args, opts);
  return c.exited;
}
