// examples/python-batch-worker: the copy-me sd_notify helper's own unittests, and the
// dynamic-batching server under corral with --listen: readiness, batch metrics from
// X_CORRAL_BATCH, and a SIGTERM under load that answers every connection made before it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { assertBatchedAnswers, freePort, http, infer, killAll, root, runCorral, sample, until, watchQueue } from '../helpers.js';

afterEach(killAll);

const dir = join(root, 'examples', 'python-batch-worker');
// No __pycache__ left in the example's folder.
const pyEnv = { PYTHONDONTWRITEBYTECODE: '1' };

test('the corral_notify helper passes its own unittests (python3 -m unittest)', async () => {
  const child = spawn('python3', ['-m', 'unittest', '-v'], { cwd: dir, env: { ...process.env, ...pyEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0, out);
  assert.match(out, /Ran \d+ tests/);
  assert.match(out, /\nOK\b/);
});

test('batch server under corral: ready via notify, batched answers, batch metrics, SIGTERM under load loses nothing', { timeout: 60_000 }, async () => {
  const lp = await freePort();
  const hp = await freePort();
  const c = runCorral(
    ['--workers', '2', '--ready', 'notify', '--watchdog', '30s', '--listen', `127.0.0.1:${lp}`, '--http', `127.0.0.1:${hp}`, '--', 'python3', join(dir, 'server.py')],
    // A longer batching window than the default 5 ms, so that concurrent requests share batches.
    { env: { ...pyEnv, MAX_BATCH: '8', MAX_WAIT_MS: '30' } },
  );
  await until(async () => (await http(hp, '/readyz')).status === 200, { what: 'readyz 200', timeoutMs: 20_000, intervalMs: 50 });
  await until(async () => JSON.parse((await http(hp, '/readyz')).body).pools.main.ready === 2, { what: 'both workers ready', intervalMs: 50 });
  assert.equal((await http(lp, '/health')).status, 200);

  // ~40 concurrent requests: every one answered, 16 outputs each, some in shared batches.
  // Meanwhile the workers' queues (X_CORRAL_QUEUE) show in corral_queue_depth.
  const queue = await watchQueue(hp);
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => infer(lp, i)));
  const maxQueue = await queue.stop();
  assert.ok(maxQueue > 0, `a non-zero queue was reported under load (max ${maxQueue})`);
  const workers = new Set();
  assertBatchedAnswers(results, 8);
  for (const r of results) workers.add(JSON.parse(r.body).worker);
  // The same input gives the same output whichever worker and batch it landed in (within
  // float32 rounding: on a GPU, torch picks other kernels for other batch sizes).
  const again = JSON.parse((await infer(lp, 3)).body).outputs;
  const first = JSON.parse(results[3].body).outputs;
  assert.equal(again.length, first.length);
  again.forEach((x, i) => assert.ok(Math.abs(x - first[i]) < 1e-5, `output ${i}: ${x} vs ${first[i]}`));

  // corral counted the batches from X_CORRAL_BATCH; at least one was larger than 1.
  const metrics = await until(async () => {
    const m = (await http(hp, '/metrics')).body;
    const count = sample(m, 'corral_batch_size_count', { pool: 'main' });
    return count > 0 && sample(m, 'corral_batch_size_bucket', { pool: 'main', le: '1' }) < count ? m : false;
  }, { what: 'batch metrics with a batch larger than 1', intervalMs: 50 });
  const sum = sample(metrics, 'corral_batch_size_sum', { pool: 'main' });
  assert.ok(sum >= 40, `batch sizes add up to the requests served (${sum})`);
  assert.ok(sample(metrics, 'corral_batch_duration_seconds_count', { pool: 'main' }) > 0);

  // SIGTERM under load: every request whose connection was made before the signal (in the
  // backlog or already accepted) gets its 200. Requests sent after it may find no one.
  let connected = 0;
  const before = Array.from({ length: 40 }, (_, i) => infer(lp, i, () => connected++));
  await until(() => connected === 40, { what: 'all 40 connections made', intervalMs: 2 });
  await c.kill('SIGTERM');
  const after = Array.from({ length: 10 }, (_, i) => infer(lp, i));
  for (const r of await Promise.all(before)) {
    assert.equal(r.status, 200, `a request connected before SIGTERM: ${JSON.stringify(r)}`);
    assert.equal(JSON.parse(r.body).outputs.length, 16);
  }
  for (const r of await Promise.all(after)) assert.ok(r.status === 200 || r.status === 0, `after SIGTERM: ${JSON.stringify(r)}`);

  const end = await c.exited;
  assert.equal(end.code, 0, end.stderr);
  assert.match(end.stdout, /worker 0: stopped cleanly/);
  assert.match(end.stdout, /worker 1: stopped cleanly/);
  assert.ok(workers.size >= 1);
});
