// --pty: the worker sees a terminal; its output arrives as "stream":"pty"; a line redrawn
// with \r is emitted at most once a second and once when finished; exit codes are exact.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { fixture, killAll, runCorral } from '../helpers.js';

afterEach(killAll);

test('the worker sees a TTY and its exit code comes through exactly', async () => {
  const c = runCorral(['--pty', '--', 'python3', '-c', 'import os, sys; print("isatty", os.isatty(1), os.isatty(2)); sys.exit(7)']);
  const r = await c.exited;
  assert.equal(r.code, 7, r.stderr);
  const rec = c.records().find((x) => x.stream === 'pty' && /isatty/.test(x.msg));
  assert.equal(rec.msg, 'isatty True True');
  const exit = c.records().find((x) => x.event === 'exit' && x.worker === 0);
  assert.equal(exit.code, 7);
});

test('a signal death under --pty gives 128+signal', async () => {
  const r = await runCorral(['--pty', '--', 'sh', '-c', 'kill -TERM $$']).exited;
  assert.equal(r.code, 143);
});

test('a progress bar redrawn with \\r is emitted at most once a second, and once finished', async () => {
  // 30 redraws over ~1.5 s, then the final state and a newline.
  const script = 'import sys, time\nfor i in range(30):\n    sys.stdout.write(f"\\rprogress {i:02d}/30"); sys.stdout.flush(); time.sleep(0.05)\nsys.stdout.write("\\rprogress done\\n"); sys.stdout.flush()\nprint("after")';
  const c = runCorral(['--pty', '--', 'python3', '-c', script]);
  const r = await c.exited;
  assert.equal(r.code, 0);
  const recs = c.records().filter((x) => x.stream === 'pty');
  const msgs = recs.map((x) => x.msg);
  const progress = recs.filter((x) => x.msg.startsWith('progress'));
  // At most one redraw a second while it lasts (however slow the machine), plus the final one.
  const spanS = (progress.at(-1).time - progress[0].time) / 1000;
  assert.ok(progress.length >= 2 && progress.length <= Math.floor(spanS) + 2, `${progress.length} records over ${spanS} s: ${JSON.stringify(msgs)}`);
  assert.equal(progress.at(-1).msg, 'progress done');
  assert.equal(msgs.at(-1), 'after');
});

test('SIGTERM reaches a pty worker\'s process group; pools of pty workers stop cleanly', async () => {
  const c = runCorral(['--pty', '--workers', '2', '--', 'python3', fixture('signals.py')]);
  await c.waitFor(/(ready[^\n]*\n[^]*){2}/);
  await c.kill('SIGTERM');
  const r = await c.exited;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(c.out.stdout.match(/signal SIGTERM/g)?.length, 2);
});
