// corral beside a worker with a big idle process tree (5,000 children by default): /livez
// latency over 30 s, corral's own CPU over the same 30 s, and SIGTERM -> corral's exit.
// The same tree under `tini -s -g` (when tini is installed) gives the floor of that stop:
// the kernel tearing down and reaping 5,000 processes, the worker's own exit time.
//
//   node bench/big-tree.mjs [--children 5000] [--seconds 30]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CORRAL, ENV, HERE, OUT, freePort, sleep, stats } from './common.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? dflt : process.argv[i + 1];
};
const children = Number(arg('--children', '5000'));
const seconds = Number(arg('--seconds', '30'));

fs.mkdirSync(OUT, { recursive: true });
const forker = path.join(OUT, 'forker');
const cc = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', forker, path.join(HERE, 'c', 'forker.c')], { encoding: 'utf8' });
if (cc.status !== 0) throw new Error(`gcc forker.c failed:\n${cc.stderr}`);

function get(port, p) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
  });
}
const cpuTicks = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
};

const port = await freePort();
const corral = spawn(process.execPath, [CORRAL, '--http', `127.0.0.1:${port}`, '--log-format', 'json', '--', forker, String(children)], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
corral.stderr.on('data', (d) => (log += d));
const t0 = Date.now();
while (!/forked \d+/.test(log)) {
  if (Date.now() - t0 > 300_000 || corral.exitCode !== null) throw new Error(`the worker did not fork its tree:\n${log.slice(-2000)}`);
  await sleep(100);
}
const forkedMs = Date.now() - t0;
await sleep(3000); // a first sampling round of the whole tree
const cpu0 = cpuTicks(corral.pid);
const w0 = performance.now();
const lat = [];
let bad = 0;
while (performance.now() - w0 < seconds * 1000) {
  const r = await get(port, '/livez');
  if (r.status !== 200) bad++;
  lat.push(r.ms);
  await sleep(50);
}
const cpuPct = ((cpuTicks(corral.pid) - cpu0) / 100 / ((performance.now() - w0) / 1000)) * 100;
const status = await new Promise((resolve) => {
  http.get({ host: '127.0.0.1', port, path: '/status', agent: false }, (res) => {
    let b = '';
    res.on('data', (d) => (b += d));
    res.on('end', () => resolve(JSON.parse(b)));
  });
});
/** SIGTERM -> exit of the same tree under tini (subreaper, signals to the group), or null. */
async function tiniStop() {
  if (spawnSync('tini', ['--version']).status !== 0) return null;
  const t = spawn('tini', ['-s', '-g', '--', forker, String(children)], { env: ENV, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  t.stdout.on('data', (d) => (out += d));
  while (!/forked/.test(out)) await sleep(50);
  await sleep(1000);
  const at = performance.now();
  const done = new Promise((resolve) => t.on('exit', () => resolve(performance.now() - at)));
  t.kill('SIGTERM');
  return Math.round(await done);
}

const stopAt = performance.now();
const exited = new Promise((resolve) => corral.on('exit', (code, signal) => resolve({ code, signal, ms: performance.now() - stopAt })));
corral.kill('SIGTERM');
const stop = await exited;
const tini = await tiniStop();
const l = stats(lat);
console.log(JSON.stringify({
  date: new Date().toISOString(),
  children,
  forked_s: Math.round(forkedMs / 100) / 10,
  livez: { n: l.n, p50_ms: +l.p50.toFixed(2), p99_ms: +l.p99.toFixed(2), max_ms: +l.max.toFixed(2), not_200: bad },
  corral_cpu_pct_of_one_core: +cpuPct.toFixed(2),
  tree_rss_mib: Math.round((status.pools.main.workers[0].rss_bytes ?? 0) / 1048576),
  stop: { exit_code: stop.code, ms: Math.round(stop.ms), tini_ms: tini },
  targets: { livez_p99_under_50ms: l.p99 < 50, cpu_under_5pct: cpuPct < 5, stop_under_1s_plus_own_exit: stop.ms < 1000 + (tini ?? 0) },
}));
