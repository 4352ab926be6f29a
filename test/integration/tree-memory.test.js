// A worker tree's memory is its PSS: pages a parent shares copy-on-write with its forked
// readers (a model's weights and DataLoader workers) count once, not once per process, so
// --max-rss does not recycle a worker for memory it does not use.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { fixture, freePort, http, killAll, runCorral, until } from '../helpers.js';

afterEach(killAll);

test('a 400 MB parent with 8 readers: the tree reads about 400 MB, and --max-rss 1GiB keeps it', { timeout: 120_000 }, async () => {
  const hp = await freePort();
  const c = runCorral(['--http', `127.0.0.1:${hp}`, '--max-rss', '1GiB', '--restart', 'always', '--', 'python3', fixture('shared-memory.py'), '400', '8']);
  await c.waitFor(/shared ready/, 'stdout', 60_000);
  const MB = 1024 * 1024;
  // Two samples after the readers are up (they come every 2 s).
  let seen = [];
  await until(async () => {
    const r = await http(hp, '/status');
    const rss = r.status === 200 ? JSON.parse(r.body).pools.main.workers[0].rss_bytes : null;
    if (rss !== null && rss > 300 * MB) seen.push(rss);
    return seen.length >= 2;
  }, { what: 'two samples of the whole tree', timeoutMs: 30_000, intervalMs: 1000 });
  const rss = seen.at(-1);
  assert.ok(rss > 400 * MB * 0.85 && rss < 400 * MB * 1.15, `tree memory ${(rss / MB).toFixed(1)} MiB is within 15 % of 400 MiB (RSS summed would be ~3,600)`);
  assert.equal(c.records().filter((r) => r.event === 'restart' && r.reason === 'max_rss').length, 0, 'not recycled');
  const m = await http(hp, '/metrics');
  const sample = Number(/^corral_worker_resident_memory_bytes\{pool="main",worker="0"\} (\d+)/m.exec(m.body)?.[1]);
  assert.ok(sample > 300 * MB && sample < 460 * MB, `metric ${sample}`);
  await c.kill('SIGTERM');
  await c.exited;
});

test('an idle worker that later starts a child (posix_spawn, a vfork): the child is in the tree within a few samples', { timeout: 90_000 }, async () => {
  const hp = await freePort();
  // Idle long enough for several samples of an unchanged process, then a 300 MB child.
  const child = 'import time; b = bytearray(300 * 1024 * 1024); print("child up", flush=True); time.sleep(600)';
  const worker = `import os, sys, time; time.sleep(7); os.posix_spawn(sys.executable, [sys.executable, "-c", ${JSON.stringify(child)}], os.environ); time.sleep(600)`;
  const c = runCorral(['--http', `127.0.0.1:${hp}`, '--', 'python3', '-c', worker]);
  const MB = 1024 * 1024;
  const rssNow = async () => {
    const r = await http(hp, '/status');
    return r.status === 200 ? JSON.parse(r.body).pools.main.workers[0].rss_bytes : null;
  };
  await until(async () => (await rssNow()) !== null, { what: 'a first sample', timeoutMs: 15_000, intervalMs: 250 });
  const idle = await rssNow();
  assert.ok(idle < 100 * MB, `the idle worker alone: ${(idle / MB).toFixed(1)} MiB`);
  await c.waitFor(/child up/, 'stdout', 30_000);
  const upAt = Date.now();
  await until(async () => (await rssNow()) > 250 * MB, { what: 'the child\'s 300 MB in the tree', timeoutMs: 15_000, intervalMs: 250 });
  assert.ok(Date.now() - upAt < 10_000, `seen ${Date.now() - upAt} ms after the child was up (a full re-read comes only every 30 s)`);
  await c.kill('SIGTERM');
  await c.exited;
});
