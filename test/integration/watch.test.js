// --watch (SPEC §11): a saved file restarts the pool's workers one at a time, debounced; the
// default ignores and --watch-ignore restart nothing.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { freePort, http, infer, killAll, root, runCorral, until } from '../helpers.js';

afterEach(killAll);

function project() {
  const dir = mkdtempSync(join(tmpdir(), 'corral-watch-'));
  for (const d of ['.git', 'node_modules', 'src', 'logs']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'src', 'model.py'), 'VERSION = 1\n');
  return dir;
}

const watchRecords = (c) => c.records().filter((r) => r.event === 'watch' && r.file);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('a saved file restarts a 2-worker pool one worker at a time while requests keep flowing through --listen: 0 failed', { timeout: 90_000 }, async () => {
  const dir = project();
  const lp = await freePort();
  const hp = await freePort();
  const c = runCorral(
    ['--workers', '2', '--ready', 'notify', '--listen', `127.0.0.1:${lp}`, '--http', `127.0.0.1:${hp}`, '--watch', dir, '--', 'python3', join(root, 'examples', 'python-batch-worker', 'server.py')],
    { env: { PYTHONDONTWRITEBYTECODE: '1' } },
  );
  await until(async () => {
    const r = await http(hp, '/readyz');
    return r.status === 200 && JSON.parse(r.body).pools.main.ready === 2;
  }, { what: 'both workers ready', timeoutMs: 30_000, intervalMs: 50 });
  let sending = true;
  let sent = 0;
  const failed = [];
  const client = (async () => {
    while (sending) {
      const r = await infer(lp, sent++);
      if (r.status !== 200) failed.push(r);
    }
  })();
  writeFileSync(join(dir, 'src', 'model.py'), 'VERSION = 2\n');
  await until(() => c.records().filter((r) => r.event === 'ready').length >= 4, { what: 'both successors ready', timeoutMs: 40_000 });
  await sleep(300);
  sending = false;
  await client;
  assert.deepEqual(failed, [], `${failed.length} of ${sent} requests failed`);
  assert.ok(sent > 10, `requests kept flowing (${sent})`);
  const w = watchRecords(c);
  assert.equal(w.length, 1, JSON.stringify(w));
  assert.equal(w[0].file, join(dir, 'src', 'model.py'));
  // One at a time: the second worker is stopped only after the first one's successor is ready.
  const recs = c.records();
  const stops = recs.map((r, i) => [r, i]).filter(([r]) => r.event === 'exit' && r.reason === 'rolling').map(([, i]) => i);
  const readies = recs.map((r, i) => [r, i]).filter(([r]) => r.event === 'ready').map(([, i]) => i);
  assert.equal(stops.length, 2);
  assert.ok(readies[2] < stops[1], 'the first successor was ready before the second worker went');
  await c.kill('SIGTERM');
  await c.exited;
});

test('changes under .git or node_modules, to *.pyc, or matching --watch-ignore restart nothing', { timeout: 30_000 }, async () => {
  const dir = project();
  const c = runCorral(['--watch', dir, '--watch-ignore', 'logs/**,*.tmp', '--', 'sh', '-c', 'echo up; exec sleep 60']);
  await c.waitFor(/up/);
  await sleep(300); // the watch is set up after the spawn
  writeFileSync(join(dir, '.git', 'index'), 'x');
  writeFileSync(join(dir, 'node_modules', 'dep.js'), 'x');
  writeFileSync(join(dir, 'src', 'model.pyc'), 'x');
  writeFileSync(join(dir, 'logs', 'run.log'), 'x');
  writeFileSync(join(dir, 'scratch.tmp'), 'x');
  await sleep(1200);
  assert.deepEqual(watchRecords(c), []);
  assert.ok(!c.records().some((r) => r.event === 'exit'), 'no worker was restarted');
  // A real change still counts (the watch was alive all along).
  writeFileSync(join(dir, 'src', 'model.py'), 'VERSION = 3\n');
  await until(() => watchRecords(c).length === 1, { what: 'the watch record' });
  await c.kill('SIGTERM');
  await c.exited;
});

test('an editor-style write-and-rename is one restart; 20 changes within 200 ms are one', { timeout: 30_000 }, async () => {
  const dir = project();
  const c = runCorral(['--watch', dir, '--', 'sh', '-c', 'echo up; exec sleep 60']);
  await c.waitFor(/up/);
  await sleep(300);
  const target = join(dir, 'src', 'model.py');
  writeFileSync(`${target}.tmp-save`, 'VERSION = 4\n');
  renameSync(`${target}.tmp-save`, target);
  await until(() => watchRecords(c).length === 1, { what: 'one watch record' });
  await until(() => c.records().filter((r) => r.event === 'spawn').length === 2, { what: 'the successor' });
  await sleep(1000);
  assert.equal(watchRecords(c).length, 1);
  assert.equal(c.records().filter((r) => r.event === 'spawn').length, 2, 'exactly one restart');
  for (let i = 0; i < 20; i++) {
    writeFileSync(join(dir, 'src', `f${i}.py`), `x = ${i}\n`);
    await sleep(8);
  }
  await until(() => watchRecords(c).length === 2, { what: 'the second watch record' });
  await sleep(1000);
  assert.equal(watchRecords(c).length, 2, '20 changes in 200 ms: one restart');
  assert.equal(c.records().filter((r) => r.event === 'spawn').length, 3);
  assert.ok(c.records().filter((r) => r.event === 'restart').every((r) => r.reason === 'rolling'));
  await c.kill('SIGTERM');
  await c.exited;
});

test('SIGHUP with a config whose watch changed: the new paths are watched, the old ones no longer', { timeout: 60_000 }, async () => {
  const a = project();
  const b = project();
  const conf = join(mkdtempSync(join(tmpdir(), 'corral-watch-conf-')), 'corral.toml');
  const write = (dir) => writeFileSync(conf, `[pools.main]\ncommand = ["sleep", "1000"]\nwatch = [${JSON.stringify(dir)}]\n`);
  write(a);
  const c = runCorral(['--http', 'off', '--config', conf]);
  await until(() => c.records().some((r) => r.event === 'ready'), { what: 'ready', timeoutMs: 15_000 });
  writeFileSync(join(a, 'src', 'model.py'), 'VERSION = 2\n');
  await until(() => watchRecords(c).length === 1, { what: 'the change under the first path', timeoutMs: 10_000 });
  await until(() => c.records().filter((r) => r.event === 'ready').length >= 2, { what: 'the restart', timeoutMs: 15_000 });
  write(b);
  const spawned = c.records().filter((r) => r.event === 'spawn').length;
  await c.kill('SIGHUP');
  await until(() => c.records().filter((r) => r.event === 'spawn').length > spawned && c.records().filter((r) => r.event === 'ready').length >= 3, { what: 'the reload', timeoutMs: 15_000 });
  writeFileSync(join(a, 'src', 'model.py'), 'VERSION = 3\n');
  await sleep(1500); // the debounce is 300 ms: a watch of the old path would have fired
  assert.equal(watchRecords(c).length, 1, 'the old path is no longer watched');
  writeFileSync(join(b, 'src', 'model.py'), 'VERSION = 2\n');
  await until(() => watchRecords(c).length === 2, { what: 'the change under the new path', timeoutMs: 10_000 });
  assert.equal(watchRecords(c)[1].file, join(b, 'src', 'model.py'));
  await c.kill('SIGTERM');
  await c.exited;
});
