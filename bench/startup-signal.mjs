// How long after exec a SIGTERM to corral as PID 1 can be lost: the window is Node's own
// bootstrap, before bin/corral.js installs its handlers (the kernel drops a signal that
// PID 1 has no handler for). For each delay d, corral is started as a PID namespace's
// init, SIGTERM is sent d ms after the spawn, and the run counts as handled when corral
// exits within 3 s (it would otherwise run `sleep 600` until killed).
//
//   node bench/startup-signal.mjs [--runs 5] [--delays 0,10,20,...]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CORRAL, ENV, sleep } from './common.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? dflt : process.argv[i + 1];
};
const runs = Number(arg('--runs', '5'));
const delays = arg('--delays', '0,10,20,30,40,50,60,80,100,150,200').split(',').map(Number);

/** The namespace's PID 1, seen from here: unshare's only child. */
async function initPid(unsharePid) {
  for (let i = 0; i < 500; i++) {
    try {
      const kids = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim();
      if (kids) return Number(kids.split(' ')[0]);
    } catch {
      return null;
    }
    await sleep(0.2);
  }
  return null;
}

async function once(delay) {
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, CORRAL, '--http', 'off', '--', 'sleep', '600'], { env: ENV, stdio: 'ignore' });
  const t0 = performance.now();
  const exited = new Promise((resolve) => child.on('exit', () => resolve(performance.now())));
  const pid = await initPid(child.pid);
  const wait = delay - (performance.now() - t0);
  if (wait > 0) await sleep(wait);
  const sentAt = performance.now() - t0;
  if (pid) process.kill(pid, 'SIGTERM');
  const r = await Promise.race([exited, sleep(3000).then(() => null)]);
  if (r === null) {
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }
  return { sentAt, handled: r !== null };
}

const rows = [];
for (const d of delays) {
  let handled = 0;
  let sent = 0;
  for (let i = 0; i < runs; i++) {
    const r = await once(d);
    sent += r.sentAt;
    if (r.handled) handled++;
  }
  rows.push({ delay_ms: d, sent_at_ms: Math.round(sent / runs), handled: `${handled}/${runs}` });
  console.log(JSON.stringify(rows.at(-1)));
}
const lost = rows.filter((r) => !r.handled.startsWith(`${runs}/`));
console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, window_ms: lost.length ? Math.max(...lost.map((r) => r.sent_at_ms)) : 0 }));
