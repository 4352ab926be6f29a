#!/usr/bin/env node
// corral's log path against plain pipes and pm2-runtime, side by side in one run: throughput
// and integrity (1 worker, N workers), and corral's memory and signal latency behind a slow
// log sink. See bench/README.md ("Logs") for what each number means. Not part of `npm test`.
//
//   node bench/logs.mjs [--only one,pool,sink] [--runs 3] [--lines 1000000] [--pool-workers 4]
//                       [--pool-lines 250000] [--line-bytes 100] [--batch-bytes 262144]
//                       [--sink-mb 300] [--sink-rate 1] [--winch-ms 200] [--rss-ms 100]
//                       [--no-pm2] [--no-raw] [--no-install] [--cpu-prof]
//   node bench/logs.mjs --self-test     the line check against streams broken on purpose

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { alive, CORRAL, ENV, fail, failures, freePort, HERE, listOf, ms, OUT, positive, ROOT, sleep, stats, statusKb, watchExit } from './common.mjs';

const PM2_PREFIX = path.join(OUT, 'pm2');
const PM2_RUNTIME = path.join(PM2_PREFIX, 'node_modules', '.bin', 'pm2-runtime');
const BENCHES = ['one', 'pool', 'sink'];

const { values: opt } = parseArgs({
  options: {
    only: { type: 'string', default: BENCHES.join(',') },
    runs: { type: 'string', default: '3' },
    lines: { type: 'string', default: '1000000' },
    'pool-workers': { type: 'string', default: '4' },
    'pool-lines': { type: 'string', default: '250000' },
    'line-bytes': { type: 'string', default: '100' },
    'batch-bytes': { type: 'string', default: '262144' },
    'sink-mb': { type: 'string', default: '300' },
    'sink-rate': { type: 'string', default: '1' },
    'winch-ms': { type: 'string', default: '200' },
    'rss-ms': { type: 'string', default: '100' },
    'no-pm2': { type: 'boolean', default: false },
    'no-raw': { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'self-test': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opt.help) {
  console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 11).join('\n'));
  process.exit(0);
}

const only = listOf(opt.only, BENCHES, 'benchmark');
const cfg = {
  runs: positive(opt, 'runs'),
  lines: positive(opt, 'lines'),
  poolWorkers: positive(opt, 'pool-workers'),
  poolLines: positive(opt, 'pool-lines'),
  lineBytes: positive(opt, 'line-bytes'),
  batchBytes: positive(opt, 'batch-bytes'),
  sinkMB: positive(opt, 'sink-mb', false),
  sinkRateMBs: positive(opt, 'sink-rate', false),
  winchMs: positive(opt, 'winch-ms'),
  rssMs: positive(opt, 'rss-ms'),
};
if (cfg.lineBytes < 16 || cfg.lineBytes > 16384) {
  console.error('--line-bytes must be between 16 and 16384 (longer lines would be split into parts)');
  process.exit(2);
}
if (cfg.batchBytes < cfg.lineBytes || cfg.batchBytes > 1024 * 1024) {
  console.error('--batch-bytes must be between --line-bytes and 1048576 (bench/c/producer.c)');
  process.exit(2);
}

// SPEC §8 (and the brief for the signal latency under a slow sink).
const TARGET = { linesPerSec: 1_000_000, vsPm2: 2.5, sinkRssMB: 200, winchP99Ms: 50 };

// ---------------------------------------------------------------- helpers

const mb = (kb) => (kb * 1024) / 1e6;

/** utime + stime of a live pid in seconds, or null. */
function cpuSeconds(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/**
 * A FIFO whose write end the child gets as stdout or stderr (a real pipe, blocking, as a
 * container runtime hands it over) and whose read end the harness reads. Returns the
 * write fd (to pass in stdio, then close) and the reading socket.
 */
function fifo(name) {
  const file = path.join(OUT, `${name}.fifo`);
  fs.rmSync(file, { force: true });
  const mk = spawnSync('mkfifo', [file]);
  if (mk.status !== 0) throw new Error(`mkfifo ${file} failed`);
  const rfd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const wfd = fs.openSync(file, fs.constants.O_WRONLY);
  fs.unlinkSync(file);
  const sock = new net.Socket({ fd: rfd, readable: true, writable: false });
  return { wfd, sock };
}

/**
 * Spawn argv; `sink` is 'null' (the output stream goes to /dev/null), 'fifo' (the harness
 * reads it through a pipe and keeps every chunk with its arrival time) or a function that
 * gets the socket to read it itself. `which` says which stream: corral logs to stderr,
 * pm2-runtime to stdout. The other stream is kept (it is small) for failure reports.
 */
function launch(argv, { which, sink, timeoutMs, env = ENV }) {
  const devnull = fs.openSync('/dev/null', 'w');
  let f = null;
  let outFd = devnull;
  if (sink !== 'null') {
    f = fifo(`logs-${process.pid}`);
    outFd = f.wfd;
  }
  const stdio = which === 'stderr' ? ['ignore', 'pipe', outFd] : ['ignore', outFd, 'pipe'];
  const chunks = [];
  const other = [];
  const t0 = process.hrtime.bigint();
  const child = spawn(argv[0], argv.slice(1), { stdio, env });
  fs.closeSync(devnull);
  if (f) fs.closeSync(f.wfd);
  const otherStream = which === 'stderr' ? child.stdout : child.stderr;
  otherStream.on('data', (b) => other.push(b));
  let eof = Promise.resolve(null);
  if (f) {
    if (typeof sink === 'function') sink(f.sock);
    else f.sock.on('data', (b) => chunks.push([process.hrtime.bigint(), b]));
    eof = new Promise((resolve) => f.sock.on('close', () => resolve(process.hrtime.bigint())));
  }
  const exited = watchExit(child, timeoutMs, () => f?.sock.destroy());
  const closed = exited.then(async (ex) => {
    const tEof = await Promise.race([eof, sleep(5000).then(() => null)]);
    if (tEof === null) f?.sock.destroy();
    return { ...ex, tEof, chunks, other: Buffer.concat(other).toString() };
  });
  return { child, t0, chunks, exited, closed };
}

// ---------------------------------------------------------------- checking every line

/** The line worker `w` writes as number `seq` (without its newline); see bench/c/producer.c. */
function expectedLine(pad, w, seq) {
  return `w${w} ${String(seq).padStart(8, '0')} ${pad[w]}`;
}

function pads(workers, lineBytes) {
  return Array.from({ length: workers }, (_, w) => 'x'.repeat(lineBytes - 1 - (1 + String(w).length + 1 + 8 + 1)));
}

/**
 * Checks a log stream record by record, as a log pipeline sees it (one JSON record per
 * line of output). A worker's line counts as intact only if a record carries exactly that
 * line as its msg (message for pm2), in the worker's order: lost_or_altered is
 * expected - intact. For pm2, which emits one record per read chunk with the newlines
 * removed, `rejoined` also says how many lines come back if one glues each process's
 * messages together again (the bytes are there, the line boundaries are not).
 */
class Checker {
  constructor(kind, workers, linesPerWorker, lineBytes) {
    this.kind = kind;
    this.workers = workers;
    this.perWorker = linesPerWorker;
    this.pad = pads(workers, lineBytes);
    this.next = new Array(workers).fill(1);
    this.carry = null;
    this.r = {
      records: 0,
      worker_records: 0,
      events: {},
      intact: 0,
      bad_records: 0,
      unparseable: 0,
      wrong_fields: 0,
      out_of_order: 0,
      text_lines: 0,
      examples: [],
    };
    if (kind === 'pm2') {
      this.rem = new Array(workers).fill('');
      this.rnext = new Array(workers).fill(1);
      this.r.rejoined = 0;
      this.r.garbled = 0;
    }
  }

  example(what, line) {
    if (this.r.examples.length < 5) this.r.examples.push(`${what}: ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`);
  }

  push(buf) {
    let b = buf;
    if (this.carry) {
      b = Buffer.concat([this.carry, buf]);
      this.carry = null;
    }
    const last = b.lastIndexOf(10);
    if (last === -1) {
      this.carry = b;
      return;
    }
    if (last < b.length - 1) this.carry = b.subarray(last + 1);
    const text = b.toString('utf8', 0, last);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      this.line(text.slice(start, nl === -1 ? text.length : nl));
      if (nl === -1) break;
      start = nl + 1;
    }
  }

  end() {
    if (this.carry && this.carry.length) {
      this.line(this.carry.toString('utf8'));
      this.example('no final newline', this.carry.toString('utf8'));
    }
    this.carry = null;
    const r = this.r;
    r.expected = this.workers * this.perWorker;
    r.lost_or_altered = r.expected - r.intact;
    if (this.kind === 'pm2') {
      for (let w = 0; w < this.workers; w++) this.rejoin(w, true);
      r.not_rejoined = r.expected - r.rejoined;
    }
    return r;
  }

  line(s) {
    if (s.length === 0) return;
    const r = this.r;
    r.records++;
    if (this.kind === 'raw') {
      // The producer's own bytes: a line is intact when it is exactly one of its lines.
      const m = /^w(\d+) /.exec(s);
      this.workerLine(m ? Number(m[1]) : -1, s, s, true);
      return;
    }
    if (s.charCodeAt(0) !== 123) {
      // pm2-runtime prints its own "PM2 log: ..." lines as text even with --json
      r.text_lines++;
      if (this.kind === 'corral') this.example('not JSON', s);
      return;
    }
    let o;
    try {
      o = JSON.parse(s);
    } catch {
      r.unparseable++;
      this.example('unparseable', s);
      return;
    }
    if (this.kind === 'corral') {
      if (o.event !== undefined) {
        r.events[o.event] = (r.events[o.event] ?? 0) + 1;
        return;
      }
      this.workerLine(o.worker, o.msg, s, o.pool === 'main' && o.stream === 'stdout' && o.level === 30 && typeof o.time === 'number' && typeof o.pid === 'number');
    } else {
      if (o.type === 'process_event') {
        r.events[o.status] = (r.events[o.status] ?? 0) + 1;
        return;
      }
      if (o.type !== 'out' && o.type !== 'err') {
        r.unparseable++;
        this.example('unknown record', s);
        return;
      }
      const w = o.process_id;
      if (typeof o.message === 'string' && Number.isInteger(w) && w >= 0 && w < this.workers) {
        this.rem[w] += o.message;
        this.rejoin(w, false);
      }
      this.workerLine(w, o.message, s, o.type === 'out');
    }
  }

  workerLine(w, msg, raw, fieldsOk) {
    const r = this.r;
    r.worker_records++;
    if (!Number.isInteger(w) || w < 0 || w >= this.workers || typeof msg !== 'string') {
      r.bad_records++;
      this.example('no such worker or no msg', raw);
      return;
    }
    const want = expectedLine(this.pad, w, this.next[w]);
    if (msg === want && fieldsOk) {
      r.intact++;
      this.next[w]++;
      return;
    }
    if (msg === want) {
      r.bad_records++;
      r.wrong_fields++;
      this.next[w]++;
      this.example('wrong fields', raw);
      return;
    }
    // A whole line of this worker, but not the next one. Later: the lines in between are
    // lost and this one is intact (so one lost line is not counted twice). Earlier: a
    // duplicate or a reordered line.
    const m = /^w(\d+) (\d{8}) x+$/.exec(msg);
    if (m && Number(m[1]) === w && msg === expectedLine(this.pad, w, Number(m[2]))) {
      const seq = Number(m[2]);
      if (seq > this.next[w] && fieldsOk) {
        r.intact++;
        r.gaps = (r.gaps ?? 0) + 1;
        this.next[w] = seq + 1;
        this.example(`gap before line ${seq} of worker ${w}`, raw);
        return;
      }
      if (seq < this.next[w]) r.out_of_order++;
    }
    r.bad_records++;
    this.example('altered', raw);
  }

  /** pm2 only: consume whole expected lines from worker w's glued messages. */
  rejoin(w, atEnd) {
    const s = this.rem[w];
    let pos = 0;
    for (;;) {
      const want = expectedLine(this.pad, w, this.rnext[w]);
      if (s.length - pos >= want.length) {
        if (s.startsWith(want, pos)) {
          pos += want.length;
          this.r.rejoined++;
          this.rnext[w]++;
          continue;
        }
      } else if (!atEnd && want.startsWith(s.slice(pos))) break; // the rest comes in the next message
      if (pos >= s.length) break;
      // Garbage: skip to the next thing that looks like a line start of this worker.
      this.r.garbled++;
      const i = s.indexOf(`w${w} `, pos + 1);
      if (i === -1) {
        pos = s.length;
        break;
      }
      pos = i;
    }
    this.rem[w] = s.slice(pos);
  }
}

/**
 * Negative control: the checker must catch each way a log stream can break, and count a
 * dropped or altered line once. Two workers, 1,000 lines each, fed in odd-sized chunks.
 */
function selfTest() {
  const pad = pads(2, cfg.lineBytes);
  const rec = (w, msg) => `${JSON.stringify({ level: 30, time: 1, pool: 'main', worker: w, pid: 5, stream: 'stdout', msg })}\n`;
  const cases = [
    ['clean', () => {}, 0, false],
    ['one record dropped', (r) => r.splice(100, 1), 1, false],
    ['one msg altered', (r) => (r[200] = r[200].replace('xxx', 'xyx')), 1, true],
    ['two lines of a worker swapped', (r) => ([r[300], r[302]] = [r[302], r[300]]), 1, true],
    ['one record duplicated', (r) => r.splice(400, 0, r[400]), 0, true],
    ['one record cut short', (r) => (r[500] = `${r[500].slice(0, 50)}\n`), 1, true],
    ['wrong worker field', (r) => (r[600] = r[600].replace('"worker":0', '"worker":1')), 1, true],
  ];
  let bad = 0;
  for (const [name, mutate, lost, flagged] of cases) {
    const recs = [];
    for (let s = 1; s <= 1000; s++) for (let w = 0; w < 2; w++) recs.push(rec(w, expectedLine(pad, w, s)));
    mutate(recs);
    const c = new Checker('corral', 2, 1000, cfg.lineBytes);
    const all = Buffer.from(recs.join(''));
    for (let i = 0; i < all.length; i += 777) c.push(all.subarray(i, i + 777));
    const r = c.end();
    const isFlagged = r.bad_records + r.unparseable + r.text_lines > 0;
    const ok = r.lost_or_altered === lost && isFlagged === flagged;
    if (!ok) bad++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: lost or altered ${r.lost_or_altered} (want ${lost}), bad records ${r.bad_records}, unparseable ${r.unparseable}`);
  }
  // pm2 style: every line there, glued into chunks with the newlines removed.
  const c = new Checker('pm2', 1, 1000, cfg.lineBytes);
  let body = '';
  for (let s = 1; s <= 1000; s++) body += expectedLine(pad, 0, s);
  for (let i = 0; i < body.length; i += 6543) c.push(Buffer.from(`${JSON.stringify({ message: body.slice(i, i + 6543), type: 'out', process_id: 0 })}\n`));
  const r = c.end();
  const ok = r.intact === 0 && r.rejoined === 1000 && r.garbled === 0;
  if (!ok) bad++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} pm2-style glued chunks: intact ${r.intact} (want 0), rejoined ${r.rejoined} (want 1000)`);
  return bad;
}

// ---------------------------------------------------------------- setup

function compile() {
  fs.mkdirSync(OUT, { recursive: true });
  const src = path.join(HERE, 'c', 'producer.c');
  const dst = path.join(OUT, 'producer');
  let r = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-static', '-o', dst, src], { encoding: 'utf8' });
  let linkage = 'static';
  if (r.status !== 0) {
    r = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', dst, src], { encoding: 'utf8' });
    linkage = 'dynamic';
  }
  if (r.status !== 0) throw new Error(`gcc producer.c failed:\n${r.stderr}`);
  return { path: dst, linkage };
}

/** pm2-runtime, installed into bench/out/pm2 if missing (never into package.json). */
function ensurePm2() {
  if (opt['no-pm2']) return { path: null, why: '--no-pm2 given' };
  if (!fs.existsSync(PM2_RUNTIME)) {
    if (opt['no-install']) return { path: null, why: `${path.relative(ROOT, PM2_RUNTIME)} missing and --no-install given` };
    console.error(`installing pm2 into ${path.relative(ROOT, PM2_PREFIX)} (npm install --no-save)`);
    fs.mkdirSync(PM2_PREFIX, { recursive: true });
    const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', PM2_PREFIX, 'pm2'], { encoding: 'utf8' });
    if (r.status !== 0 || !fs.existsSync(PM2_RUNTIME)) return { path: null, why: `npm install pm2 failed: ${(r.stderr || '').trim().split('\n').slice(-3).join(' / ')}` };
  }
  const v = spawnSync(PM2_RUNTIME, ['--version'], { encoding: 'utf8', env: { ...ENV, PM2_HOME: path.join(PM2_PREFIX, 'home') } });
  if (v.status !== 0) return { path: null, why: `pm2-runtime --version failed: ${(v.stderr || '').trim().split('\n').pop()}` };
  return { path: PM2_RUNTIME, version: v.stdout.trim() };
}

// ---------------------------------------------------------------- variants

const DIRECT = 'producer > /dev/null';
const CAT = 'producer | cat > /dev/null';
const C_NULL = 'corral 2> /dev/null';
const C_PIPE = 'corral 2> pipe → harness';
const PM2 = 'pm2-runtime > pipe → harness';
const R_NULL = 'corral raw > /dev/null';
const R_PIPE = 'corral raw > pipe → harness';
const TINI = 'tini -g > pipe → harness';
const HAS_TINI = spawnSync('tini', ['--version'], { stdio: 'ignore' }).status === 0;

// N producers with CORRAL_WORKER=0..N-1, as the baselines (sh's own start is ≈ 1 ms).
const PRODUCERS_SH = 'n=$1; shift; i=0; while [ $i -lt $n ]; do CORRAL_WORKER=$i "$@" & i=$((i+1)); done; wait';
const CAT_SH = `n=$1; shift; { ${PRODUCERS_SH.replace('n=$1; shift; ', '')}; } | cat > /dev/null`;

function variants(workers, perWorker, producer, pm2, httpPort) {
  const cmd = [producer.path, String(perWorker), String(cfg.lineBytes), String(cfg.batchBytes)];
  const corral = [CORRAL, '--workers', String(workers), '--restart', 'never', '--log-format', 'json', '--http', `127.0.0.1:${httpPort}`, '--', ...cmd];
  const v = [
    { name: DIRECT, argv: ['sh', '-c', PRODUCERS_SH, 'sh', String(workers), ...cmd], which: 'stdout', sink: 'null' },
    { name: CAT, argv: ['sh', '-c', CAT_SH, 'sh', String(workers), ...cmd], which: 'stdout', sink: 'null' },
    { name: C_NULL, argv: corral, which: 'stderr', sink: 'null', corral: true },
    { name: C_PIPE, argv: corral, which: 'stderr', sink: 'fifo', corral: true, check: 'corral' },
  ];
  // --log-format raw (SPEC §12): the workers' bytes on corral's stdout, beside tini doing the
  // same for the same producers; every line must come out whole and in its worker's order.
  if (!opt['no-raw']) {
    const raw = [CORRAL, '--workers', String(workers), '--restart', 'never', '--log-format', 'raw', '--http', `127.0.0.1:${httpPort}`, '--', ...cmd];
    v.push({ name: R_NULL, argv: raw, which: 'stdout', sink: 'null', corral: true });
    v.push({ name: R_PIPE, argv: raw, which: 'stdout', sink: 'fifo', corral: true, check: 'raw' });
    if (HAS_TINI) v.push({ name: TINI, argv: ['tini', '-g', '-s', '--', 'sh', '-c', PRODUCERS_SH, 'sh', String(workers), ...cmd], which: 'stdout', sink: 'fifo', check: 'raw' });
  }
  if (pm2.path) {
    v.push({
      name: PM2,
      argv: [pm2.path, 'start', producer.path, '--json', '--no-autorestart', '-i', String(workers), '--', String(perWorker), String(cfg.lineBytes), String(cfg.batchBytes)],
      which: 'stdout',
      sink: 'fifo',
      check: 'pm2',
      pm2: true,
    });
  }
  return v;
}

/** Samples VmHWM and CPU time of pid every 50 ms until stopped; the last sample wins. */
function sampler(pid) {
  const s = { hwm_kb: null, cpu_s: null };
  const t = setInterval(() => {
    const h = statusKb(pid, 'VmHWM');
    const c = cpuSeconds(pid);
    if (h !== null) s.hwm_kb = h;
    if (c !== null) s.cpu_s = c;
  }, 50);
  return { s, stop: () => clearInterval(t) };
}

/**
 * pm2-runtime does not exit when its apps are done: it polls "0 application online,
 * retry = 3 ... 0" for ≈ 10 s. Its time is the arrival of the last chunk that carries a
 * record of ours (a worker's message or an exit event); once every worker's exit event is
 * in and the output has been quiet for 1 s, the harness stops it with SIGINT.
 */
async function stopPm2WhenDone(run, workers) {
  let exits = 0;
  let seen = 0;
  for (;;) {
    await sleep(100);
    const ch = run.chunks;
    for (; seen < ch.length; seen++) {
      const b = ch[seen][1];
      for (let i = b.indexOf('"status":"exit"'); i !== -1; i = b.indexOf('"status":"exit"', i + 1)) exits++;
    }
    const lastAt = ch.length ? ch[ch.length - 1][0] : run.t0;
    if (exits >= workers && ms(process.hrtime.bigint() - lastAt) > 1000) break;
    if (run.child.exitCode !== null || run.child.signalCode !== null) return;
  }
  run.child.kill('SIGINT');
}

/** Arrival time of the last chunk holding a worker message or exit event (pm2). */
function pm2End(chunks) {
  for (let i = chunks.length - 1; i >= 0; i--) {
    const b = chunks[i][1];
    if (b.indexOf('"message":') !== -1 || b.indexOf('"status":"exit"') !== -1) return chunks[i][0];
  }
  return null;
}

async function throughput(bench, workers, perWorker, producer, pm2) {
  const total = workers * perWorker;
  console.error(`${bench}: ${workers} worker(s) × ${perWorker} lines of ${cfg.lineBytes} bytes, ${cfg.runs} runs each, interleaved`);
  const port = await freePort();
  const vs = variants(workers, perWorker, producer, pm2, port);
  const runs = Object.fromEntries(vs.map((v) => [v.name, []]));
  // One warm-up round (page cache, JIT of nothing: the first spawn of node is slower).
  for (let run = -1; run < cfg.runs; run++) {
    for (const v of vs) {
      const env = v.pm2 ? { ...ENV, PM2_HOME: path.join(PM2_PREFIX, 'home') } : ENV;
      if (v.pm2) fs.rmSync(path.join(PM2_PREFIX, 'home'), { recursive: true, force: true });
      const timeoutMs = 120000 + total / 50; // 50 lines/ms is slower than anything seen here
      const l = launch(v.argv, { which: v.which, sink: v.sink, timeoutMs, env });
      const smp = v.corral ? sampler(l.child.pid) : null;
      if (v.pm2) stopPm2WhenDone(l, workers);
      const r = await l.closed;
      smp?.stop();
      const problems = [];
      let end = r.tExit;
      if (v.pm2) {
        end = pm2End(r.chunks);
        if (end === null) problems.push('no record from pm2-runtime');
        if (r.timedOut) problems.push('timed out');
      } else {
        if (r.code !== 0) problems.push(`exit ${r.code} signal ${r.signal}${r.timedOut ? ' (timed out)' : ''}${r.error ? ` ${r.error}` : ''}`);
      }
      if (v.sink === 'fifo' && r.tEof === null) problems.push('the log pipe was still open 5 s after exit');
      let check = null;
      if (v.check) {
        const c = new Checker(v.check, workers, perWorker, cfg.lineBytes);
        for (const [, b] of r.chunks) c.push(b);
        check = c.end();
        r.chunks.length = 0;
        // tini's cut lines are tini's result (4 producers writing 256 KiB batches into one
        // pipe: writes above PIPE_BUF are not atomic), as pm2's are pm2's; corral's are failures.
        if (v.corral) {
          if (check.lost_or_altered !== 0) problems.push(`${check.lost_or_altered} of ${total} lines lost or altered`);
          if (check.bad_records || check.unparseable || check.text_lines) problems.push(`${check.bad_records} bad records, ${check.unparseable} unparseable, ${check.text_lines} non-JSON lines`);
        }
      }
      const wall = end === null ? null : ms(end - l.t0);
      const rec = {
        wall_ms: wall,
        lines_per_s: wall ? total / (wall / 1000) : null,
        exit: r.code,
        signal: r.signal,
        ok: problems.length === 0,
        ...(v.sink === 'fifo' && r.tEof !== null ? { eof_ms: ms(r.tEof - l.t0) } : {}),
        ...(smp ? { corral_hwm_kb: smp.s.hwm_kb, corral_cpu_s: smp.s.cpu_s } : {}),
        ...(check ? { check } : {}),
      };
      // pm2's breakage is pm2's result, not a failed run; corral's is a failure.
      if (problems.length) fail(bench, v.name, run, problems.join('; '), r.other);
      if (run < 0) continue;
      runs[v.name].push(rec);
      const c = check ? `, intact ${check.intact}/${check.expected}` : '';
      console.error(`  run ${run} ${v.name}: ${wall === null ? '–' : `${wall.toFixed(0)} ms, ${((total / wall) * 1000 / 1e6).toFixed(2)} M lines/s`}${c}`);
    }
  }
  const ok = (name) => runs[name].filter((x) => x.ok && x.lines_per_s);
  return {
    workers,
    per_worker: perWorker,
    runs,
    lines_per_s: Object.fromEntries(Object.keys(runs).map((k) => [k, stats(ok(k).map((x) => x.lines_per_s))])),
  };
}

// ---------------------------------------------------------------- slow sink

async function slowSink(producer) {
  const lines = Math.round((cfg.sinkMB * 1e6) / cfg.lineBytes);
  const rate = cfg.sinkRateMBs * 1e6;
  const recordBytes = cfg.lineBytes + 100; // corral's record around a line, ≈ 97 bytes more
  const estS = (lines * recordBytes) / rate;
  console.error(
    `sink: 1 worker writes ${lines} lines (${cfg.sinkMB} MB); corral's stderr read at ${cfg.sinkRateMBs} MB/s; ` +
      `≈ ${(lines * recordBytes / 1e6).toFixed(0)} MB of JSON, so ≈ ${(estS / 60).toFixed(1)} min`,
  );
  const winchFile = path.join(OUT, `logs-winch-${process.pid}.txt`);
  fs.rmSync(winchFile, { force: true });
  const port = await freePort();
  const argv = [CORRAL, '--workers', '1', '--restart', 'never', '--log-format', 'json', '--http', `127.0.0.1:${port}`, '--', producer.path, String(lines), String(cfg.lineBytes), String(cfg.batchBytes), winchFile];
  const checker = new Checker('corral', 1, lines, cfg.lineBytes);
  let readBytes = 0;
  let tFirst = null;
  let workerPid = null;
  const sink = (sock) => {
    sock.on('data', (b) => {
      const now = process.hrtime.bigint();
      if (tFirst === null) tFirst = now;
      readBytes += b.length;
      if (workerPid === null) {
        const m = /"event":"spawn"[^\n]*?"pid":(\d+)/.exec(b.toString('latin1', 0, Math.min(b.length, 4096)));
        if (m) workerPid = Number(m[1]);
      }
      checker.push(b);
      // Token bucket: never ahead of `rate` bytes/s since the first byte.
      const aheadMs = (readBytes / rate) * 1000 - ms(now - tFirst);
      if (aheadMs > 0) {
        sock.pause();
        setTimeout(() => sock.resume(), aheadMs);
      }
    });
  };
  const l = launch(argv, { which: 'stderr', sink, timeoutMs: estS * 2000 + 120000 });
  const pid = l.child.pid;
  const rss = [];
  const rssTimer = setInterval(() => {
    const kb = statusKb(pid, 'VmRSS');
    if (kb !== null) rss.push([Math.round(ms(process.hrtime.bigint() - l.t0)), kb]);
  }, cfg.rssMs);
  let hwm = null;
  const hwmTimer = setInterval(() => {
    hwm = statusKb(pid, 'VmHWM') ?? hwm;
  }, 1000);
  const sent = [];
  let winchStoppedAt = null;
  const winchTimer = setInterval(() => {
    if (workerPid === null) return;
    if (!alive(workerPid)) {
      winchStoppedAt ??= ms(process.hrtime.bigint() - l.t0);
      return;
    }
    const t = process.hrtime.bigint();
    try {
      process.kill(pid, 'SIGWINCH');
      sent.push(t);
    } catch {
      // corral is gone
    }
  }, cfg.winchMs);
  const progress = setInterval(() => {
    const last = rss.length ? mb(rss[rss.length - 1][1]).toFixed(1) : '?';
    console.error(`  ${(ms(process.hrtime.bigint() - l.t0) / 1000).toFixed(0)} s: read ${(readBytes / 1e6).toFixed(0)} MB, ${checker.r.intact} lines, corral RSS ${last} MB, ${sent.length} SIGWINCH sent`);
  }, 30000);
  const r = await l.closed;
  for (const t of [rssTimer, hwmTimer, winchTimer, progress]) clearInterval(t);
  const check = checker.end();
  const recv = fs.existsSync(winchFile)
    ? fs
        .readFileSync(winchFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((x) => BigInt(x))
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    : [];
  fs.rmSync(winchFile, { force: true });
  // Delay of each SIGWINCH: from kill() to the first receipt by the worker at or after it.
  // Two signals that corral coalesces count as one receipt for both (the later is late).
  const delays = [];
  let unanswered = 0;
  let j = 0;
  for (const t of sent) {
    while (j < recv.length && recv[j] < t) j++;
    if (j < recv.length) delays.push(ms(recv[j] - t));
    else unanswered++;
  }
  const wall = ms(r.tExit - l.t0);
  const maxKb = rss.length ? Math.max(...rss.map((x) => x[1])) : null;
  const problems = [];
  if (r.code !== 0) problems.push(`exit ${r.code} signal ${r.signal}${r.timedOut ? ' (timed out)' : ''}`);
  if (check.lost_or_altered !== 0) problems.push(`${check.lost_or_altered} of ${lines} lines lost or altered`);
  if (check.bad_records || check.unparseable || check.text_lines) problems.push(`${check.bad_records} bad records, ${check.unparseable} unparseable, ${check.text_lines} non-JSON lines`);
  if (rss.length === 0) problems.push('no VmRSS sample');
  if (delays.length === 0) problems.push('no SIGWINCH reached the worker');
  // The last signal can race the worker's exit; more than one unanswered is a loss.
  if (unanswered > 1) problems.push(`${unanswered} of ${sent.length} SIGWINCH never reached the worker`);
  if (problems.length) fail('sink', 'corral', 0, problems.join('; '), r.other);
  const d = stats(delays);
  console.error(`  done in ${(wall / 1000).toFixed(1)} s: max RSS ${maxKb === null ? '–' : mb(maxKb).toFixed(1)} MB, SIGWINCH p99 ${d ? d.p99.toFixed(2) : '–'} ms (${delays.length} of ${sent.length})`);
  return {
    lines,
    mb: cfg.sinkMB,
    rate_mb_s: cfg.sinkRateMBs,
    wall_s: wall / 1000,
    read_bytes: readBytes,
    achieved_rate_mb_s: tFirst === null ? null : readBytes / 1e6 / (ms(r.tExit - tFirst) / 1000),
    exit: r.code,
    rss_max_kb: maxKb,
    hwm_kb: hwm,
    rss_samples: rss,
    winch: { sent: sent.length, received: recv.length, unanswered, stopped_at_ms: winchStoppedAt, stats: d, delays_ms: delays.map((x) => Math.round(x * 1000) / 1000) },
    check,
    ok: problems.length === 0,
  };
}

// ---------------------------------------------------------------- CPU profile

/** One extra 1-worker corral run (stderr to /dev/null) under `node --cpu-prof`; top 10 by self time. */
async function cpuProfile(producer) {
  const dir = path.join(OUT, `logs-prof-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const argv = [process.execPath, '--cpu-prof', '--cpu-prof-dir', dir, CORRAL, '--workers', '1', '--restart', 'never', '--log-format', 'json', '--http', `127.0.0.1:${port}`, '--', producer.path, String(cfg.lines), String(cfg.lineBytes), String(cfg.batchBytes)];
  console.error(`cpu profile: ${cfg.lines} lines, corral 2> /dev/null, under node --cpu-prof (not timed)`);
  const l = launch(argv, { which: 'stderr', sink: 'null', timeoutMs: 120000 });
  const r = await l.closed;
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return { dir: path.relative(ROOT, dir), error: `no .cpuprofile written (exit ${r.code})` };
  const prof = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let totalUs = 0;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    totalUs += dt;
    const cf = byId.get(id).callFrame;
    const where = cf.url.startsWith('file:') ? path.relative(ROOT, fileURLToPath(cf.url)) : cf.url;
    const key = `${cf.functionName || '(anonymous)'}${where ? ` ${where}:${cf.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([fn, us]) => ({ fn, self_ms: us / 1000, pct: (100 * us) / totalUs }));
  return { file: path.relative(ROOT, path.join(dir, file)), wall_ms: ms(r.tExit - l.t0), profiled_ms: totalUs / 1000, top };
}

// ---------------------------------------------------------------- report

const fM = (x) => (x === null || x === undefined ? '–' : `${(x / 1e6).toFixed(2)} M`);
const yes = (b) => (b === null ? 'n/a' : b ? 'yes' : '**NO**');

function throughputRows(res, label, cols, row, targets) {
  const st = res.lines_per_s;
  const total = res.workers * res.per_worker;
  const cell = (name) => {
    const s = st[name];
    const all = res.runs[name]?.length ?? 0;
    if (!res.runs[name]) return '';
    if (!s) return `– (0/${all} ok)`;
    return `${fM(s.median)}${s.n < cfg.runs ? ` (${s.n}/${cfg.runs} ok)` : ''}`;
  };
  const rate = Object.fromEntries(cols.map((c) => [c, cell(c)]));
  const cNull = st[C_NULL];
  const cPipe = st[C_PIPE];
  const pm2 = st[PM2];
  const okAll = (name) => res.runs[name]?.length === cfg.runs && res.runs[name].every((x) => x.ok);
  if (targets) {
    row(`${label}: lines/s, median of ${cfg.runs} (wall, spawn → exit)`, rate, '', '');
    row(`${label}: corral → /dev/null`, {}, `≥ ${fM(TARGET.linesPerSec)} lines/s`, yes(cNull ? cNull.median >= TARGET.linesPerSec && okAll(C_NULL) : false));
    row(`${label}: corral → pipe → harness`, {}, `≥ ${fM(TARGET.linesPerSec)} lines/s`, yes(cPipe ? cPipe.median >= TARGET.linesPerSec && okAll(C_PIPE) : false));
  } else {
    row(`${label}: lines/s, median of ${cfg.runs} (wall, spawn → exit)`, rate, '', '');
  }
  const ratio = cPipe && pm2 ? cPipe.median / pm2.median : null;
  row(`${label}: corral (pipe) ÷ pm2-runtime (pipe)`, { [C_PIPE]: ratio === null ? '–' : `${ratio.toFixed(2)}×` }, targets ? `≥ ${TARGET.vsPm2}×` : '', targets ? (pm2 ? yes(ratio >= TARGET.vsPm2) : 'n/a') : '');
  const lost = {};
  for (const c of [C_PIPE, R_PIPE, TINI, PM2]) {
    if (!res.runs[c]) continue;
    const rs = res.runs[c].filter((x) => x.check);
    lost[c] = rs.length ? rs.map((x) => x.check.lost_or_altered.toLocaleString('en-US')).join(', ') : '–';
  }
  const lostOf = (c) => res.runs[c]?.map((x) => x.check?.lost_or_altered ?? null) ?? [];
  const corralLost = [...lostOf(C_PIPE), ...lostOf(R_PIPE)];
  const corralRuns = cfg.runs * (res.runs[R_PIPE] ? 2 : 1);
  row(`${label}: lines lost or altered of ${total.toLocaleString('en-US')} (each run)`, lost, '0 (corral)', yes(corralLost.length === corralRuns && corralLost.every((x) => x === 0)));
  const rPipe = st[R_PIPE];
  if (rPipe && cPipe) row(`${label}: corral raw (pipe) ÷ corral json (pipe)`, { [R_PIPE]: `${(rPipe.median / cPipe.median).toFixed(2)}×` }, '> 1× (raw costs less)', yes(rPipe.median > cPipe.median));
  if (rPipe && st[TINI]) row(`${label}: corral raw (pipe) ÷ tini -g (pipe)`, { [R_PIPE]: `${(rPipe.median / st[TINI].median).toFixed(2)}×` });
  if (res.runs[PM2]?.length) {
    const rj = res.runs[PM2].filter((x) => x.check).map((x) => `${x.check.not_rejoined.toLocaleString('en-US')}`);
    row(`${label}: pm2, lines still missing after gluing each process's messages back together`, { [PM2]: rj.join(', ') || '–' });
  }
  const hwm = res.runs[C_PIPE]?.map((x) => x.corral_hwm_kb).filter((x) => x !== null && x !== undefined) ?? [];
  if (hwm.length) row(`${label}: corral peak RSS (VmHWM), MB, max over runs (pipe)`, { [C_PIPE]: mb(Math.max(...hwm)).toFixed(1) });
}

function table(res) {
  const cols = [DIRECT, CAT, C_NULL, C_PIPE, R_NULL, R_PIPE, TINI, PM2];
  const head = `| | ${cols.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} | target | holds? |`;
  const sep = `|${'---|'.repeat(cols.length + 3)}`;
  const rows = [];
  const row = (label, cells, target = '', holds = '') => rows.push(`| ${label} | ${cols.map((c) => cells[c] ?? '').join(' | ')} | ${target} | ${holds} |`);
  if (res.one) throughputRows(res.one, '1 worker', cols, row, true);
  if (res.pool) throughputRows(res.pool, `${res.pool.workers} workers`, cols, row, false);
  if (res.sink) {
    const s = res.sink;
    const lbl = `sink ${s.rate_mb_s} MB/s, ${s.mb} MB burst`;
    const rssOk = s.rss_max_kb !== null ? mb(s.rss_max_kb) < TARGET.sinkRssMB : false;
    row(`${lbl}: corral max RSS (VmRSS every ${cfg.rssMs} ms), MB`, { [C_PIPE]: s.rss_max_kb === null ? '–' : mb(s.rss_max_kb).toFixed(1) }, `< ${TARGET.sinkRssMB} MB`, yes(rssOk && s.ok));
    row(`${lbl}: lines lost or altered of ${s.lines.toLocaleString('en-US')}`, { [C_PIPE]: s.check.lost_or_altered.toLocaleString('en-US') }, '0', yes(s.check.lost_or_altered === 0 && s.check.bad_records === 0));
    const w = s.winch.stats;
    row(
      `${lbl}: SIGWINCH kill() → worker's handler, p99 ms (p50, max; n)`,
      { [C_PIPE]: w ? `${w.p99.toFixed(2)} (${w.p50.toFixed(2)}, ${w.max.toFixed(1)}; ${w.n})` : '–' },
      `< ${TARGET.winchP99Ms} ms`,
      yes(w ? w.p99 < TARGET.winchP99Ms : false),
    );
    row(`${lbl}: run time, s (sink read rate achieved, MB/s)`, { [C_PIPE]: `${s.wall_s.toFixed(0)} (${s.achieved_rate_mb_s?.toFixed(3) ?? '–'})` });
  }
  return [head, sep, ...rows].join('\n');
}

/** Every "holds?" that says NO is a failed check. */
function targetFailures(md) {
  return md
    .split('\n')
    .filter((l) => l.endsWith('| **NO** |'))
    .map((l) => l.split(' | ')[0].replace(/^\| /, ''));
}

/** Which corral was measured: HEAD, uncommitted changes under src/, and whether dist/ is older than src/. */
function corralBuild() {
  const git = (...a) => spawnSync('git', a, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? null;
  const distMtime = fs.statSync(path.join(ROOT, 'dist', 'corral.cjs')).mtimeMs;
  const newer = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (fs.statSync(p).mtimeMs > distMtime) newer.push(path.relative(ROOT, p));
    }
  };
  walk(path.join(ROOT, 'src'));
  return { commit: git('rev-parse', '--short', 'HEAD'), src_uncommitted: git('status', '--short', '--', 'src'), src_newer_than_dist: newer };
}

// ---------------------------------------------------------------- main

async function main() {
  if (opt['self-test']) {
    process.exitCode = selfTest() ? 1 : 0;
    return;
  }
  const tStart = Date.now();
  if (!fs.existsSync(path.join(ROOT, 'dist', 'corral.cjs'))) {
    console.error('dist/corral.cjs is missing: run `npm run build` first');
    process.exit(2);
  }
  const producer = compile();
  const build = corralBuild();
  if (build.src_newer_than_dist.length) console.error(`warning: dist/corral.cjs is older than ${build.src_newer_than_dist.join(', ')}: run \`node scripts/build.mjs\``);
  const pm2 = only.some((b) => b === 'one' || b === 'pool') ? ensurePm2() : { path: null, why: 'not needed' };
  if (!pm2.path && pm2.why !== 'not needed') console.error(`pm2-runtime skipped: ${pm2.why}`);
  const machine = {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? null,
    kernel: os.release(),
    node: process.version,
    loadavg_start: os.loadavg(),
    versions: { corral: spawnSync(CORRAL, ['--version'], { encoding: 'utf8' }).stdout.trim(), pm2: pm2.version ?? null },
    corral_build: build,
    pm2_skipped: pm2.path ? null : pm2.why,
    producer_linkage: producer.linkage,
    argv: process.argv.slice(2),
    config: cfg,
  };
  const res = {};
  const took = {};
  const timed = async (k, f) => {
    const t = Date.now();
    res[k] = await f();
    took[k] = (Date.now() - t) / 1000;
  };
  if (only.includes('one')) await timed('one', () => throughput('one', 1, cfg.lines, producer, pm2));
  if (only.includes('pool')) await timed('pool', () => throughput('pool', cfg.poolWorkers, cfg.poolLines, producer, pm2));
  if (opt['cpu-prof']) await timed('cpu_profile', () => cpuProfile(producer));
  if (only.includes('sink')) await timed('sink', () => slowSink(producer));

  machine.loadavg_end = os.loadavg();
  const md = table(res);
  const missed = targetFailures(md);
  const wallS = (Date.now() - tStart) / 1000;
  const stamp = machine.date.replace(/[:.]/g, '-');
  const record = { machine, wall_s: wallS, took_s: took, results: res, failures, targets_missed: missed, table: md };
  const json = JSON.stringify(record, null, 2);
  fs.writeFileSync(path.join(OUT, `logs-results-${stamp}.json`), json);
  fs.writeFileSync(path.join(OUT, 'logs-latest.json'), json);
  fs.writeFileSync(path.join(OUT, 'logs-latest.md'), `${md}\n`);

  console.log(md);
  if (!pm2.path && pm2.why !== 'not needed') console.log(`\npm2-runtime not run: ${pm2.why}`);
  if (res.cpu_profile) {
    const p = res.cpu_profile;
    console.log(`\nCPU profile (${p.file ?? p.dir}): ${p.error ?? `${p.profiled_ms.toFixed(0)} ms profiled; top 10 by self time`}`);
    for (const t of p.top ?? []) console.log(`- ${t.self_ms.toFixed(0)} ms (${t.pct.toFixed(1)} %) ${t.fn}`);
  }
  console.log(`\ncorral ${machine.versions.corral} at ${build.commit}${build.src_uncommitted ? ' + uncommitted src/ changes' : ''}; pm2-runtime ${pm2.version ?? '–'}`);
  console.log(`load average (1 min) at start ${machine.loadavg_start[0].toFixed(2)}, at end ${machine.loadavg_end[0].toFixed(2)} (${machine.nproc} CPUs)`);
  console.log(`${failures.length} failed runs, ${missed.length} targets missed; ${Object.entries(took).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}; full run ${wallS.toFixed(1)} s; raw data: ${path.relative(ROOT, path.join(OUT, `logs-results-${stamp}.json`))}`);
  for (const f of failures) console.log(`- ${f.bench}/${f.variant} run ${f.run}: ${f.reason}`);
  for (const m of missed) console.log(`- target missed: ${m}`);
  if (failures.length || missed.length) process.exitCode = 1;
}

await main();
