// `npm run demo` (scripts/demo.mjs), the README's first command after the install: corral
// with the Python example pool on CPU reaches ready, answers concurrent requests in batches,
// serves /metrics, and Ctrl-C (SIGINT to the terminal's process group) stops it cleanly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { freePort, http, root, sample, until } from '../helpers.js';

let group = null;
afterEach(() => {
  if (group === null) return;
  try {
    process.kill(-group, 'SIGKILL');
  } catch {
    // gone
  }
  group = null;
});

test('npm run demo: ready, batched answers, metrics, Ctrl-C stops it with exit 0', { timeout: 60_000 }, async () => {
  const service = await freePort();
  const httpPort = await freePort();
  // detached: its own process group, as a terminal would give it; -pid is then "Ctrl-C".
  const demo = spawn(process.execPath, [join(root, 'scripts', 'demo.mjs')], {
    cwd: root,
    detached: true,
    env: { ...process.env, DEMO_PORT: String(service), DEMO_HTTP_PORT: String(httpPort), PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  group = demo.pid;
  let out = '';
  demo.stdout.on('data', (d) => (out += d));
  demo.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => demo.on('close', (code, signal) => resolve({ code, signal })));

  await until(async () => (await http(httpPort, '/readyz')).status === 200, { what: 'demo ready', timeoutMs: 30_000, intervalMs: 100 });
  assert.match(out, new RegExp(`http://127\\.0\\.0\\.1:${service}/infer`));
  assert.match(out, new RegExp(`http://127\\.0\\.0\\.1:${httpPort}/metrics`));
  assert.match(out, /curl -s -X POST/);

  const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => http(service, '/infer', { method: 'POST', json: { inputs: [i, 1, 2] } })));
  for (const a of answers) {
    assert.equal(a.status, 200, JSON.stringify(a));
    assert.equal(JSON.parse(a.body).outputs.length, 16);
  }
  const m = await until(async () => {
    const text = (await http(httpPort, '/metrics')).body;
    return sample(text, 'corral_batch_size_sum', { pool: 'main' }) >= 24 ? text : false;
  }, { what: 'batch metrics', intervalMs: 50 });
  assert.equal(sample(m, 'corral_workers', { pool: 'main', state: 'ready' }), 2);

  process.kill(-demo.pid, 'SIGINT');
  const end = await exited;
  group = null;
  assert.equal(end.code, 0, out.slice(-3000));
  assert.match(out, /worker 0: stopped cleanly/);
  assert.match(out, /worker 1: stopped cleanly/);
});
