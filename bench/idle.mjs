#!/usr/bin/env node
// corral's own CPU while idle: a pool of sleeping workers, the HTTP server on, GPU collection
// on (the fake nvidia-smi of the tests, 4 GPUs), the resource sampler and the cgroup reader
// running. corral's utime + stime from /proc/PID/stat over a window after start-up, as a
// share of one core. Not part of `npm test`.
//
//   node bench/idle.mjs [--workers 8] [--seconds 60] [--warmup 5] [--corral PATH ...] [--no-gpu]
//
// Beside them runs the floor: a Node process with one 1 s timer and nothing else.
// Several --corral paths (bin/corral.js of other checkouts) run side by side, in the same
// window, so that they share the machine's load.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CORRAL, ENV, ROOT, sleep } from './common.mjs';

const { values: opt } = parseArgs({
  options: {
    workers: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '5' },
    corral: { type: 'string', multiple: true, default: [CORRAL] },
    'no-gpu': { type: 'boolean', default: false },
  },
});
const HZ = 100; // USER_HZ: /proc's clock ticks
const ticks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime, stime
};

const runs = opt.corral.map((bin, i) => {
  const child = spawn(process.execPath, [bin, '--workers', opt.workers, '--http', `127.0.0.1:${19000 + (process.pid % 800) + i}`, '--', 'sleep', '100000'], {
    env: { ...ENV, CORRAL_LOG_FORMAT: 'json', CORRAL_NVIDIA_SMI: opt['no-gpu'] ? '/nonexistent/nvidia-smi' : path.join(ROOT, 'test', 'fixtures', 'nvidia-smi-4gpu'), CORRAL_GPUS: 'none' },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  return { bin, child };
});
runs.push({ bin: 'node floor (one 1 s timer)', child: spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }) });
await sleep(Number(opt.warmup) * 1000);
for (const r of runs) r.t0 = ticks(r.child.pid);
const started = Date.now();
await sleep(Number(opt.seconds) * 1000);
const secs = (Date.now() - started) / 1000;
for (const r of runs) {
  const used = (ticks(r.child.pid) - r.t0) / HZ;
  console.log(`${r.bin}: ${opt.workers} idle workers${opt['no-gpu'] ? '' : ', GPU collection on'}, ${secs.toFixed(1)} s: used ${used.toFixed(2)} s of CPU = ${((100 * used) / secs).toFixed(2)} % of a core`);
  r.child.kill('SIGTERM');
}
