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
  await until(async () => (await http(hp, '/readyz')).status === 200, { what: 'ready' });
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
  assert.ok(flipped < 200, `readyz flipped in ${flipped} ms`);
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
  const c = runCorral(['--http', `127.0.0.1:${hp}`, '--ready', 'notify', '--', 'python3', fixture('notify.py'), '--ready-after', '1', '--status', 'loading weights']);
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
