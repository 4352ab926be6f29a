// Every kind of line the log path treats differently, cut at random write boundaries: plain
// ASCII lines take the addon's copy path, the others the framer, and the records must be the
// same as one path alone would give: each line exactly once, in order, msg byte-exact.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { fixture, killAll, runCorral } from '../helpers.js';

afterEach(killAll);

for (const seed of [1, 2, 3]) {
  test(`mixed lines, random write sizes (seed ${seed}): every line once, in order, byte-exact; parts rejoin`, { timeout: 60_000 }, async () => {
    const expectedFile = join(mkdtempSync(join(tmpdir(), 'corral-mixed-')), 'lines.json');
    const c = runCorral(['--', 'python3', fixture('mixed.py'), String(seed), '12000', expectedFile]);
    const end = await c.exited;
    assert.equal(end.code, 0, end.stderr.slice(-2000));
    const expected = JSON.parse(readFileSync(expectedFile, 'utf8'));
    const records = c.records().filter((r) => r.stream === 'stdout');
    const got = [];
    for (const r of records) {
      assert.equal(r.level, 30, JSON.stringify(r).slice(0, 200));
      assert.equal(r.pool, 'main');
      if (r.part > 1) got[got.length - 1] += r.msg;
      else got.push(r.msg);
    }
    assert.equal(got.length, expected.length);
    for (let i = 0; i < expected.length; i++) {
      if (got[i] !== expected[i]) assert.fail(`line ${i}: got ${JSON.stringify(got[i]).slice(0, 120)}, want ${JSON.stringify(expected[i]).slice(0, 120)}`);
    }
    // The exit record's last lines are the last 20 lines (parts of a long line are separate).
    const exit = c.records().find((r) => r.event === 'exit' && r.pool === 'main');
    assert.equal(exit.last_lines.length, 20);
    assert.equal(exit.last_lines.at(-1), records.at(-1).msg);
  });
}

test('tracebacks through the whole log path: a chained traceback and an exception group are one level-50 record each', async () => {
  const code = [
    'import sys',
    'print("before", flush=True)',
    'try:',
    '    try:',
    '        1 / 0',
    '    except ZeroDivisionError as e:',
    '        raise ValueError("bad") from e',
    'except ValueError:',
    '    import traceback; traceback.print_exc(); sys.stderr.flush()',
    'print("between", flush=True)',
    'raise ExceptionGroup("eg", [ValueError(1), TypeError(2)])',
  ].join('\n');
  const c = runCorral(['--', 'python3', '-c', code]);
  const end = await c.exited;
  assert.equal(end.code, 1);
  const errs = c.records().filter((r) => r.stream === 'stderr');
  assert.equal(errs.length, 2, JSON.stringify(errs, null, 1));
  assert.ok(errs.every((r) => r.level === 50));
  assert.match(errs[0].msg, /^Traceback \(most recent call last\):\n[\s\S]*ZeroDivisionError[\s\S]*direct cause[\s\S]*ValueError: bad$/);
  assert.match(errs[1].msg, /^ {2}\+ Exception Group Traceback \(most recent call last\):\n[\s\S]*ExceptionGroup: eg \(2 sub-exceptions\)[\s\S]*TypeError: 2\n {4}\+-+$/);
  assert.deepEqual(c.records().filter((r) => r.stream === 'stdout').map((r) => r.msg), ['before', 'between']);
});

test('a traceback that pauses past the grouping timeout: its rest is still a traceback record, and the next line is not swallowed', async () => {
  // The worker pauses mid-traceback for longer than the grouper's 100 ms: the first part goes
  // out on the timeout; the frames and exception line after the pause are one level-50 record
  // (they take the framer's path, not the fast path), and the JSON line after it is its own.
  const code = [
    'import sys, time',
    'sys.stdout.write("Traceback (most recent call last):\\n  File \\"x\\", line 1\\n"); sys.stdout.flush()',
    'time.sleep(0.4)',
    'sys.stdout.write("  File \\"y\\", line 2\\nValueError: boom\\n{\\"a\\": 1}\\n"); sys.stdout.flush()',
  ].join('\n');
  const c = runCorral(['--', 'python3', '-c', code]);
  assert.equal((await c.exited).code, 0);
  const out = c.records().filter((r) => r.stream === 'stdout');
  assert.deepEqual(out.map((r) => [r.level, r.msg]), [
    [50, 'Traceback (most recent call last):\n  File "x", line 1'],
    [50, '  File "y", line 2\nValueError: boom'],
    [30, undefined],
  ]);
  assert.equal(out[2].a, 1);
});
