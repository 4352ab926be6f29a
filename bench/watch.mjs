#!/usr/bin/env node
// --watch on a big tree (SPEC §11, issue bar: a watch of a directory with 50,000 files costs at
// most 1 % of a core idle). Builds a tree of FILES files, runs corral with --watch on it beside
// the same corral without --watch, and reports: the set-up (CPU and time until corral is idle
// again), the idle CPU of both over WINDOWS windows, and the time from a change deep in the
// tree to corral's `watch` record. Not part of `npm test`.
//
//   node bench/watch.mjs [--files 50000] [--windows 10] [--window-s 10]

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CORRAL, cpuNs, ENV, OUT, sleep, stats } from './common.mjs';

const { values: opt } = parseArgs({
  options: {
    files: { type: 'string', default: '50000' },
    windows: { type: 'string', default: '10' },
    'window-s': { type: 'string', default: '10' },
  },
});
const FILES = Number(opt.files);
const WINDOWS = Number(opt.windows);
const WINDOW_MS = Number(opt['window-s']) * 1000;

// 100 files per directory, 10 directories per parent: a source tree's shape.
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-watch-bench-'));
const tree = path.join(root, 'src');
const t0 = Date.now();
let made = 0;
for (let a = 0; made < FILES; a++) {
  for (let b = 0; b < 10 && made < FILES; b++) {
    const dir = path.join(tree, `pkg${a}`, `mod${b}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100 && made < FILES; f++, made++) fs.writeFileSync(path.join(dir, `file${f}.py`), `# ${made}\n`);
  }
}
const dirs = fs.readdirSync(tree).length;
console.error(`tree: ${FILES} files in ${dirs} × 10 directories, written in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

function start(args) {
  const child = spawn(process.execPath, [CORRAL, '--http', 'off', '--log-format', 'json', ...args, '--', 'sleep', '100000'], { stdio: ['ignore', 'ignore', 'pipe'], env: ENV });
  const records = [];
  let buf = '';
  child.stderr.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      try {
        records.push({ at: Date.now(), ...JSON.parse(buf.slice(0, i)) });
      } catch {
        // not a record
      }
      buf = buf.slice(i + 1);
    }
  });
  return { child, records, spawnedAt: Date.now() };
}

const watched = start(['--watch', tree]);
const plain = start([]);
// Set-up: until the watching corral has used under 2 ms of CPU in each of two seconds in a row.
let last = cpuNs(watched.child.pid);
let calm = 0;
while (calm < 2 && Date.now() - watched.spawnedAt < 120_000) {
  await sleep(1000);
  const now = cpuNs(watched.child.pid);
  calm = now - last < 2e6 ? calm + 1 : 0;
  last = now;
}
const setupCpuMs = last / 1e6;
const setupS = (Date.now() - watched.spawnedAt - 2000) / 1000;
console.error(`set-up: ${setupCpuMs.toFixed(0)} ms of CPU, idle again after ≈ ${setupS.toFixed(1)} s`);

const windows = { watch: [], plain: [] };
let before = [cpuNs(watched.child.pid), cpuNs(plain.child.pid)];
let t = process.hrtime.bigint();
for (let w = 0; w < WINDOWS; w++) {
  await sleep(WINDOW_MS);
  const now = process.hrtime.bigint();
  const after = [cpuNs(watched.child.pid), cpuNs(plain.child.pid)];
  windows.watch.push((100 * (after[0] - before[0])) / Number(now - t));
  windows.plain.push((100 * (after[1] - before[1])) / Number(now - t));
  before = after;
  t = now;
}

// A change deep in the tree: the time to corral's watch record (300 ms of it is the debounce).
const deep = path.join(tree, 'pkg3', 'mod7', 'file42.py');
const changedAt = Date.now();
fs.writeFileSync(deep, '# changed\n');
let rec;
while (!rec && Date.now() - changedAt < 10_000) {
  await sleep(20);
  rec = watched.records.find((r) => r.event === 'watch' && typeof r.file === 'string');
}
const latencyMs = rec ? rec.at - changedAt : null;
for (const r of [watched, plain]) r.child.kill('SIGTERM');
await Promise.all([watched, plain].map((r) => new Promise((resolve) => r.child.on('exit', resolve))));
fs.rmSync(root, { recursive: true, force: true });

const sw = stats(windows.watch);
const sp = stats(windows.plain);
const result = {
  date: new Date().toISOString(),
  node: process.version,
  files: FILES,
  setup_cpu_ms: Math.round(setupCpuMs),
  setup_s: Number(setupS.toFixed(1)),
  idle_watch_pct: windows.watch,
  idle_plain_pct: windows.plain,
  change_to_record_ms: latencyMs,
  record_file: rec?.file ?? null,
};
fs.mkdirSync(OUT, { recursive: true });
fs.writeFileSync(path.join(OUT, 'watch-latest.json'), JSON.stringify(result, null, 2));
const pct = (x) => x.toFixed(3);
console.log(`| | corral --watch (${FILES} files) | corral without --watch | target |`);
console.log('|---|---|---|---|');
console.log(`| idle CPU, % of a core, median (max) of ${WINDOWS} windows of ${WINDOW_MS / 1000} s | ${pct(sw.median)} (${pct(sw.max)}) | ${pct(sp.median)} (${pct(sp.max)}) | ≤ 1 % |`);
console.log(`| set-up: CPU until idle again | ${result.setup_cpu_ms} ms (≈ ${result.setup_s} s) | | |`);
console.log(`| a change deep in the tree → \`watch\` record (300 ms debounce included) | ${latencyMs ?? 'none within 10 s'} ms | | |`);
const ok = latencyMs !== null && rec.file === deep && sw.median <= 1;
if (!ok) {
  console.log(`\nFAILED: ${latencyMs === null ? 'no watch record' : rec.file !== deep ? `the record names ${rec.file}` : 'idle over 1 %'}`);
  process.exitCode = 1;
}
