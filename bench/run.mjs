#!/usr/bin/env node
// corral benchmarks against tini, dumb-init and catatonit, side by side in one run.
// See bench/README.md for what each number means. Not part of `npm test`: this
// script may install the peers with apt-get, and it needs root (unshare --pid).
//
//   node bench/run.mjs [--only startup,probe,stop,reaping,memory,idle] [--peers tini,dumb-init,catatonit]
//                      [--startup-runs 30] [--probe-runs 30] [--stop-runs 20] [--reap-runs 3] [--mem-runs 3]
//                      [--orphans 5000] [--stop-workers 4] [--mem-workers 8]
//                      [--idle-windows 20] [--idle-window-s 15] [--no-install]

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { alive, CORRAL, cpuNs, ENV, fail, failures, freePort, HERE, listOf, ms, OUT, positive, procStat, ROOT, sleep, stats, statusKb, watchExit } from './common.mjs';
const STORM = path.join(ROOT, 'test', 'fixtures', 'storm.py');
const BENCHES = ['startup', 'probe', 'stop', 'reaping', 'memory', 'idle'];
const ALL_PEERS = ['tini', 'dumb-init', 'catatonit'];
const REQUIRED_PEERS = ['tini', 'dumb-init'];

const { values: opt } = parseArgs({
  options: {
    only: { type: 'string', default: BENCHES.join(',') },
    peers: { type: 'string', default: ALL_PEERS.join(',') },
    'startup-runs': { type: 'string', default: '30' },
    'probe-runs': { type: 'string', default: '30' },
    'idle-windows': { type: 'string', default: '20' },
    'idle-window-s': { type: 'string', default: '15' },
    'stop-runs': { type: 'string', default: '20' },
    'reap-runs': { type: 'string', default: '3' },
    'mem-runs': { type: 'string', default: '3' },
    orphans: { type: 'string', default: '5000' },
    'stop-workers': { type: 'string', default: '4' },
    'mem-workers': { type: 'string', default: '8' },
    'no-install': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opt.help) {
  console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 8).join('\n'));
  process.exit(0);
}

const only = listOf(opt.only, BENCHES, 'benchmark');
const wantedPeers = listOf(opt.peers, ALL_PEERS, 'peer');
const cfg = {
  startupRuns: positive(opt, 'startup-runs'),
  probeRuns: positive(opt, 'probe-runs'),
  idleWindows: positive(opt, 'idle-windows'),
  idleWindowS: positive(opt, 'idle-window-s'),
  stopRuns: positive(opt, 'stop-runs'),
  reapRuns: positive(opt, 'reap-runs'),
  memRuns: positive(opt, 'mem-runs'),
  orphans: positive(opt, 'orphans'),
  stopWorkers: positive(opt, 'stop-workers'),
  memWorkers: positive(opt, 'mem-workers'),
};

// ---------------------------------------------------------------- helpers

function sh(cmd) {
  return spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
}

function which(name) {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function firstLine(cmd) {
  const r = sh(`${cmd} 2>&1`);
  return (r.stdout || '').trim().split('\n')[0] || null;
}

/**
 * Spawn argv with stdin ignored and stdout/stderr piped. t0 is taken right before spawn.
 * `exited` resolves on the init's exit (tExit is taken in the 'exit' handler);
 * `closed` resolves once stdout/stderr are drained (or 2 s after exit if an orphan
 * still holds them).
 */
function launch(argv, timeoutMs) {
  const out = [];
  const err = [];
  const t0 = process.hrtime.bigint();
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: ENV });
  child.stdout.on('data', (b) => out.push(b));
  child.stderr.on('data', (b) => err.push(b));
  const exited = watchExit(child, timeoutMs);
  const closed = exited.then(
    (ex) =>
      new Promise((resolve) => {
        const done = () => {
          clearTimeout(t);
          resolve({ ...ex, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
        };
        const t = setTimeout(done, 2000);
        if (child.stdout.closed && child.stderr.closed) done();
        else child.on('close', done);
      }),
  );
  return { child, t0, exited, closed };
}

function childrenOf(pid) {
  const kids = [];
  let tasks = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return kids;
  }
  for (const t of tasks) {
    try {
      const s = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (s) kids.push(...s.split(/\s+/).map(Number));
    } catch {
      // the task ended while we looked
    }
  }
  return kids;
}

function descendants(pid) {
  const all = [];
  const queue = [pid];
  while (queue.length) {
    for (const k of childrenOf(queue.shift())) {
      all.push(k);
      queue.push(k);
    }
  }
  return all;
}

function killAll(pids) {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

// ---------------------------------------------------------------- setup

function ensurePeers() {
  const missing = wantedPeers.filter((p) => !which(p));
  if (missing.length === 0) return;
  if (opt['no-install']) {
    console.error(`peers missing and --no-install given: ${missing.join(', ')} (skipped)`);
    return;
  }
  if (process.getuid?.() !== 0) {
    console.error(`peers missing and not root, cannot apt-get install: ${missing.join(', ')} (skipped)`);
    return;
  }
  const required = missing.filter((p) => REQUIRED_PEERS.includes(p));
  const optional = missing.filter((p) => !REQUIRED_PEERS.includes(p));
  console.error(`installing peers with apt-get: ${missing.join(', ')}`);
  const opts = { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } };
  spawnSync('apt-get', ['update'], opts);
  if (required.length) spawnSync('apt-get', ['install', '-y', ...required], opts);
  // catatonit is a nice-to-have: its absence from the archive must not stop the run.
  if (optional.length) spawnSync('apt-get', ['install', '-y', ...optional], opts);
}

function compile() {
  fs.mkdirSync(OUT, { recursive: true });
  const bins = {};
  for (const name of ['first', 'stopworker']) {
    const src = path.join(HERE, 'c', `${name}.c`);
    const dst = path.join(OUT, name);
    let r = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-static', '-o', dst, src], { encoding: 'utf8' });
    let linkage = 'static';
    if (r.status !== 0) {
      r = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', dst, src], { encoding: 'utf8' });
      linkage = 'dynamic';
    }
    if (r.status !== 0) throw new Error(`gcc ${name}.c failed:\n${r.stderr}`);
    bins[name] = { path: dst, linkage };
  }
  return bins;
}

function python() {
  // Resolve pyenv-style shims to the real interpreter so nothing forks in between.
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('python3 not found (needed for the reaping bench)');
  return r.stdout.trim();
}

// ---------------------------------------------------------------- inits

// How each init runs one command, and how it runs N workers that it must stop on SIGTERM.
// corral runs the pool itself. A peer gets a shell that starts the N workers and waits;
// the peer forwards SIGTERM to the shell's whole process group (tini -g, catatonit -g,
// dumb-init's default setsid mode), so every worker gets it at the same moment as under
// corral; the shell traps TERM and waits for all workers, so the peer, like corral,
// exits only once every worker is gone.
const POOL_SH =
  'n=$1; shift; trap "wait; exit 0" TERM; i=0; while [ $i -lt $n ]; do "$@" & i=$((i+1)); done; wait';
const IDLE_SH = 'n=$1; shift; i=0; while [ $i -lt $n ]; do "$@" & i=$((i+1)); done; wait';

const INITS = {
  corral: {
    one: (cmd) => [CORRAL, '--', ...cmd],
    pool: (n, cmd) => [CORRAL, '--workers', String(n), '--', ...cmd],
    idle: (n, cmd) => [CORRAL, '--workers', String(n), '--', ...cmd],
  },
  tini: {
    one: (cmd) => ['tini', '--', ...cmd],
    pool: (n, cmd) => ['tini', '-g', '--', 'sh', '-c', POOL_SH, 'sh', String(n), ...cmd],
    idle: (n, cmd) => ['tini', '-g', '--', 'sh', '-c', IDLE_SH, 'sh', String(n), ...cmd],
  },
  'dumb-init': {
    one: (cmd) => ['dumb-init', '--', ...cmd],
    pool: (n, cmd) => ['dumb-init', '--', 'sh', '-c', POOL_SH, 'sh', String(n), ...cmd],
    idle: (n, cmd) => ['dumb-init', '--', 'sh', '-c', IDLE_SH, 'sh', String(n), ...cmd],
  },
  catatonit: {
    one: (cmd) => ['catatonit', '--', ...cmd],
    pool: (n, cmd) => ['catatonit', '-g', '--', 'sh', '-c', POOL_SH, 'sh', String(n), ...cmd],
    idle: (n, cmd) => ['catatonit', '-g', '--', 'sh', '-c', IDLE_SH, 'sh', String(n), ...cmd],
  },
};

// The floor for any Node-based init: bare `node -e` that spawns the command(s) and
// does nothing else (no argument parsing, no logging, no reaping).
const NODE_ONE =
  "require('child_process').spawn(process.argv[1], process.argv.slice(2), { stdio: 'inherit' }).on('exit', (c) => process.exit(c ?? 1));";
const NODE_IDLE =
  "const { spawn } = require('child_process'); const [n, cmd, ...args] = process.argv.slice(1); const kids = [];" +
  " for (let i = 0; i < Number(n); i++) kids.push(spawn(cmd, args, { stdio: 'ignore' }));" +
  " process.on('SIGTERM', () => { for (const k of kids) k.kill('SIGTERM'); });";
const NODE_FLOOR = 'node floor';

// ---------------------------------------------------------------- 1. startup

async function benchStartup(inits, bins) {
  console.error(`startup: ${cfg.startupRuns} runs each (+2 warm-up), interleaved`);
  const variants = [
    ['direct', (cmd) => cmd],
    [NODE_FLOOR, (cmd) => [process.execPath, '-e', NODE_ONE, ...cmd]],
    ...inits.map((i) => [i, INITS[i].one]),
  ];
  const samples = Object.fromEntries(variants.map(([v]) => [v, []]));
  const cmd = [bins.first.path];
  for (let run = -2; run < cfg.startupRuns; run++) {
    for (const [name, wrap] of variants) {
      const { t0, closed } = launch(wrap(cmd), 20000);
      const r = await closed;
      // A worker's line is on stdout under the peers, in a JSON record on stderr under corral.
      const fromRecords = r.stderr.split('\n').map((l) => {
        try {
          const rec = JSON.parse(l);
          return rec.stream ? String(rec.msg) : '';
        } catch {
          return '';
        }
      });
      const nums = [...r.stdout.split('\n'), ...fromRecords].filter((l) => /^\d+$/.test(l));
      if (r.code !== 0 || nums.length !== 1) {
        fail('startup', name, run, `exit ${r.code} signal ${r.signal}${r.error ? ` ${r.error}` : ''}, ${nums.length} probe lines`, r.stderr);
        continue;
      }
      if (run < 0) continue;
      samples[name].push(ms(BigInt(nums[0]) - t0));
    }
  }
  return { samples, stats: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)])) };
}

// ---------------------------------------------------------------- 2. stop

/** A FIFO the workers write "ready PID" / "bye PID" lines to. Opened O_RDWR so it never reads EOF. */
function openFifo(file) {
  try {
    fs.unlinkSync(file);
  } catch {
    // not there yet
  }
  const mk = spawnSync('mkfifo', [file]);
  if (mk.status !== 0) throw new Error(`mkfifo ${file} failed`);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const sock = new net.Socket({ fd, readable: true, writable: false });
  const lines = [];
  const waiters = [];
  let buf = '';
  const count = (kind) => lines.filter((l) => l.kind === kind).length;
  sock.on('data', (d) => {
    const t = process.hrtime.bigint();
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const [kind, pid] = buf.slice(0, i).split(' ');
      buf = buf.slice(i + 1);
      lines.push({ kind, pid: Number(pid), t });
    }
    for (const w of [...waiters]) {
      if (count(w.kind) >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(true);
      }
    }
  });
  return {
    lines,
    waitFor(kind, n, timeoutMs) {
      if (count(kind) >= n) return Promise.resolve(true);
      return new Promise((resolve) => {
        const w = { kind, n, resolve };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          resolve(false);
        }, timeoutMs);
        waiters.push(w);
      });
    },
    close() {
      sock.destroy();
      fs.unlinkSync(file);
    },
  };
}

async function benchStop(inits, bins) {
  const n = cfg.stopWorkers;
  console.error(`stop: ${cfg.stopRuns} runs each (+1 warm-up), ${n} workers, interleaved`);
  const samples = Object.fromEntries(inits.map((i) => [i, []]));
  const workerSpread = Object.fromEntries(inits.map((i) => [i, []]));
  for (let run = -1; run < cfg.stopRuns; run++) {
    for (const name of inits) {
      const fifo = openFifo(path.join(OUT, `stop-${name}.fifo`));
      const { child, exited, closed } = launch(INITS[name].pool(n, [bins.stopworker.path, path.join(OUT, `stop-${name}.fifo`)]), 30000);
      try {
        const ready = await fifo.waitFor('ready', n, 10000);
        const pids = fifo.lines.filter((l) => l.kind === 'ready').map((l) => l.pid);
        if (!ready) {
          child.kill('SIGKILL');
          const r = await closed;
          killAll(pids);
          fail('stop', name, run, `only ${pids.length}/${n} workers ready after 10 s`, r.stderr);
          continue;
        }
        const tTerm = process.hrtime.bigint();
        child.kill('SIGTERM');
        const ex = await exited;
        const byes = await fifo.waitFor('bye', n, 1000);
        const r = await closed;
        const survivors = pids.filter(alive);
        killAll(survivors);
        const problems = [];
        if (ex.code !== 0) problems.push(`init exit ${ex.code} signal ${ex.signal}${ex.timedOut ? ' (timed out)' : ''}`);
        if (!byes) problems.push(`${fifo.lines.filter((l) => l.kind === 'bye').length}/${n} workers said bye`);
        if (survivors.length) problems.push(`${survivors.length} workers still alive after the init exited`);
        if (problems.length) {
          fail('stop', name, run, problems.join('; '), r.stderr);
          continue;
        }
        if (run < 0) continue;
        samples[name].push(ms(ex.tExit - tTerm));
        const lastBye = fifo.lines.filter((l) => l.kind === 'bye').reduce((m, l) => (l.t > m ? l.t : m), 0n);
        workerSpread[name].push(ms(lastBye - tTerm));
      } finally {
        fifo.close();
      }
    }
  }
  return {
    samples,
    last_bye_ms: workerSpread,
    stats: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)])),
    last_bye_stats: Object.fromEntries(Object.entries(workerSpread).map(([k, v]) => [k, stats(v)])),
  };
}

// ---------------------------------------------------------------- 3. reaping

async function benchReaping(inits, py) {
  const n = cfg.orphans;
  const storm = [py, STORM, String(n)];
  const pid1 = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];
  const variants = inits.map((i) => [`${i} (PID 1)`, [...pid1, ...INITS[i].one(storm)]]);
  variants.push(['corral (subreaper, not PID 1)', INITS.corral.one(storm)]);
  if (inits.includes('tini')) variants.push(['tini -s (subreaper, not PID 1)', ['tini', '-s', '--', ...storm]]);
  console.error(`reaping: ${cfg.reapRuns} runs each, ${n} orphans`);
  const runs = Object.fromEntries(variants.map(([v]) => [v, []]));
  // The first storm after a quiet spell is about twice as slow (wall time) whatever the
  // init: run one, untimed and unchecked, under the first variant.
  await launch(variants[0][1], 120000).closed;
  for (let run = 0; run < cfg.reapRuns; run++) {
    for (const [name, argv] of variants) {
      const { t0, closed } = launch(argv, 120000);
      const r = await closed;
      const wall = ms(r.tExit - t0);
      // storm.py's JSON line: on stdout under the peers, merged into a record on stderr under corral.
      const line = [...r.stdout.split('\n'), ...r.stderr.split('\n')].find((l) => l.startsWith('{') && l.includes('"orphans"'));
      let j = null;
      try {
        j = line ? JSON.parse(line) : null;
      } catch {
        j = null;
      }
      const problems = [];
      if (!j) problems.push('no JSON line from storm.py');
      else {
        if (j.zombies !== 0) problems.push(`${j.zombies} zombies left`);
        if (j.alive !== 0) problems.push(`${j.alive} orphans still alive`);
        if (j.adopted !== n) problems.push(`adopted ${j.adopted}/${n} (the init did not adopt every orphan)`);
      }
      if (r.code !== 0) problems.push(`exit ${r.code} signal ${r.signal}${r.timedOut ? ' (timed out)' : ''}`);
      if (problems.length) fail('reaping', name, run, problems.join('; '), r.stderr);
      // Failed runs are kept too: zombies left is the number this bench is about.
      runs[name].push({ ...(j ?? {}), exit: r.code, wall_ms: wall, ok: problems.length === 0 });
    }
  }
  return { runs };
}

// ---------------------------------------------------------------- 4. memory

async function benchMemory(inits) {
  const n = cfg.memWorkers;
  const sleeper = ['sleep', '1000'];
  console.error(`memory: ${cfg.memRuns} runs each, ${n} idle workers`);
  const variants = [[NODE_FLOOR, [process.execPath, '-e', NODE_IDLE, String(n), ...sleeper]], ...inits.map((i) => [i, INITS[i].idle(n, sleeper)])];
  const runs = Object.fromEntries(variants.map(([v]) => [v, []]));
  for (let run = 0; run < cfg.memRuns; run++) {
    for (const [name, argv] of variants) {
      const { child, exited, closed } = launch(argv, 30000);
      const deadline = Date.now() + 10000;
      let workers = [];
      let tReady = null;
      // Settle handshake: poll until all N sleep workers exist below the init.
      while (Date.now() < deadline) {
        workers = descendants(child.pid).filter((p) => procStat(p)?.comm === 'sleep');
        if (workers.length >= n) {
          tReady = Date.now();
          break;
        }
        await sleep(10);
      }
      if (tReady === null) {
        child.kill('SIGKILL');
        const r = await closed;
        killAll(workers);
        fail('memory', name, run, `only ${workers.length}/${n} workers after 10 s`, r.stderr);
        continue;
      }
      // RSS right at the handshake, then every 100 ms for 1 s (the event loop of a
      // Node init keeps allocating for a while after its last spawn).
      const rss = [statusKb(child.pid, 'VmRSS')];
      for (let i = 0; i < 10; i++) {
        await sleep(100);
        rss.push(statusKb(child.pid, 'VmRSS'));
      }
      const hwm = statusKb(child.pid, 'VmHWM');
      child.kill('SIGTERM');
      const ex = await exited;
      const r = await closed;
      const survivors = workers.filter(alive);
      killAll(survivors);
      const problems = [];
      if (workers.length !== n) problems.push(`${workers.length} sleep workers, expected ${n}`);
      if (rss.some((x) => x === null)) problems.push('could not read VmRSS');
      if (ex.timedOut) problems.push('init did not exit within 30 s of SIGTERM');
      if (survivors.length) problems.push(`${survivors.length} workers still alive after the init exited`);
      if (problems.length) fail('memory', name, run, problems.join('; '), r.stderr);
      runs[name].push({
        rss_kb_at_ready: rss[0],
        rss_kb_max_1s: Math.max(...rss.filter((x) => x !== null)),
        rss_kb_samples: rss,
        hwm_kb: hwm,
        exit: ex.code,
        signal: ex.signal,
        ok: problems.length === 0,
      });
    }
  }
  return { runs };
}

// ---------------------------------------------------------------- 1b. probe

/** `corral probe livez` against a running corral, beside `node -e 0`: wall ms per run. */
async function benchProbe() {
  console.error(`probe: ${cfg.probeRuns} runs each (+2 warm-up), interleaved`);
  const port = await freePort();
  const server = launch([CORRAL, '--http', `127.0.0.1:${port}`, '--', 'sleep', '100000'], 600_000);
  const deadline = Date.now() + 10_000;
  let up = false;
  while (!up && Date.now() < deadline) {
    up = spawnSync(process.execPath, [CORRAL, 'probe', 'livez', '--http', `127.0.0.1:${port}`]).status === 0;
    if (!up) await sleep(50);
  }
  const variants = [
    [NODE_FLOOR, [process.execPath, '-e', '0']],
    ['corral', [process.execPath, CORRAL, 'probe', 'livez', '--http', `127.0.0.1:${port}`]],
  ];
  const samples = Object.fromEntries(variants.map(([v]) => [v, []]));
  if (!up) fail('probe', 'corral', 0, 'the corral to probe did not answer /livez within 10 s');
  for (let run = -2; up && run < cfg.probeRuns; run++) {
    for (const [name, argv] of variants) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: ENV });
      const took = ms(process.hrtime.bigint() - t0);
      if (r.status !== 0) {
        fail('probe', name, run, `exit ${r.status}`, r.stderr);
        continue;
      }
      if (run >= 0) samples[name].push(took);
    }
  }
  server.child.kill('SIGTERM');
  await server.closed;
  return { samples, stats: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)])) };
}

// ---------------------------------------------------------------- 5. idle


/**
 * N idle workers under each init at once (corral with its HTTP server, sampler and GPU
 * collection on, the fake nvidia-smi of the tests with 4 GPUs), then the init's own CPU over
 * consecutive windows: % of one core per window.
 */
async function benchIdle(inits) {
  const n = cfg.memWorkers;
  const sleeper = ['sleep', '100000'];
  const windowMs = cfg.idleWindowS * 1000;
  console.error(`idle: ${n} idle workers under each init at once, ${cfg.idleWindows} windows of ${cfg.idleWindowS} s`);
  const port = await freePort();
  const argvOf = (name) =>
    name === NODE_FLOOR ? [process.execPath, '-e', NODE_IDLE, String(n), ...sleeper] : name === 'corral' ? [CORRAL, '--workers', String(n), '--http', `127.0.0.1:${port}`, '--', ...sleeper] : INITS[name].idle(n, sleeper);
  const names = [NODE_FLOOR, ...inits];
  const running = names.map((name) => {
    const env = name === 'corral' ? { ...ENV, CORRAL_NVIDIA_SMI: path.join(ROOT, 'test', 'fixtures', 'nvidia-smi-4gpu') } : ENV;
    const argv = argvOf(name);
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'ignore'], env });
    return { name, child, exited: watchExit(child, windowMs * cfg.idleWindows + 120_000) };
  });
  const deadline = Date.now() + 15_000;
  for (const r of running) {
    while (descendants(r.child.pid).filter((p) => procStat(p)?.comm === 'sleep').length < n && Date.now() < deadline) await sleep(20);
  }
  await sleep(5000); // start-up work (the first GPU run, the first samples) is not idle
  const windows = Object.fromEntries(names.map((name) => [name, []]));
  let before = running.map((r) => cpuNs(r.child.pid));
  let t = process.hrtime.bigint();
  for (let w = 0; w < cfg.idleWindows; w++) {
    await sleep(windowMs);
    const now = process.hrtime.bigint();
    const after = running.map((r) => cpuNs(r.child.pid));
    running.forEach((r, i) => windows[r.name].push((100 * (after[i] - before[i])) / Number(now - t)));
    before = after;
    t = now;
  }
  for (const r of running) {
    const workers = descendants(r.child.pid);
    r.child.kill('SIGTERM');
    const ex = await r.exited;
    if (ex.timedOut) fail('idle', r.name, 0, 'init did not exit after SIGTERM');
    killAll(workers.filter(alive));
  }
  return { windows, stats: Object.fromEntries(Object.entries(windows).map(([k, v]) => [k, stats(v)])) };
}

// ---------------------------------------------------------------- report

const f1 = (x) => (x === null || x === undefined ? '–' : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));
const mb = (kb) => (kb * 1024) / 1e6;

function table(res, inits) {
  const cols = ['direct', NODE_FLOOR, ...inits];
  const head = `| | ${cols.join(' | ')} | SPEC §8 target | holds? |`;
  const sep = `|${'---|'.repeat(cols.length + 3)}`;
  const rows = [];
  const row = (label, cells, target = '', holds = '') => rows.push(`| ${label} | ${cols.map((c) => cells[c] ?? '').join(' | ')} | ${target} | ${holds} |`);
  const yes = (b) => (b === null ? 'n/a' : b ? 'yes' : '**NO**');
  const withN = (st, total) => (st ? `${f1(st.median)}${st.n < total ? ` (${st.n}/${total} ok)` : ''}` : `– (0/${total} ok)`);

  if (res.startup) {
    const s = res.startup.stats;
    const total = cfg.startupRuns;
    const med = Object.fromEntries(cols.map((c) => [c, withN(s[c], total)]));
    const p90 = Object.fromEntries(cols.map((c) => [c, s[c] ? f1(s[c].p90) : '–']));
    const c = s.corral;
    // SPEC §8 since 2026-12-01: the start-up bar is the ratio to the node floor (next rows), which
    // holds on any machine; the absolute 150 ms is shown for reference only.
    row(`start: exec → worker's first instruction, median ms (n=${total})`, med, '(was < 150 ms; now the ratio below)', c ? (c.median < 150 ? 'under 150' : 'over 150') : '');
    row('start: p90 ms', p90);
    const floor = s[NODE_FLOOR]?.median;
    const ratio = Object.fromEntries(cols.filter((k) => k !== 'direct' && s[k] && floor).map((k) => [k, `${(s[k].median / floor).toFixed(2)}×`]));
    row('start: ÷ node floor (medians, same run)', ratio, 'corral ≤ 1.3×', c && floor ? yes(c.median / floor <= 1.3) : 'n/a');
  }
  if (res.probe) {
    const s = res.probe.stats;
    const total = cfg.probeRuns;
    const floor = s[NODE_FLOOR];
    const c = s.corral;
    row(`probe: \`corral probe livez\` (node floor: \`node -e 0\`), wall median ms (n=${total})`, { [NODE_FLOOR]: withN(floor, total), corral: withN(c, total) });
    const holds = c && floor ? yes(c.median / floor.median <= 1.15 && c.n === total) : 'n/a';
    row('probe: ÷ `node -e 0` (medians, same run)', c && floor ? { corral: `${(c.median / floor.median).toFixed(2)}×` } : {}, 'corral ≤ 1.15×', holds);
  }
  if (res.stop) {
    const s = res.stop.stats;
    const total = cfg.stopRuns;
    const med = Object.fromEntries(inits.map((c) => [c, withN(s[c], total)]));
    const p90 = Object.fromEntries(inits.map((c) => [c, s[c] ? f1(s[c].p90) : '–']));
    const lb = Object.fromEntries(inits.map((c) => [c, res.stop.last_bye_stats[c] ? f1(res.stop.last_bye_stats[c].median) : '–']));
    const c = s.corral;
    const t = s.tini;
    const holds = c && t ? yes(c.median - t.median <= 100 && c.n === total) : 'n/a';
    row(`stop: SIGTERM → init exit, ${cfg.stopWorkers} workers, median ms (n=${total})`, med, "corral ≤ tini's + 100 ms", holds);
    row('stop: p90 ms', p90);
    row('stop: SIGTERM → last worker\'s "bye" seen, median ms', lb);
  }
  if (res.reaping) {
    const r = res.reaping.runs;
    const key = (init, pid1) => (pid1 ? `${init} (PID 1)` : `${init === 'tini' ? 'tini -s' : init} (subreaper, not PID 1)`);
    const cell = (runs, f) => {
      if (!runs || runs.length === 0) return '';
      const vals = runs.map(f).filter((x) => typeof x === 'number');
      if (vals.length === 0) return '–';
      const st = stats(vals);
      return runs.length === 1 ? f1(st.median) : `${f1(st.median)} (max ${f1(st.max)})`;
    };
    const zombies = (runs) => (runs && runs.length ? runs.map((x) => (typeof x.zombies === 'number' ? x.zombies : '?')).join(', ') : '');
    for (const pid1 of [true, false]) {
      const label = pid1 ? 'as PID 1' : 'not PID 1 (child subreaper; tini -s)';
      const z = {};
      const cl = {};
      const tot = {};
      for (const i of inits) {
        const k = key(i, pid1);
        if (!r[k]) continue;
        z[i] = zombies(r[k]);
        cl[i] = cell(r[k], (x) => x.cleared_ms);
        tot[i] = cell(r[k], (x) => x.total_ms);
      }
      if (Object.keys(z).length === 0) continue;
      const cr = r[key('corral', pid1)] ?? null;
      const zHolds = cr ? yes(cr.every((x) => x.zombies === 0 && x.alive === 0 && x.ok)) : 'n/a';
      const cHolds = cr ? yes(cr.every((x) => typeof x.cleared_ms === 'number' && x.cleared_ms <= 100)) : 'n/a';
      row(`reaping ${label}: zombies left after ${cfg.orphans} orphans (each run)`, z, pid1 ? 'corral: 0' : '', pid1 ? zHolds : '');
      row(`reaping ${label}: cleared_ms, median (max) of ${cfg.reapRuns}`, cl, pid1 ? 'corral ≤ 100 ms' : '', pid1 ? cHolds : '');
      row(`reaping ${label}: total_ms (storm + clearing), median (max)`, tot);
    }
  }
  if (res.memory) {
    const r = res.memory.runs;
    const cell = Object.fromEntries(
      [NODE_FLOOR, ...inits].map((i) => {
        const ok = r[i].filter((x) => x.ok);
        if (ok.length === 0) return [i, `– (0/${cfg.memRuns} ok)`];
        return [i, `${mb(stats(ok.map((x) => x.rss_kb_max_1s)).median).toFixed(1)}${ok.length < cfg.memRuns ? ` (${ok.length}/${cfg.memRuns} ok)` : ''}`];
      }),
    );
    const c = r.corral?.filter((x) => x.ok) ?? [];
    const holds = r.corral ? yes(c.length === cfg.memRuns && c.every((x) => mb(x.rss_kb_max_1s) < 60)) : 'n/a';
    row(`memory: own RSS, ${cfg.memWorkers} idle workers, MB (median of ${cfg.memRuns}, max over 1 s after ready)`, cell, 'corral < 60 MB', holds);
  }
  if (res.idle) {
    const s = res.idle.stats;
    const pct = (x) => (x < 0.1 ? x.toFixed(3) : x.toFixed(2));
    const med = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v ? pct(v.median) : '–']));
    const p90 = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v ? pct(v.p90) : '–']));
    row(`idle: own CPU, ${cfg.memWorkers} idle workers, % of a core, median of ${cfg.idleWindows} windows of ${cfg.idleWindowS} s (corral: HTTP, sampler, GPU collection on)`, med, 'corral ≤ 0.1 %', s.corral ? yes(s.corral.median <= 0.1) : 'n/a');
    row('idle: p90 of the windows', p90);
  }
  const lines = [head, sep, ...rows];
  if (res.reaping) {
    // storm.py counts cleared_ms from the end of its last /proc scan that saw a live
    // orphan. If its first scan saw none alive (storm_ms = 0), cleared_ms includes the
    // storm itself and that scan of up to N zombies: an upper bound, equal to total_ms.
    const coarse = [];
    for (const [k, v] of Object.entries(res.reaping.runs)) {
      v.forEach((x, i) => {
        if (x.storm_ms === 0) coarse.push(`${k} run ${i}: cleared_ms ${x.cleared_ms} = total_ms ${x.total_ms}`);
      });
    }
    if (coarse.length) {
      lines.push('', 'storm.py saw no orphan alive in its first scan (storm_ms = 0), so cleared_ms there is an upper bound that includes the storm:');
      for (const c of coarse) lines.push(`- ${c}`);
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  const tStart = Date.now();
  if (only.includes('reaping') && process.getuid?.() !== 0) {
    console.error('the reaping bench needs root (unshare --pid); run as root or pass --only without reaping');
    process.exit(2);
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'corral.cjs'))) {
    console.error('dist/corral.cjs is missing: run `npm run build` first');
    process.exit(2);
  }
  ensurePeers();
  const inits = ['corral', ...wantedPeers.filter((p) => which(p))];
  const skipped = wantedPeers.filter((p) => !inits.includes(p));
  const bins = compile();
  const machine = {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? null,
    kernel: os.release(),
    node: process.version,
    versions: {
      corral: firstLine(`${CORRAL} --version`),
      tini: which('tini') ? firstLine('tini --version') : null,
      'dumb-init': which('dumb-init') ? firstLine('dumb-init --version') : null,
      catatonit: which('catatonit') ? firstLine('catatonit --version') : null,
    },
    probe_linkage: bins.first.linkage,
    argv: process.argv.slice(2),
    config: cfg,
    skipped_peers: skipped,
  };
  console.error(`inits: ${inits.join(', ')}${skipped.length ? ` (skipped: ${skipped.join(', ')})` : ''}`);

  const res = {};
  if (only.includes('startup')) res.startup = await benchStartup(inits, bins);
  if (only.includes('probe')) res.probe = await benchProbe();
  if (only.includes('stop')) res.stop = await benchStop(inits, bins);
  if (only.includes('reaping')) res.reaping = await benchReaping(inits, python());
  if (only.includes('memory')) res.memory = await benchMemory(inits);
  if (only.includes('idle')) res.idle = await benchIdle(inits);

  const md = table(res, inits);
  const wallS = (Date.now() - tStart) / 1000;
  const stamp = machine.date.replace(/[:.]/g, '-');
  const record = { machine, wall_s: wallS, results: res, failures, table: md };
  const json = JSON.stringify(record, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
  fs.writeFileSync(path.join(OUT, `results-${stamp}.json`), json);
  fs.writeFileSync(path.join(OUT, 'latest.json'), json);
  fs.writeFileSync(path.join(OUT, 'latest.md'), `${md}\n`);

  console.log(md);
  console.log(`\n${failures.length} failed runs; full run ${wallS.toFixed(1)} s; raw data: ${path.relative(ROOT, path.join(OUT, `results-${stamp}.json`))}`);
  if (failures.length) {
    for (const f of failures) console.log(`- ${f.bench}/${f.variant} run ${f.run}: ${f.reason}`);
    process.exitCode = 1;
  }
}

await main();
