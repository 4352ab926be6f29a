// corral as a real PID 1 (unshare --pid --fork --mount-proc): exit codes pass through
// exactly as tini's do.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCorral, runToEnd, killAll } from '../helpers.js';

afterEach(killAll);

test('runs as PID 1 in its namespace', async () => {
  const r = await runToEnd(['--', 'sh', '-c', 'echo "ppid=$PPID pid=$$ pgid=$(ps -o pgid= -p $$ | tr -d " ")"'], { pid1: true });
  assert.equal(r.code, 0, r.stderr);
  const m = /ppid=(\d+) pid=(\d+) pgid=(\d+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.equal(m[1], '1', 'the worker is a child of PID 1 (corral)');
  assert.equal(m[2], m[3], 'the worker leads its own process group');
});

for (const code of [0, 1, 3, 255]) {
  test(`exit code ${code} passes through`, async () => {
    const r = await runToEnd(['--', 'sh', '-c', `exit ${code}`], { pid1: true });
    assert.equal(r.code, code, r.stderr);
  });
}

test('a worker killed by SIGTERM gives 143, by SIGKILL 137', async () => {
  const term = await runToEnd(['--', 'sh', '-c', 'kill -TERM $$'], { pid1: true });
  assert.equal(term.code, 143, term.stderr);
  const kill = await runToEnd(['--', 'sh', '-c', 'kill -KILL $$'], { pid1: true });
  assert.equal(kill.code, 137, kill.stderr);
});

function assertOneLine(stderr, re) {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `exactly one line, got:\n${stderr}`);
  assert.match(lines[0], /^corral: /);
  assert.match(lines[0], re);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}

test('command not found gives 127 and one line', async () => {
  const r = await runToEnd(['--', 'no-such-command-here'], { pid1: true });
  assert.equal(r.code, 127);
  assertOneLine(r.stderr, /command not found: no-such-command-here/);
});

test('a file that is not executable gives 126 and one line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-'));
  const file = join(dir, 'script.sh');
  writeFileSync(file, '#!/bin/sh\necho hi\n');
  chmodSync(file, 0o644);
  const r = await runToEnd(['--', file], { pid1: true });
  assert.equal(r.code, 126);
  assertOneLine(r.stderr, /not executable/);
});

test('an unknown flag gives 2, one line, no stack trace, nothing spawned', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-'));
  const marker = join(dir, 'ran');
  const r = await runToEnd(['--bogus-flag', '--', 'touch', marker], { pid1: true });
  assert.equal(r.code, 2);
  assertOneLine(r.stderr, /unknown option --bogus-flag/i);
  const again = await runToEnd(['--grace', 'soon', '--', 'touch', marker]);
  assert.equal(again.code, 2);
  assertOneLine(again.stderr, /--grace: expected a duration/);
  const { existsSync } = await import('node:fs');
  assert.equal(existsSync(marker), false, 'nothing was spawned');
});

test('no command gives 2 with a hint', async () => {
  const r = await runToEnd([]);
  assert.equal(r.code, 2);
  assertOneLine(r.stderr, /no command given.*corral -- python serve.py/);
});

test('the worker sees CORRAL_* and corral keeps its own env', async () => {
  const c = runCorral(['--', 'sh', '-c', 'echo "$CORRAL_POOL/$CORRAL_WORKER/$CORRAL_POOL_SIZE/$FOO"'], { pid1: true, env: { FOO: 'bar' } });
  const r = await c.exited;
  assert.equal(r.stdout.trim(), 'main/0/1/bar');
});
