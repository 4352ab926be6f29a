// Both example servers under steady traffic: after SIGTERM the shared socket's backlog never
// empties, so each stops accepting DRAIN_MAX_MS after the signal, answers what it accepted and
// exits 0 well within corral's grace (instead of draining until SIGKILL).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { freePort, http, infer, killAll, root, runCorral, until } from '../helpers.js';

afterEach(killAll);

const servers = {
  python: ['python3', join(root, 'examples', 'python-batch-worker', 'server.py')],
  node: [process.execPath, join(root, 'dist', 'examples', 'node-worker', 'server.js')],
};

for (const [name, command] of Object.entries(servers)) {
  test(`${name} example: SIGTERM under steady traffic stops within DRAIN_MAX_MS, exit 0, every accepted request answered`, { timeout: 60_000 }, async () => {
    const lp = await freePort();
    const hp = await freePort();
    const c = runCorral(['--workers', '2', '--ready', 'notify', '--grace', '30s', '--listen', `127.0.0.1:${lp}`, '--http', `127.0.0.1:${hp}`, '--', ...command], {
      env: { DRAIN_MAX_MS: '300', PYTHONDONTWRITEBYTECODE: '1' },
    });
    await until(async () => {
      const r = await http(hp, '/readyz');
      return r.status === 200 && JSON.parse(r.body).pools.main.ready === 2;
    }, {
      what: 'both workers ready',
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    // A new connection every few milliseconds until corral has exited.
    let running = true;
    const answers = [];
    const traffic = (async () => {
      for (let i = 0; running; i++) {
        answers.push(infer(lp, i));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    await until(() => answers.length >= 20, { what: 'traffic flowing', intervalMs: 5 });
    const t0 = Date.now();
    await c.kill('SIGTERM');
    const end = await c.exited;
    const stopMs = Date.now() - t0;
    running = false;
    await traffic;
    assert.equal(end.code, 0, end.stderr.slice(-3000));
    assert.ok(stopMs < 10_000, `stopped in ${stopMs} ms, far below the 30 s grace`);
    assert.match(end.stdout, /worker 0: stopped cleanly/);
    assert.match(end.stdout, /worker 1: stopped cleanly/);
    // Answered; or refused (reset) once no worker accepts any more and corral closes the socket
    // with connections still in its backlog.
    const results = await Promise.all(answers);
    for (const r of results) assert.ok(r.status === 200 || r.error === 'ECONNREFUSED' || r.error === 'ECONNRESET', JSON.stringify(r));
    assert.ok(results.filter((r) => r.status === 200).length >= 20);
  });
}
