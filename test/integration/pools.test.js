// Pools: worker environment and GPU placement, sd_notify readiness (including from a
// grandchild), the start-up deadline, the watchdog, the supervisor-held socket, --user.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { request } from 'node:http';
import { fixture, killAll, runCorral, until } from '../helpers.js';

afterEach(killAll);

const fakeSmi = { CORRAL_NVIDIA_SMI: fixture('nvidia-smi-4gpu') };

test('--workers gpu --workers-per-gpu 2 on 4 GPUs: 8 workers with CORRAL_* and CUDA_VISIBLE_DEVICES', async () => {
  const c = runCorral(['--workers', 'gpu', '--workers-per-gpu', '2', '--port-base', '7100', '--restart', 'never', '--', 'sh', '-c',
    'echo "w=$CORRAL_WORKER n=$CORRAL_POOL_SIZE pool=$CORRAL_POOL gpu=$CUDA_VISIBLE_DEVICES port=$PORT order=$CUDA_DEVICE_ORDER"'], { env: fakeSmi });
  const r = await c.exited;
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').sort();
  assert.equal(lines.length, 8);
  for (let i = 0; i < 8; i++) {
    assert.ok(lines.includes(`w=${i} n=8 pool=main gpu=${Math.floor(i / 2)} port=${7100 + i} order=PCI_BUS_ID`), `worker ${i} in:\n${lines.join('\n')}`);
  }
});

test('a pre-set CUDA_VISIBLE_DEVICES limits the GPUs handed out', async () => {
  const c = runCorral(['--workers', 'gpu', '--restart', 'never', '--', 'sh', '-c', 'echo "gpu=$CUDA_VISIBLE_DEVICES"'], {
    env: { ...fakeSmi, CUDA_VISIBLE_DEVICES: '1,3' },
  });
  const r = await c.exited;
  assert.deepEqual(r.stdout.trim().split('\n').sort(), ['gpu=1', 'gpu=3']);
});

test('--workers gpu with no GPU found is a config error (exit 2), nothing spawned', async () => {
  const r = await runCorral(['--workers', 'gpu', '--', 'sh', '-c', 'echo spawned'], { env: { CORRAL_NVIDIA_SMI: '/nonexistent/nvidia-smi' } }).exited;
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^corral: .*gpu/im);
  assert.equal(r.stdout, '');
});

test('a failing nvidia-smi gives a clear error, not a crash', async () => {
  const r = await runCorral(['--workers', 'gpu', '--', 'true'], { env: { CORRAL_NVIDIA_SMI: fixture('nvidia-smi-fail') } }).exited;
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /NVIDIA-SMI has failed/);
});

for (const variant of [[], ['--from-grandchild'], ['--from-grandchild', '--setsid']]) {
  test(`notify readiness: READY=1 ${variant.length ? 'from a grandchild' + (variant.includes('--setsid') ? ' in its own session' : '') : 'from the worker'}`, async () => {
    const c = runCorral(['--ready', 'notify', '--', 'python3', fixture('notify.py'), '--ready-after', '0.3', '--status', 'model loaded', ...variant]);
    await c.waitFor(/ready-sent/);
    await until(() => c.records().some((x) => x.event === 'ready'), { what: 'the ready record' });
    const spawn = c.records().find((x) => x.event === 'spawn');
    const ready = c.records().find((x) => x.event === 'ready');
    assert.ok(ready.time - spawn.time >= 250, `ready only after READY=1 (${ready.time - spawn.time} ms)`);
    await c.kill('SIGTERM');
    await c.exited;
  });
}

test('a worker never ready within --ready-timeout is restarted (startup_timeout)', async () => {
  const c = runCorral(['--ready', 'notify', '--ready-timeout', '600ms', '--restart', 'always', '--workers', '1', '--', 'python3', fixture('notify.py'), '--never-ready']);
  await until(() => c.records().some((x) => x.event === 'exit' && x.reason === 'startup_timeout'), { what: 'a startup_timeout exit', timeoutMs: 8000 });
  assert.ok(c.records().some((x) => x.event === 'restart' && x.reason === 'startup_timeout'));
  await c.kill('SIGTERM');
  await c.exited;
});

test('a worker that stops sending WATCHDOG=1 is restarted (watchdog)', async () => {
  const c = runCorral(['--ready', 'notify', '--watchdog', '500ms', '--', 'python3', fixture('notify.py'), '--beats', '3', '--beat-every', '0.1']);
  const [, first] = await c.waitFor(/ready-sent \(pid: (\d+)/);
  await until(() => c.records().some((x) => x.event === 'exit' && x.reason === 'watchdog'), { what: 'a watchdog exit', timeoutMs: 8000 });
  const m = await c.waitFor(/ready-sent \(pid: \d+\)[^]*ready-sent \(pid: (\d+)/, 'stdout', 8000);
  assert.notEqual(m[1], first, 'a new worker replaced the hung one');
  assert.ok(c.records().some((x) => x.event === 'restart' && x.reason === 'watchdog'));
  await c.kill('SIGTERM');
  await c.exited;
});

function get(port) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

test('--listen: two Python workers accept on fd 3, LISTEN_PID is their own pid', async () => {
  const port = 7300 + Math.floor(Math.random() * 500);
  const c = runCorral(['--listen', `127.0.0.1:${port}`, '--workers', '2', '--', 'python3', fixture('listen.py')]);
  await c.waitFor(/(listening[^\n]*\n[^]*){2}/);
  assert.match(c.out.stdout, /listening pid_ok=True fds=1 name=main/);
  const seen = new Set();
  for (let i = 0; i < 40 && seen.size < 2; i++) seen.add(JSON.parse(await get(port)).worker);
  assert.deepEqual([...seen].sort(), [0, 1], 'both workers served from the one socket');
  await c.kill('SIGTERM');
  const r = await c.exited;
  assert.equal(r.code, 0, r.stderr);
});

test('--user: the worker runs as nobody, with supplementary groups from /etc/group; corral stays root', async () => {
  const r = await runCorral(['--user', 'nobody', '--', 'sh', '-c', 'echo "uid=$(id -u) home=$HOME"']).exited;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /uid=65534 home=\/nonexistent/);
  const bad = await runCorral(['--user', 'no-such-user', '--', 'true']).exited;
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^corral: --user: no user named "no-such-user"/);
});

test('the sd_notify receiver also works on a filesystem path, with the sender pid from SO_PASSCRED', async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [fixture('notify-path.mjs')], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout.trim());
  assert.equal(m.sender, m.child, 'the sender pid came with the datagram');
  assert.equal(m.text, 'READY=1\nSTATUS=via a path');
});

test('SIGHUP rolls a 3-worker pool one at a time; 300 requests on the held socket meanwhile see 0 failures', { timeout: 60_000 }, async () => {
  const port = 7800 + Math.floor(Math.random() * 500);
  const c = runCorral(['--listen', `127.0.0.1:${port}`, '--workers', '3', '--ready', 'tcp:' + port, '--', 'python3', fixture('listen.py')]);
  await c.waitFor(/(listening[^\n]*\n[^]*){3}/);
  await until(() => c.records().filter((x) => x.event === 'ready').length === 3, { what: '3 ready workers' });
  let failures = 0;
  let served = 0;
  const client = (async () => {
    for (let i = 0; i < 300; i++) {
      try {
        JSON.parse(await get(port));
        served++;
      } catch {
        failures++;
      }
    }
  })();
  await c.kill('SIGHUP');
  await client;
  await until(() => c.records().filter((x) => x.event === 'restart' && x.reason === 'rolling').length === 3, { what: '3 rolling restarts', timeoutMs: 20_000 });
  await until(() => c.records().filter((x) => x.event === 'ready').length === 6, { what: '3 successors ready', timeoutMs: 20_000 });
  assert.equal(failures, 0);
  assert.equal(served, 300);
  // One at a time: each successor was spawned before the next worker was stopped.
  const seq = c.records().filter((x) => (x.event === 'exit' && x.reason === 'rolling') || (x.event === 'spawn' && x.time > 0)).map((x) => `${x.event}:${x.worker}`);
  const rolled = seq.slice(3); // after the 3 initial spawns
  assert.deepEqual(rolled, ['exit:0', 'spawn:0', 'exit:1', 'spawn:1', 'exit:2', 'spawn:2']);
  await c.kill('SIGTERM');
  const r = await c.exited;
  assert.equal(r.code, 0, r.stderr);
});

test('a crashing pool restarts with growing delays, then gives up after 5 failed starts: exit 1, a give_up record', { timeout: 60_000 }, async () => {
  const c = runCorral(['--workers', '2', '--', 'sh', '-c', 'exit 3']);
  const r = await c.exited;
  assert.equal(r.code, 1, r.stderr.slice(-2000));
  const recs = c.records();
  const delays = recs.filter((x) => x.event === 'backoff' && x.worker === 0).map((x) => x.delay_ms);
  assert.equal(delays.length, 4, JSON.stringify(delays));
  for (let i = 0; i < 4; i++) {
    const base = 1000 * 2 ** i;
    assert.ok(delays[i] >= base && delays[i] <= base * 1.1, `delay ${i + 1} is ${delays[i]} ms, expected ${base}..${base * 1.1}`);
  }
  const giveUp = recs.find((x) => x.event === 'give_up');
  assert.ok(giveUp, 'a give_up record');
  assert.match(giveUp.why, /5 failed starts in a row/);
  assert.match(giveUp.why, /the last: error \(exit code 3\)/);
  assert.equal(giveUp.level, 50);
});

test('--max-rss recycles a worker whose process tree grows past it (reason max_rss)', { timeout: 30_000 }, async () => {
  // The memory is held by a grandchild: the limit is on the whole tree.
  const script = 'import os, signal, sys\nif os.fork() == 0:\n    ballast = b"x" * 80_000_000\n    signal.pause()\nprint(f"allocated {os.getpid()}", flush=True)\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\nsignal.pause()\n';
  const c = runCorral(['--max-rss', '50MiB', '--', 'python3', '-c', script]);
  const [, first] = await c.waitFor(/allocated (\d+)/);
  await until(() => c.records().some((x) => x.event === 'exit' && x.reason === 'max_rss'), { what: 'a max_rss exit', timeoutMs: 15_000 });
  const m = await c.waitFor(/allocated \d+[^]*allocated (\d+)/, 'stdout', 15_000);
  assert.notEqual(m[1], first);
  const rec = c.records().find((x) => x.event === 'restart' && x.reason === 'max_rss' && x.rss_bytes);
  assert.ok(rec.rss_bytes > 50 * 2 ** 20, JSON.stringify(rec));
  await c.kill('SIGTERM');
  await c.exited;
});

test('SIGHUP re-reads the config file: changes roll in; a file that no longer validates changes nothing', { timeout: 30_000 }, async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'corral-hup-'));
  const file = join(dir, 'corral.toml');
  const pool = (msg, extra = '') => `[pools.web]\ncommand = ["python3", "-c", "import os, signal, sys; print('msg=' + os.environ['MSG'], os.getpid(), flush=True); signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); signal.pause()"]\nworkers = 2\n${extra}[pools.web.env]\nMSG = "${msg}"\n`;
  writeFileSync(file, pool('one'));
  const c = runCorral(['--config', file]);
  await c.waitFor(/(msg=one[^\n]*\n[^]*){2}/);
  writeFileSync(file, pool('two'));
  await c.kill('SIGHUP');
  await c.waitFor(/(msg=two[^\n]*\n[^]*){2}/, 'stdout', 15_000);
  assert.ok(c.records().some((x) => x.event === 'config' && x.action === 'applied'));

  writeFileSync(file, pool('three', 'workerz = 3\n'));
  await c.kill('SIGHUP');
  await until(() => c.records().some((x) => x.event === 'config' && x.action === 'rejected'), { what: 'the rejection' });
  assert.match(c.records().find((x) => x.action === 'rejected').msg, /workerz.*did you mean/);

  writeFileSync(file, pool('three').replace('workers = 2', 'workers = 3'));
  await c.kill('SIGHUP');
  await until(() => c.records().filter((x) => x.event === 'config' && x.action === 'rejected').length === 2, { what: 'the second rejection' });
  await c.kill('SIGWINCH'); // a handshake (ignored by the workers): once it is logged, any roll would have begun
  await until(() => c.records().some((x) => x.event === 'signal' && x.signal === 'SIGWINCH'), { what: 'SIGWINCH handled' });
  assert.doesNotMatch(c.out.stdout, /msg=three/, 'the running pools stayed as they were');
  assert.equal(c.records().filter((x) => x.event === 'restart' && x.reason === 'rolling').length, 2);
  await c.kill('SIGTERM');
  const r = await c.exited;
  assert.equal(r.code, 0, r.stderr);
});
