// The sampler's pace and what a walk of an idle tree reads: an unchanged tree is seen as
// unchanged (one read of its stat), and rounds come later while every tree stays so.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { IDLE_SAMPLE_MS, SAMPLE_MS, nextSampleMs } from '../../dist/supervisor/sampler.js';
import { treeUsage } from '../../dist/process/usage.js';
import { heldCount } from '../../dist/process/procfs.js';

test('pace: 2 s, then 4 and 8 s while nothing changes; a costly walk sets its own pace', () => {
  assert.equal(SAMPLE_MS, 2000);
  assert.deepEqual([0, 1, 2, 3, 10].map((q) => nextSampleMs(0, q)), [2000, 4000, 8000, 8000, 8000]);
  assert.equal(IDLE_SAMPLE_MS, 8000);
  assert.equal(nextSampleMs(100, 0), 5000, '50 times what the round cost');
  assert.equal(nextSampleMs(1000, 3), 50_000);
});

test('an idle tree reads as unchanged, a new child or a gone process as changed', async () => {
  const sh = spawn('sh', ['-c', 'read x; sleep 30 & echo started; wait'], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
  try {
    const first = await treeUsage(sh.pid);
    assert.equal(first.changed, true, 'first sight');
    const again = await treeUsage(sh.pid);
    assert.equal(again.changed, false, 'sh waits in read: nothing ran');
    assert.ok(heldCount() >= 1, 'the worker\'s stat stays open between walks');
    const seen = new Promise((resolve) => sh.stdout.once('data', resolve));
    sh.stdin.write('go\n');
    await seen;
    const forked = await treeUsage(sh.pid);
    assert.equal(forked.changed, true, 'a new child');
    let settled = forked;
    for (let i = 0; i < 5 && settled.changed; i++) settled = await treeUsage(sh.pid);
    assert.equal(settled.changed, false, 'settles once sh and sleep wait');
    assert.ok(settled.rssBytes > first.rssBytes, 'the child is in the tree');
  } finally {
    process.kill(-sh.pid, 'SIGKILL'); // sh and its sleep
  }
  await new Promise((resolve) => sh.once('exit', resolve));
  assert.equal((await treeUsage(sh.pid)).changed, true, 'gone');
});
