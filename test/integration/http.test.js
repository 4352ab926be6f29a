// The HTTP server: endpoints and status codes, readiness flipping before the workers are
// signalled, liveness through a slow model load, probe and status.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { afterEach, test } from 'node:test';
import { fixture, killAll, runCorral, runToEnd, until } from '../helpers.js';

afterEach(killAll);

let nextPort = 9300 + Math.floor(Math.random() * 200) * 2;
const port = () => nextPort++;

export function http(p, path, method = 'GET') {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: p, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }));
    });
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}

test('endpoints: livez/healthz 200, readyz 503 then 200, status JSON, 404, 405, HEAD; no env values anywhere', async () => {
  const hp = port();
  const c = runCorral(['--http', `127.0.0.1:${hp}`, '--workers', '2', '--ready', 'notify', '--', 'python3', fixture('notify.py'), '--ready-after', '1', '--status', 'warming up'], {
    env: { SECRET_TOKEN: 'hunter2-secret' },
  });
  await until(async () => (await http(hp, '/livez')).status === 200, { what: 'livez' });
  assert.equal((await http(hp, '/healthz')).status, 200);
  const early = await http(hp, '/readyz');
  assert.equal(early.status, 503);
  assert.deepEqual(JSON.parse(early.body), { ready: false, draining: false, pools: { main: { ready: 0, total: 2, min_ready: 1 } } });
  await until(async () => {
    const r = await http(hp, '/readyz');
    return r.status === 200 && JSON.parse(r.body).pools.main.ready === 2;
  }, { what: 'both workers ready' });
  const verbose = JSON.parse((await http(hp, '/readyz?verbose')).body);
  assert.equal(verbose.workers.main.workers.length, 2);
  const status = JSON.parse((await http(hp, '/status')).body);
  assert.equal(status.pools.main.workers[0].state, 'ready');
  assert.equal(status.pools.main.workers[0].status, 'warming up');
  assert.equal(typeof status.pools.main.workers[1].pid, 'number');
  assert.equal((await http(hp, '/nope')).status, 404);
  const post = await http(hp, '/livez', 'POST');
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
  const head = await http(hp, '/readyz', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  const metrics = await until(async () => {
    const m = await http(hp, '/metrics');
    return m.status === 200 && m;
  }, { what: '/metrics' });
  for (const path of ['/status', '/readyz?verbose', '/metrics']) {
    assert.doesNotMatch((await http(hp, path)).body, /hunter2/, `${path} leaks no environment value`);
  }
  assert.match(metrics.body, /^corral_workers\{pool="main",state="ready"\} 2$/m);
  assert.match(metrics.headers['content-type'], /text\/plain/);
  await c.kill('SIGTERM');
  await c.exited;
});

test('SIGTERM: readiness is 503 at once and stays so through --drain-delay, before any worker is signalled; livez stays 200', async () => {
  const hp = port();
  const c = runCorral(['--http', `127.0.0.1:${hp}`, '--drain-delay', '1s', '--', 'python3', fixture('signals.py')]);
  await c.waitFor(/ready/);
  await until(async () => (await http(hp, '/readyz')).status === 200, { what: 'ready' });
  const sent = Date.now();
  await c.kill('SIGTERM');
  await until(async () => (await http(hp, '/readyz')).status === 503, { what: 'readyz 503', intervalMs: 5 });
  const flipped = Date.now() - sent;
  const body = JSON.parse((await http(hp, '/readyz')).body);
  assert.equal(body.draining, true);
  assert.equal((await http(hp, '/livez')).status, 200, 'liveness does not depend on draining');
  assert.doesNotMatch(c.out.stdout, /signal SIGTERM/, 'the worker was not signalled yet');
  await c.waitFor(/signal SIGTERM/);
  const signalled = Date.now() - sent;
  await c.exited;
  assert.ok(flipped < 900, `readyz flipped in ${flipped} ms, well before the 1 s drain delay ended`);
  assert.ok(signalled >= 950, `the worker got SIGTERM after the drain delay (${signalled} ms)`);
});

test('livez stays 200 through a 30 s model load while readyz is 503', { timeout: 60_000 }, async () => {
  const hp = port();
  const c = runCorral(['--http', `127.0.0.1:${hp}`, '--ready', 'notify', '--', 'python3', fixture('notify.py'), '--ready-after', '30']);
  await until(async () => (await http(hp, '/livez')).status === 200, { what: 'livez' });
  const start = Date.now();
  let polls = 0;
  while (Date.now() - start < 29_000) {
    assert.equal((await http(hp, '/livez')).status, 200);
    assert.equal((await http(hp, '/readyz')).status, 503);
    polls++;
    await new Promise((r) => setTimeout(r, 250));
  }
  await until(async () => (await http(hp, '/readyz')).status === 200, { what: 'ready after the load', timeoutMs: 10_000 });
  assert.ok(polls > 50);
  await c.kill('SIGTERM');
  await c.exited;
});

test('probe exit codes and the status table', async () => {
  const hp = port();
  const c = runCorral(['--http', `127.0.0.1:${hp}`, '--ready', 'notify', '--', 'python3', fixture('notify.py'), '--ready-after', '3', '--status', 'loading weights']);
  await until(async () => (await http(hp, '/livez')).status === 200, { what: 'livez' });
  const addr = ['--http', `0.0.0.0:${hp}`]; // a wildcard means loopback for the clients
  assert.equal((await runToEnd(['probe', 'livez', ...addr])).code, 0);
  const notReady = await runToEnd(['probe', 'readyz', ...addr]);
  assert.equal(notReady.code, 1);
  await until(async () => (await runToEnd(['probe', 'readyz', ...addr])).code === 0, { what: 'probe readyz 0' });
  const st = await runToEnd(['status', ...addr]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /^POOL\s+WORKER\s+PID\s+STATE/);
  assert.match(st.stdout, /^main\s+0\s+\d+\s+ready\s+.*loading weights$/m);
  const gone = await runToEnd(['probe', 'livez', '--http', `127.0.0.1:${port()}`]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^corral: probe livez: cannot reach/);
  assert.equal((await runToEnd(['probe', 'sideways'])).code, 2);
  await c.kill('SIGTERM');
  await c.exited;
});

test('--http on a port in use is exit 2 before anything is spawned; --http off serves nothing', async () => {
  const hp = port();
  const blocker = createServer().listen(hp, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  try {
    const r = await runToEnd(['--http', `127.0.0.1:${hp}`, '--', 'sh', '-c', 'echo spawned']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^corral: --http: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
    assert.doesNotMatch(r.stderr, /spawned/);
  } finally {
    blocker.close();
  }
  const off = await runToEnd(['--http', 'off', '--', 'true']);
  assert.equal(off.code, 0);
});

const SPEC_METRICS = [
  'corral_workers', 'corral_workers_desired', 'corral_worker_ready', 'corral_worker_restarts_total',
  'corral_worker_startup_duration_seconds', 'corral_worker_cpu_seconds_total', 'corral_worker_resident_memory_bytes',
  'corral_zombies_reaped_total', 'corral_signals_forwarded_total', 'corral_log_lines_total', 'corral_log_bytes_total',
  'corral_feedback_records_total', 'corral_ready', 'corral_draining', 'corral_batch_size', 'corral_batch_duration_seconds',
  'corral_gpu_utilization_ratio', 'corral_gpu_memory_used_bytes', 'corral_gpu_memory_total_bytes', 'corral_gpu_power_watts',
  'corral_gpu_temperature_celsius', 'corral_gpu_info', 'corral_gpu_collect_errors_total', 'corral_build_info',
];

test('/metrics of a live pool: every SPEC name, GPU figures from nvidia-smi, batches from X_CORRAL_BATCH, worker labels are indexes', { timeout: 30_000 }, async () => {
  const hp = port();
  // Each worker: READY=1 and two batches, a feedback record, an orphan, then runs until
  // SIGUSR2 ends worker 1 once (a restart).
  const script = `import os, socket, signal, sys, json, time
if os.environ["CORRAL_WORKER"] == "1" and not os.path.exists(sys.argv[1]):
    open(sys.argv[1], "w").close(); signal.signal(signal.SIGUSR2, lambda *_: sys.exit(3))
else:
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
a = os.environ["NOTIFY_SOCKET"]; a = "\\0" + a[1:] if a.startswith("@") else a
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect(a)
print(json.dumps({"kind": "feedback", "input": "x"}), flush=True)
if os.fork() == 0:
    os._exit(0)
s.send(b"X_CORRAL_BATCH=8 0.04"); s.send(b"X_CORRAL_BATCH=3 0.01"); s.send(b"READY=1")
while True: signal.pause()`;
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const once = join(mkdtempSync(join(tmpdir(), 'corral-m-')), 'once');
  const c = runCorral(['--http', `127.0.0.1:${hp}`, '--workers', 'gpu', '--ready', 'notify', '--', 'python3', '-c', script, once], {
    env: { CORRAL_NVIDIA_SMI: fixture('nvidia-smi-4gpu') },
  });
  await until(async () => {
    const r = await http(hp, '/readyz');
    return r.status === 200 && JSON.parse(r.body).pools.main.ready === 4;
  }, { what: '4 ready workers', timeoutMs: 30_000 });
  await c.kill('SIGUSR2');
  await until(() => c.records().some((x) => x.event === 'restart'), { what: 'a restart' });
  const body = await until(async () => {
    const m = await http(hp, '/metrics');
    return m.status === 200 && /corral_worker_cpu_seconds_total\{/.test(m.body) && /corral_gpu_info\{/.test(m.body) && m.body;
  }, { what: 'sampled metrics', timeoutMs: 15_000 });
  for (const name of SPEC_METRICS) assert.match(body, new RegExp(`^${name}(\\{|_bucket\\{|_count\\{| )`, 'm'), `${name} is served`);
  assert.match(body, /^corral_workers_desired\{pool="main"\} 4$/m);
  assert.match(body, /^corral_batch_size_count\{pool="main"\} [1-9]/m);
  assert.match(body, /^corral_batch_duration_seconds_count\{pool="main",batch_size="8"\} [1-9]/m);
  assert.match(body, /^corral_gpu_temperature_celsius\{gpu="0",uuid="GPU-[^"]+"\} \d+/m);
  assert.match(body, /^corral_signals_forwarded_total\{signal="SIGUSR2"\} 1$/m);
  assert.match(body, /^corral_worker_restarts_total\{pool="main",worker="1",reason="exit"\} 1$/m);
  assert.match(body, /^corral_feedback_records_total\{pool="main"\} [4-9]$/m);
  assert.match(body, /^corral_zombies_reaped_total [1-9]/m);
  const workerLabels = [...body.matchAll(/worker="(\d+)"/g)].map((m) => Number(m[1]));
  assert.ok(workerLabels.every((w) => w >= 0 && w < 4), 'worker labels are indexes, never pids');
  await c.kill('SIGTERM');
  await c.exited;
});

// SPEC §10: GPU figures whenever nvidia-smi lists GPUs, whether or not a pool asked for
// placement (one tensor-parallel server on every GPU is the common case).
for (const args of [['--', 'sleep', '600'], ['--workers', '3', '--', 'sleep', '600']]) {
  test(`GPU metrics for all 4 GPUs without placement: corral ${args.join(' ')}`, async () => {
    const hp = port();
    const c = runCorral(['--http', `127.0.0.1:${hp}`, ...args], { env: { CORRAL_NVIDIA_SMI: fixture('nvidia-smi-4gpu') } });
    // The first scrape may come before the first sample: it must not leave the registry blind.
    await until(async () => (await http(hp, '/metrics')).status === 200, { what: 'a first scrape' });
    const body = await until(async () => {
      const m = await http(hp, '/metrics');
      return m.status === 200 && (m.body.match(/^corral_gpu_power_watts\{/gm) ?? []).length === 4 && m.body;
    }, { what: 'corral_gpu_* for 4 GPUs', timeoutMs: 15_000 });
    for (const gpu of ['0', '1', '2', '3']) {
      assert.match(body, new RegExp(`^corral_gpu_info\\{gpu="${gpu}",uuid="GPU-[^"]+",name="NVIDIA H100 80GB HBM3"\\} 1$`, 'm'));
      assert.match(body, new RegExp(`^corral_gpu_power_watts\\{gpu="${gpu}",uuid="GPU-[^"]+"\\} [0-9.]+$`, 'm'));
    }
    assert.match(body, /^corral_gpu_collect_errors_total 0$/m);
    await c.kill('SIGTERM');
    await c.exited;
  });
}
