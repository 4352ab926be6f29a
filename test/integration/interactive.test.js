// Interactive use: with one worker and a TTY on stdin, the worker's process group is
// the terminal's foreground group, so Ctrl-C reaches the worker and not corral.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pty from 'node-pty';
import { corralBin, fixture, until } from '../helpers.js';

test('the worker gets the terminal; Ctrl-C reaches it, not corral', async () => {
  const t = pty.spawn(process.execPath, [corralBin, '--log-format', 'json', '--', 'python3', fixture('interactive.py')], {
    cols: 200,
    rows: 24,
    env: { ...process.env },
  });
  let out = '';
  t.onData((d) => (out += d));
  const exited = new Promise((resolve) => t.onExit(resolve));
  try {
    await until(() => /foreground=\w+/.test(out), { what: 'the worker to report', timeoutMs: 10_000 });
    assert.match(out, /foreground=True leader=True session_leader=False/, out);
    t.write('\x03');
    const { exitCode } = await exited;
    assert.match(out, /got SIGINT/);
    assert.equal(exitCode, 42, 'corral exited with the worker\'s code');
    assert.doesNotMatch(out, /"event":"signal","signal":"SIGINT"/, 'corral itself never saw SIGINT');
  } finally {
    try {
      t.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});
