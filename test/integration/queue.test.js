// SPEC §10 queue depth: X_CORRAL_QUEUE from each worker -> corral_queue_depth{pool,worker}
// and the pool's sum in /status; `corral status` prints the container line.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { fixture, http, killAll, runCorral, runToEnd, sample, until } from '../helpers.js';

afterEach(killAll);

test('X_CORRAL_QUEUE=7 from worker 0 and 17 from worker 1: two gauges, 24 for the pool', { timeout: 30_000 }, async () => {
  const port = 9450 + Math.floor(Math.random() * 50);
  const c = runCorral(['--http', `127.0.0.1:${port}`, '--workers', '2', '--ready', 'notify', '--', 'python3', fixture('notify.py'), '--queue', '7,17']);
  await c.waitFor(/queue-sent 7[\s\S]*queue-sent 17|queue-sent 17[\s\S]*queue-sent 7/);
  let m = '';
  await until(async () => {
    m = (await http(port, '/metrics')).body ?? '';
    return sample(m, 'corral_queue_depth', { pool: 'main', worker: '1' }) === 17;
  }, { what: 'the queue gauges' });
  assert.equal(sample(m, 'corral_queue_depth', { pool: 'main', worker: '0' }), 7);
  const status = JSON.parse((await http(port, '/status')).body);
  assert.equal(status.pools.main.queue_depth, 24);
  assert.deepEqual(status.pools.main.workers.map((w) => w.queue_depth), [7, 17]);
  assert.equal(typeof status.container, 'object');
  assert.ok('memory_limit_bytes' in status.container && 'cpu_limit_cores' in status.container, JSON.stringify(status.container));
  const table = await runToEnd(['status', '--http', `127.0.0.1:${port}`]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^container: memory \S+ of .*CPU limit [\d.]+ cores/m);
  await c.kill('SIGTERM');
  await c.exited;
});
