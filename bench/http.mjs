// corral's HTTP server under load (SPEC §8 health bar; issue: /livez p99 under 50 ms while
// 4 workers flood their output), and the /metrics scrape time with 16 workers.
//
//   node bench/http.mjs [--probes 500] [--scrapes 200]
//
// Not part of `npm test`. Prints a markdown table; exits 1 if a target is missed.
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const corral = join(root, 'bin', 'corral.js');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const PROBES = arg('probes', 500);
const SCRAPES = arg('scrapes', 200);

function get(port, path) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(pred, what, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if (await pred()) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

function start(args, stderr) {
  return spawn(process.execPath, [corral, ...args], { stdio: ['ignore', 'ignore', stderr], env: { ...process.env, CORRAL_LOG_FORMAT: 'json' } });
}

async function stop(child) {
  const done = new Promise((r) => child.on('close', r));
  child.kill('SIGTERM');
  await done;
}

const rows = [];
let failed = false;

// 1. /livez while 4 workers flood stdout (corral's stderr goes to /dev/null: the log path
//    runs flat out, so the server competes with it for the event loop).
{
  const port = 19100;
  const line = 'x'.repeat(100);
  const c = start(['--http', `127.0.0.1:${port}`, '--workers', '4', '--', 'sh', '-c', `exec yes ${line}`], openSync('/dev/null', 'w'));
  await until(async () => (await get(port, '/livez')).status === 200, '/livez');
  await new Promise((r) => setTimeout(r, 1000)); // let the flood reach full speed
  const lat = [];
  for (let i = 0; i < PROBES; i++) {
    const r = await get(port, '/livez');
    if (r.status !== 200) throw new Error(`/livez answered ${r.status}`);
    lat.push(r.ms);
    await new Promise((res) => setTimeout(res, 10));
  }
  await stop(c);
  const p99 = pct(lat, 99);
  failed ||= p99 >= 50;
  rows.push([`/livez while 4 workers flood stdout (\`yes\`), n=${PROBES}`, `p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${Math.max(...lat).toFixed(2)} ms`, 'p99 < 50 ms', p99 < 50 ? 'yes' : 'NO']);
}

// 2. /metrics scrape with 16 idle workers.
{
  const port = 19101;
  const c = start(['--http', `127.0.0.1:${port}`, '--workers', '16', '--', 'sleep', '1000'], 'ignore');
  await until(async () => (await get(port, '/metrics')).status === 200, '/metrics');
  await new Promise((r) => setTimeout(r, 2500)); // one CPU/RSS sample in
  const lat = [];
  for (let i = 0; i < SCRAPES; i++) lat.push((await get(port, '/metrics')).ms);
  await stop(c);
  rows.push([`/metrics scrape, 16 workers, n=${SCRAPES} (client-side round trip)`, `p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms`, '-', '-']);
}

console.log('| measurement | corral | target | holds? |\n|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
process.exit(failed ? 1 : 0);
