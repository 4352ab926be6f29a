// examples/node-worker and corral/worker: the protocol from Node. The helper's behaviour
// without corral, and the TypeScript batching server under corral with --listen: readiness
// and STATUS via notify, heartbeats that keep a short watchdog happy, batch metrics, and a
// SIGTERM under load that answers every connection made before it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { assertBatchedAnswers, freePort, http, infer, killAll, root, runCorral, sample, until, watchQueue } from '../helpers.js';

afterEach(killAll);

const server = join(root, 'dist', 'examples', 'node-worker', 'server.js');
/** Runs a snippet that imports corral/worker (as a user's worker would), with env. */
function snippet(code, env) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, ...out })));
}

const calls = `
import { ready, heartbeat, batch, status, stopping, listenHandle, watchdogMs } from 'corral/worker';
console.log(JSON.stringify([ready('x'), heartbeat(), batch(3, 0.5), status('a\\nb'), stopping(), listenHandle() ?? null, watchdogMs() ?? null]));
`;

test('corral/worker without corral: every call is a quiet no-op returning false', async () => {
  const env = { NOTIFY_SOCKET: '', LISTEN_FDS: '', LISTEN_PID: '', WATCHDOG_USEC: '' };
  const r = await snippet(calls, env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [false, false, false, false, false, null, null]);
  assert.equal(r.stderr, '');
});

test('corral/worker with a NOTIFY_SOCKET no one listens on: false, one warning, no throw', async () => {
  const r = await snippet(calls, { NOTIFY_SOCKET: '@corral-test-nobody-listens', WATCHDOG_USEC: '2500000', LISTEN_FDS: '1', LISTEN_PID: '1' });
  assert.equal(r.code, 0, r.stderr);
  // LISTEN_PID names another process: the socket is not ours.
  assert.deepEqual(JSON.parse(r.stdout), [false, false, false, false, false, null, 2500]);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^corral\/worker: cannot send to NOTIFY_SOCKET=@corral-test-nobody-listens: ECONNREFUSED$/);
});

test('node-worker under corral: ready and STATUS via notify, heartbeats, batching, batch metrics, SIGTERM under load loses nothing', { timeout: 60_000 }, async () => {
  const lp = await freePort();
  const hp = await freePort();
  const c = runCorral(
    ['--workers', '2', '--ready', 'notify', '--watchdog', '1s', '--listen', `127.0.0.1:${lp}`, '--http', `127.0.0.1:${hp}`, '--', process.execPath, server],
    { env: { MAX_BATCH: '8', MAX_WAIT_MS: '30' } },
  );
  await until(async () => {
    const r = await http(hp, '/readyz');
    return r.status === 200 && JSON.parse(r.body).pools.main.ready === 2;
  }, { what: 'both workers ready', timeoutMs: 20_000, intervalMs: 50 });
  const status = JSON.parse((await http(hp, '/status')).body);
  for (const w of status.pools.main.workers) assert.equal(w.status, 'serving on cpu, max batch 8, max wait 30 ms');
  assert.equal((await http(lp, '/health')).status, 200);

  // Meanwhile the workers' queues (X_CORRAL_QUEUE, via corral/worker's queue()) show in corral_queue_depth.
  const queue = await watchQueue(hp);
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => infer(lp, i)));
  const maxQueue = await queue.stop();
  assert.ok(maxQueue > 0, `a non-zero queue was reported under load (max ${maxQueue})`);
  assertBatchedAnswers(results, 8);
  // Same input, same output, whichever worker and batch.
  assert.deepEqual(JSON.parse((await infer(lp, 3)).body).outputs, JSON.parse(results[3].body).outputs);
  assert.equal((await http(lp, '/infer', { method: 'POST', json: { inputs: 'no' } })).status, 400);

  const metrics = await until(async () => {
    const m = (await http(hp, '/metrics')).body;
    return sample(m, 'corral_batch_size_sum', { pool: 'main' }) >= 41 ? m : false;
  }, { what: 'batch metrics for every request', intervalMs: 50 });
  assert.ok(sample(metrics, 'corral_batch_size_bucket', { pool: 'main', le: '1' }) < sample(metrics, 'corral_batch_size_count', { pool: 'main' }));

  // Heartbeats from the idle batching loop keep a 1 s watchdog satisfied for 2.5 s.
  await until(async () => {
    const s = JSON.parse((await http(hp, '/status')).body);
    return s.pools.main.workers.every((w) => w.uptime_s >= 2.5);
  }, { what: 'workers up for 2.5 s', timeoutMs: 20_000, intervalMs: 100 });
  for (const w of JSON.parse((await http(hp, '/status')).body).pools.main.workers) {
    assert.equal(w.restarts, 0, `worker ${w.index} was not restarted by the watchdog`);
    assert.equal(w.state, 'ready');
  }

  let connected = 0;
  const before = Array.from({ length: 40 }, (_, i) => infer(lp, i, () => connected++));
  await until(() => connected === 40, { what: 'all 40 connections made', intervalMs: 2 });
  await c.kill('SIGTERM');
  for (const r of await Promise.all(before)) {
    assert.equal(r.status, 200, `a request connected before SIGTERM: ${JSON.stringify(r)}`);
    assert.equal(JSON.parse(r.body).outputs.length, 16);
  }
  const end = await c.exited;
  assert.equal(end.code, 0, end.stderr);
  assert.match(end.stdout, /worker 0: stopped cleanly/);
  assert.match(end.stdout, /worker 1: stopped cleanly/);
  assert.ok(c.records().some((r) => r.event === 'notify' && /is stopping/.test(r.msg)), 'STOPPING=1 reached corral');
});
