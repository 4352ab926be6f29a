// Interactive use: with one worker and a TTY on stdin, the worker's process group is
// the terminal's foreground group, so Ctrl-C reaches the worker and not corral.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pty from 'node-pty';
import { corralBin, fixture, until } from '../helpers.js';

test('the worker gets the terminal; Ctrl-C reaches it, not corral', async () => {
  const t = pty.spawn(process.execPath, [corralBin, '--http', 'off', '--log-format', 'json', '--', 'python3', fixture('interactive.py')], {
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

test('`corral -- bash` on a terminal: the prompt and nothing of corral\'s on the screen; exit 7 gives 7', async () => {
  const t = pty.spawn(process.execPath, [corralBin, '--http', 'off', '--', 'bash', '--norc', '--noprofile', '-i'], {
    cols: 120,
    rows: 24,
    env: { ...process.env, PS1: 'PROMPT$ ', CORRAL_LOG_FORMAT: '', CORRAL_LOG_LEVEL: '' },
  });
  let screen = '';
  t.onData((d) => (screen += d));
  const exited = new Promise((resolve) => t.onExit(resolve));
  try {
    await until(() => screen.includes('PROMPT$ '), { what: 'the prompt', timeoutMs: 10_000 });
    t.write('echo hi-$((6*7))\r');
    await until(() => screen.includes('hi-42'), { what: 'the echo' });
    t.write('exit 7\r');
    const { exitCode } = await exited;
    assert.equal(exitCode, 7);
    assert.doesNotMatch(screen, /corral \||"event"|spawned main|main\.0/, `corral printed on the terminal:\n${screen}`);
  } finally {
    try {
      t.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

test('with --log-level given, interactive use prints corral\'s records as asked', async () => {
  const t = pty.spawn(process.execPath, [corralBin, '--http', 'off', '--log-level', 'info', '--', 'sh', '-c', 'echo worker-says-hi'], { cols: 120, rows: 24, env: { ...process.env } });
  let screen = '';
  t.onData((d) => (screen += d));
  await new Promise((resolve) => t.onExit(resolve));
  assert.match(screen, /worker-says-hi/);
  assert.match(screen, /spawned main\.0/);
});
