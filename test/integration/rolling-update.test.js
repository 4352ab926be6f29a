// A Kubernetes-style rolling update drops no request. Two corral "pods", each with a held
// socket and two Python HTTP workers with notify readiness; a proxy plays the endpoints
// controller (routes only to pods whose /readyz was 200 at its last poll, every 100 ms);
// constant client load; SIGTERM one pod, start its replacement, SIGTERM the other. The drain
// delay covers the controller's staleness (a poll round under load can take its 500 ms
// timeout), as it must in a real cluster.
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { afterEach, test } from 'node:test';
import { fixture, killAll, runCorral, until } from '../helpers.js';

afterEach(killAll);

const base = 9700 + Math.floor(Math.random() * 100) * 4;

function get(port, path, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}

function pod(name, listen, http) {
  const c = runCorral(
    ['--listen', `127.0.0.1:${listen}`, '--http', `127.0.0.1:${http}`, '--workers', '2', '--ready', 'notify', '--drain-delay', '2s', '--grace', '10s', '--', 'python3', fixture('listen.py'), '--notify'],
  );
  return { name, listen, http, c };
}

test('a rolling update under constant load drops no request', { timeout: 90_000 }, async (t) => {
  const pods = new Map();
  const add = (p) => pods.set(p.name, { ...p, ready: false });
  add(pod('a', base, base + 1));
  add(pod('b', base + 2, base + 3));

  // The endpoints controller: poll /readyz of every pod every 100 ms.
  let polling = true;
  const poller = (async () => {
    while (polling) {
      await Promise.all([...pods.values()].map(async (p) => {
        p.ready = (await get(p.http, '/readyz', 500)).status === 200;
      }));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  // The Service: round robin over the pods that were ready at the last poll.
  let rr = 0;
  const proxy = createServer((req, res) => {
    const ready = [...pods.values()].filter((p) => p.ready);
    if (ready.length === 0) {
      res.writeHead(503).end('no endpoints');
      return;
    }
    const target = ready[rr++ % ready.length];
    const up = request({ host: '127.0.0.1', port: target.listen, path: req.url, method: req.method, agent: false }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', (err) => res.writeHead(502).end(`upstream ${target.name}: ${err.message}`));
    req.pipe(up);
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyPort = proxy.address().port;

  await until(() => [...pods.values()].every((p) => p.ready), { what: 'both pods ready', timeoutMs: 20_000 });

  // Constant load: 4 clients in a loop.
  let load = true;
  let ok = 0;
  const failures = [];
  const clients = [0, 1, 2, 3].map(async () => {
    while (load) {
      const r = await get(proxyPort, '/');
      if (r.status === 200) ok++;
      else failures.push(`${r.status} ${r.body}`);
    }
  });

  const stop = async (name) => {
    const p = pods.get(name);
    await p.c.kill('SIGTERM');
    const r = await p.c.exited;
    assert.equal(r.code, 0, `pod ${name} stopped cleanly`);
    pods.delete(name);
  };
  await until(() => ok > 50, { what: 'load flowing' });
  await stop('a');
  add(pod('a2', base, base + 1));
  await until(() => pods.get('a2').ready, { what: 'the replacement ready', timeoutMs: 20_000 });
  await stop('b');
  const before = ok;
  await until(() => ok > before + 50, { what: 'load on the new pod' });
  load = false;
  await Promise.all(clients);
  polling = false;
  await poller;
  proxy.close();
  t.diagnostic(`${ok} requests served, ${failures.length} failed`);
  assert.deepEqual(failures, []);
  assert.ok(ok > 200);
  await pods.get('a2').c.kill('SIGTERM');
  await pods.get('a2').c.exited;
});
