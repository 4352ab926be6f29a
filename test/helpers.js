// Test helpers: run corral (optionally as a real PID 1 in a new PID namespace), wait
// for handshakes on its output, and poll with deadlines. Never a bare sleep.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
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

/** A port free right now (the kernel's pick). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * One HTTP request on its own connection. `connected` resolves once the TCP handshake is
 * done (the connection is in the listen backlog, or already accepted); the returned
 * promise resolves with { status, body } or { status: 0, error } on a connection error.
 */
export function http(port, path, { method = 'GET', json, onConnect } = {}) {
  return new Promise((resolve) => {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
      res.on('error', (error) => resolve({ status: 0, error: error.code ?? error.message }));
    });
    req.on('socket', (s) => s.once('connect', () => onConnect?.()));
    req.on('error', (error) => resolve({ status: 0, error: error.code ?? error.message }));
    req.end(body);
  });
}

/** The value of the sample `name` whose labels include every pair in `labels`. */
export function sample(metrics, name, labels) {
  for (const line of metrics.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** POST /infer to an example batching server (python-batch-worker, node-worker). */
export const infer = (port, i, onConnect) => http(port, '/infer', { method: 'POST', json: { inputs: [i, i / 2, -i, 1] }, onConnect });

/** Every answer of an example batching server is a 200 with 16 finite outputs from a batch of 1..max. */
export function assertBatchedAnswers(results, max) {
  for (const r of results) {
    if (r.status !== 200) throw new Error(`not a 200: ${JSON.stringify(r)}`);
    const body = JSON.parse(r.body);
    if (body.outputs.length !== 16 || !body.outputs.every((x) => Number.isFinite(x))) throw new Error(`bad outputs: ${r.body}`);
    if (!(body.batch_size >= 1 && body.batch_size <= max)) throw new Error(`batch_size ${body.batch_size} not in 1..${max}`);
  }
  if (!results.some((r) => JSON.parse(r.body).batch_size > 1)) throw new Error('no request was batched with another');
}

/**
 * Scrapes corral_queue_depth of the given workers while a load runs: `stop()` ends it and
 * resolves with the highest value seen. The first scrape, which builds corral's registry, is
 * made before this resolves, so no scrape is missing when the load starts.
 */
export async function watchQueue(port, workers = ['0', '1'], pool = 'main') {
  await http(port, '/metrics');
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const m = (await http(port, '/metrics')).body ?? '';
      for (const w of workers) max = Math.max(max, sample(m, 'corral_queue_depth', { pool, worker: w }) ?? 0);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

