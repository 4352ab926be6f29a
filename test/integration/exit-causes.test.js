// SPEC §9: why a worker ended, with real processes. Each exit record carries `cause`, the
// metric counts it, and corral's own stops keep their reasons; hang dumps, sticky CUDA
// errors and WATCHDOG=trigger.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { fixture, http, killAll, runCorral, sample, until } from '../helpers.js';

afterEach(killAll);

const dir = mkdtempSync(join(tmpdir(), 'corral-causes-'));
const exits = fixture('exits.py');
const exitOf = (c, pool) => c.records().find((r) => r.event === 'exit' && r.pool === pool && r.worker === 0);

test('each way a worker ends on its own has its cause, in the record, the status and the metric', { timeout: 60_000 }, async () => {
  const cases = {
    clean: ['code', '0'],
    error: ['code', '3'],
    crash: ['segv'],
    killed: ['selfkill'],
    exception: ['raise'],
    cuda_oom: ['cuda_oom'],
  };
  const cfg = join(dir, 'causes.toml');
  // A last pool keeps corral up for the scrape once the others have ended.
  const pools = { ...cases, keeper: ['sleep', '60'] };
  writeFileSync(cfg, Object.entries(pools).map(([name, args]) => `[pools.${name}]\ncommand = ${JSON.stringify(name === 'keeper' ? args : ['python3', exits, ...args])}\nrestart = "never"\nmin_ready = 0\n`).join('\n'));
  const port = 9500 + Math.floor(Math.random() * 200);
  const c = runCorral(['--config', cfg, '--http', `127.0.0.1:${port}`]);
  await until(() => Object.keys(cases).every((p) => exitOf(c, p)), { timeoutMs: 30_000, what: 'every exit record' });
  for (const pool of Object.keys(cases)) {
    const rec = exitOf(c, pool);
    assert.equal(rec.cause, pool, `pool ${pool}: ${JSON.stringify(rec)}`);
    assert.equal(typeof rec.detail, 'string');
  }
  assert.match(exitOf(c, 'exception').detail, /^ValueError: bad input shape/);
  assert.match(exitOf(c, 'cuda_oom').detail, /torch\.cuda\.OutOfMemoryError: CUDA out of memory/);
  assert.match(exitOf(c, 'cuda_oom').msg, /CUDA out of memory/, 'the message says it in words');
  assert.equal(exitOf(c, 'crash').signal, 'SIGSEGV');
  const metrics = (await http(port, '/metrics')).body;
  for (const pool of Object.keys(cases)) assert.equal(sample(metrics, 'corral_worker_exits_total', { pool, cause: pool }), 1, pool);
  const status = JSON.parse((await http(port, '/status')).body);
  const crash = status.pools.crash.workers[0];
  assert.equal(crash.last_exit.cause, 'crash');
  await c.kill('SIGTERM');
  await c.exited;
});

test('corral\'s own stops keep their reasons: a grace kill is shutdown, not killed', { timeout: 30_000 }, async () => {
  const c = runCorral(['--grace', '1s', '--', 'sh', '-c', 'trap "" TERM; echo up; while :; do sleep 0.1; done']);
  await c.waitFor(/up/);
  await c.kill('SIGTERM');
  await c.exited;
  const rec = exitOf(c, 'main');
  assert.equal(rec.signal, 'SIGKILL');
  assert.equal(rec.cause, 'shutdown');
});

test('a watchdog stop sends SIGQUIT first: the exit record\'s dump names the function the worker hung in', { timeout: 30_000 }, async () => {
  const c = runCorral(['--ready', 'notify', '--watchdog', '1s', '--restart', 'never', '--', 'python3', exits, 'hang']);
  await until(() => exitOf(c, 'main'), { timeoutMs: 20_000, what: 'the watchdog exit' });
  const rec = exitOf(c, 'main');
  assert.equal(rec.cause, 'watchdog');
  assert.ok(Array.isArray(rec.dump), JSON.stringify(rec));
  assert.match(rec.dump.join('\n'), /in stuck_in_matmul/);
  assert.ok(rec.dump.length <= 200);
  assert.ok(c.records().some((r) => r.event === 'restart' && r.reason === 'watchdog' && r.dump_signal === 'SIGQUIT'));
  await c.kill('SIGTERM');
  await c.exited;
});

test('a hung worker without a handler for the dump signal dies of it: still the watchdog\'s stop and restart', { timeout: 30_000 }, async () => {
  // notify.py does not use the helper: SIGQUIT keeps its default action and ends it.
  const c = runCorral(['--ready', 'notify', '--watchdog', '1s', '--restart', 'never', '--', 'python3', fixture('notify.py'), '--beats', '3']);
  await until(() => c.records().some((r) => r.event === 'restart' && r.reason === 'watchdog' && r.restarts !== undefined && r.delay_ms !== undefined), { timeoutMs: 20_000, what: 'the watchdog restart' });
  const rec = exitOf(c, 'main');
  assert.equal(rec.signal, 'SIGQUIT', JSON.stringify(rec));
  assert.equal(rec.cause, 'watchdog');
  assert.equal(rec.reason, 'watchdog');
  assert.deepEqual(rec.dump, []);
  await c.kill('SIGTERM');
  await c.exited;
});

test('--watchdog-signal off: nothing is sent before the watchdog stop, and there is no dump', { timeout: 30_000 }, async () => {
  const c = runCorral(['--ready', 'notify', '--watchdog', '1s', '--watchdog-signal', 'off', '--restart', 'never', '--', 'python3', exits, 'hang']);
  await until(() => exitOf(c, 'main'), { timeoutMs: 20_000, what: 'the watchdog exit' });
  const rec = exitOf(c, 'main');
  assert.equal(rec.cause, 'watchdog');
  assert.equal(rec.dump, undefined);
  assert.doesNotMatch(c.out.stderr, /stuck_in_matmul/, 'no stack was printed');
  await c.kill('SIGTERM');
  await c.exited;
});

test('WATCHDOG=trigger restarts the worker at once, reason watchdog, without --watchdog', { timeout: 30_000 }, async () => {
  const c = runCorral(['--ready', 'notify', '--restart', 'always', '--', 'python3', exits, 'trigger']);
  await until(() => c.records().some((r) => r.event === 'exit' && r.cause === 'watchdog'), { timeoutMs: 20_000, what: 'the triggered stop' });
  const stop = c.records().find((r) => r.event === 'restart' && r.reason === 'watchdog' && r.msg.includes('WATCHDOG=trigger'));
  assert.ok(stop, c.out.stderr);
  assert.equal(stop.dump_signal, undefined, 'a worker that asked is not hung: no dump');
  await c.kill('SIGTERM');
  await c.exited;
});

test('a sticky CUDA error line: not ready at once, restarted with reason cuda_error; with ignore it keeps running', { timeout: 40_000 }, async () => {
  const port = 9700 + Math.floor(Math.random() * 200);
  const c = runCorral(['--http', `127.0.0.1:${port}`, '--ready', 'notify', '--restart', 'always', '--', 'python3', exits, 'sticky']);
  await until(() => c.records().some((r) => r.event === 'exit'), { timeoutMs: 20_000, what: 'the cuda_error exit' });
  const recs = c.records();
  const line = recs.find((r) => r.stream === 'stderr' && r.msg.includes('device-side assert triggered'));
  const stop = recs.find((r) => r.event === 'restart' && r.reason === 'cuda_error');
  assert.ok(line && stop, c.out.stderr);
  assert.ok(stop.time - line.time <= 200, `not ready ${stop.time - line.time} ms after the line`);
  assert.equal(recs.find((r) => r.event === 'exit').cause, 'cuda_error');
  const metrics = (await http(port, '/metrics')).body;
  assert.equal(sample(metrics, 'corral_worker_restarts_total', { pool: 'main', worker: '0', reason: 'cuda_error' }), 1);
  await c.kill('SIGTERM');
  await c.exited;

  const port2 = port + 1;
  const keep = runCorral(['--http', `127.0.0.1:${port2}`, '--ready', 'notify', '--on-cuda-error', 'ignore', '--', 'python3', exits, 'sticky']);
  await keep.waitFor(/sticky-printed/);
  await until(() => keep.records().some((r) => r.event === 'cuda_error' && r.action === 'ignore'), { what: 'the ignore record' });
  assert.equal((await http(port2, '/readyz')).status, 200, 'still ready');
  assert.ok(!keep.records().some((r) => r.event === 'restart' || r.event === 'exit'));
  await keep.kill('SIGTERM');
  await keep.exited;
});

test('a JSON request log that merely quotes the words is not a CUDA error', { timeout: 30_000 }, async () => {
  const port = 9900 + Math.floor(Math.random() * 90);
  const c = runCorral(['--http', `127.0.0.1:${port}`, '--ready', 'notify', '--', 'python3', exits, 'quote']);
  await c.waitFor(/quote-printed/);
  // The helper's output and corral's verdict come from the same read: give corral's loop a turn.
  await until(async () => (await http(port, '/readyz')).status === 200, { what: 'ready' });
  assert.ok(!c.records().some((r) => r.event === 'cuda_error' || r.event === 'restart'), c.out.stderr);
  await c.kill('SIGTERM');
  await c.exited;
});

test('a fake nvidia-smi that loses GPU 1: corral_gpu_up{gpu="1"} 0, the worker on GPU 1 not ready, one gpu_lost record', { timeout: 60_000 }, async () => {
  const lostFile = join(dir, 'lost-gpu');
  const port = 9990 + Math.floor(Math.random() * 9);
  const c = runCorral(['--http', `127.0.0.1:${port}`, '--workers', 'gpu', '--min-ready', '3', '--', 'sleep', '120'], {
    env: { CORRAL_NVIDIA_SMI: fixture('nvidia-smi-4gpu'), FAKE_NVIDIA_SMI_LOST: lostFile },
  });
  await until(async () => sample((await http(port, '/metrics')).body ?? '', 'corral_gpu_up', { gpu: '1' }) === 1, { timeoutMs: 15_000, what: 'GPU 1 up' });
  assert.equal(sample((await http(port, '/metrics')).body, 'corral_worker_ready', { pool: 'main', worker: '1' }), 1);
  writeFileSync(lostFile, 'lost 1\n');
  // The collector samples every 10 s.
  let metrics = '';
  await until(async () => {
    metrics = (await http(port, '/metrics')).body ?? '';
    return sample(metrics, 'corral_gpu_up', { gpu: '1' }) === 0;
  }, { timeoutMs: 25_000, intervalMs: 200, what: 'GPU 1 down' });
  assert.equal(sample(metrics, 'corral_worker_ready', { pool: 'main', worker: '1' }), 0, 'the worker on GPU 1 is not ready');
  assert.equal(sample(metrics, 'corral_worker_ready', { pool: 'main', worker: '0' }), 1);
  const readyz = JSON.parse((await http(port, '/readyz')).body);
  assert.equal(readyz.pools.main.ready, 3);
  assert.equal(readyz.ready, true, 'min_ready 3 still holds');
  const status = JSON.parse((await http(port, '/status')).body);
  assert.equal(status.pools.main.workers[1].gpu_lost, true);
  const lost = c.records().filter((r) => r.event === 'gpu_lost');
  assert.equal(lost.length, 1, c.out.stderr);
  assert.equal(lost[0].gpu, 1);
  assert.equal(lost[0].level, 50);
  await c.kill('SIGTERM');
  await c.exited;
});
