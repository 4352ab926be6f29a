// Reaping: a 5,000-orphan storm leaves no zombie, as PID 1 and as a child subreaper,
// and the reaper never steals the exit status of a child libuv or node-pty waits for.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { afterEach, test } from 'node:test';
import { fixture, killAll, runCorral, root } from '../helpers.js';

afterEach(killAll);

const ORPHANS = 5000;
// The exactness check needs the storm to overlap the 230 exits, not its full size.
const HARNESS_ORPHANS = 2000;

for (const pid1 of [true, false]) {
  const mode = pid1 ? 'as PID 1' : 'as subreaper (not PID 1)';

  test(`corral reaps a ${ORPHANS}-orphan storm ${mode}`, { timeout: 300_000 }, async () => {
    const c = runCorral(['--', 'python3', fixture('storm.py'), String(ORPHANS)], { pid1 });
    const r = await c.exited;
    assert.equal(r.code, 0, `storm.py reported leftovers: ${r.stdout}\n${r.stderr.slice(-2000)}`);
    // storm.py prints one JSON object: corral merges its fields into the record.
    const result = c.records().find((x) => x.stream === 'stdout' && 'zombies' in x);
    assert.equal(result.adopted, ORPHANS, 'every orphan was re-parented to corral');
    assert.equal(result.zombies, 0);
    assert.equal(result.alive, 0);
  });

  test(`200 child_process and 30 node-pty exits stay exact during a ${HARNESS_ORPHANS}-orphan storm ${mode}`, { timeout: 300_000 }, () => {
    const harness = fixture('reaper-harness.mjs');
    const cmd = pid1 ? ['unshare', '--pid', '--fork', '--mount-proc', process.execPath, harness] : [process.execPath, harness];
    const r = spawnSync(cmd[0], [...cmd.slice(1), String(HARNESS_ORPHANS)], { cwd: root, encoding: 'utf8', timeout: 290_000 });
    assert.equal(r.status, 0, `harness failed: ${r.stdout}\n${r.stderr}`);
    const s = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.equal(s.pid1, pid1);
    assert.equal(s.cp_ok, 200);
    assert.equal(s.pty_ok, 30);
    assert.equal(s.reaped_orphans, HARNESS_ORPHANS);
    assert.equal(s.zombies, 0);
    assert.equal(s.storm.zombies, 0);
  });
}

test('negative control: without the subreaper, orphans are not ours to reap', { timeout: 60_000 }, () => {
  const r = spawnSync(process.execPath, [fixture('reaper-harness.mjs'), '200', '--no-subreaper'], { cwd: root, encoding: 'utf8', timeout: 50_000 });
  const s = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.equal(s.reaped_orphans, 0, 'nothing was adopted, so nothing was reaped by us');
  assert.equal(s.storm.adopted, 230, 'only our own 230 children were ever ours');
  assert.equal(s.cp_ok, 200, 'our own children still report exactly');
});
