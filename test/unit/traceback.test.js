import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { TracebackGrouper } from '../../dist/logs/traceback.js';

// Verbatim CPython 3.11 output (traceback.print_exc()).
const SIMPLE = `Traceback (most recent call last):
  File "/app/serve.py", line 4, in <module>
    load()
  File "/app/serve.py", line 2, in load
    raise ValueError("boom")
ValueError: boom`;

const CAUSE = `Traceback (most recent call last):
  File "/tmp/tb.py", line 4, in <module>
    try: f()
         ^^^
  File "/tmp/tb.py", line 2, in f
    def f(): raise ValueError("boom")
             ^^^^^^^^^^^^^^^^^^^^^^^^
ValueError: boom

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/tmp/tb.py", line 5, in <module>
    except ValueError as e: raise KeyError("k") from e
                            ^^^^^^^^^^^^^^^^^^^^^^^^^^
KeyError: 'k'`;

const CONTEXT = `Traceback (most recent call last):
  File "/tmp/tb.py", line 9, in <module>
    try: f()
         ^^^
ValueError: boom

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/tmp/tb.py", line 10, in <module>
    except ValueError: 1/0
                       ~^~
ZeroDivisionError: division by zero`;

const GROUP = `  + Exception Group Traceback (most recent call last):
  |   File "/tmp/tb.py", line 14, in <module>
  |     raise ExceptionGroup("eg", [ValueError(1), TypeError(2)])
  | ExceptionGroup: eg (2 sub-exceptions)
  +-+---------------- 1 ----------------
    | ValueError: 1
    +---------------- 2 ----------------
    | TypeError: 2
    +------------------------------------`;

const INTO_GROUP = `Traceback (most recent call last):
  File "/tmp/tb.py", line 18, in <module>
    try: f()
         ^^^
ValueError: boom

During handling of the above exception, another exception occurred:

  + Exception Group Traceback (most recent call last):
  |   File "/tmp/tb.py", line 19, in <module>
  |     except ValueError: raise ExceptionGroup("eg", [ValueError(1)])
  |                        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  | ExceptionGroup: eg (1 sub-exception)
  +-+---------------- 1 ----------------
    | ValueError: 1
    +------------------------------------`;

/** A grouper on fake timers; `out` collects [text, level]. */
function grouper(opts = {}) {
  const out = [];
  const timers = { armed: 0, cleared: 0, pending: null };
  const g = new TracebackGrouper((text, level) => out.push([text, level]), {
    timeoutMs: 100,
    maxLines: 1000,
    maxBytes: 1 << 20,
    setTimer: (fn, ms) => {
      assert.equal(ms, opts.timeoutMs ?? 100);
      assert.equal(timers.pending, null, 'one timer at a time');
      timers.armed++;
      const t = { fn };
      timers.pending = t;
      return t;
    },
    clearTimer: (t) => {
      assert.equal(t, timers.pending);
      timers.cleared++;
      timers.pending = null;
    },
    ...opts,
  });
  const fire = () => {
    const t = timers.pending;
    assert.ok(t, 'a timer is armed');
    timers.pending = null;
    t.fn();
  };
  const push = (...texts) => {
    for (const text of texts) for (const line of text.split('\n')) g.push(line);
  };
  return { g, out, timers, fire, push };
}

test('plain lines pass straight through, synchronously, at level 30', () => {
  const { g, out, timers, push } = grouper();
  for (const line of ['hello', '', '  indented', 'Tokens: 5', '\tx', 'Traceback', 'Traceback (most recent call last): x', '  Traceback (most recent call last):', 'During handling of the above exception, another exception occurred:']) {
    const before = out.length;
    push(line);
    assert.deepEqual(out.slice(before), [[line, 30]], line);
    assert.equal(g.holding, false);
  }
  assert.equal(timers.armed, 0);
});

test('a traceback is one level-50 record, emitted when the next line shows it has ended', () => {
  const { g, out, timers, push } = grouper();
  push('starting', SIMPLE);
  assert.deepEqual(out, [['starting', 30]]);
  assert.equal(g.holding, true);
  push('retrying in 1s');
  assert.deepEqual(out, [
    ['starting', 30],
    [SIMPLE, 50],
    ['retrying in 1s', 30],
  ]);
  assert.equal(g.holding, false);
  assert.deepEqual([timers.armed, timers.cleared], [1, 1]);
});

test('chained exceptions, both markers, are one record', () => {
  for (const tb of [CAUSE, CONTEXT]) {
    const { out, push, g } = grouper();
    push(tb, 'next');
    assert.deepEqual(out, [
      [tb, 50],
      ['next', 30],
    ]);
    assert.equal(g.holding, false);
  }
});

test('exception groups: a top-level group and a chain into a group', () => {
  for (const tb of [GROUP, INTO_GROUP]) {
    const { out, push } = grouper();
    push(tb, 'INFO: server restarted');
    assert.deepEqual(out, [
      [tb, 50],
      ['INFO: server restarted', 30],
    ]);
  }
});

test('a group is chained into a traceback too', () => {
  const tb = `${GROUP}\n\nThe above exception was the direct cause of the following exception:\n\n${SIMPLE}`;
  const { out, push } = grouper();
  push(tb, 'x');
  assert.deepEqual(out, [
    [tb, 50],
    ['x', 30],
  ]);
});

test('a blank line after a traceback that introduces no chain is its own plain record', () => {
  const { out, push, g } = grouper();
  push(SIMPLE, '');
  assert.equal(g.holding, true, 'the blank might introduce a chain');
  assert.deepEqual(out, []);
  push('serving on :8000');
  assert.deepEqual(out, [
    [SIMPLE, 50],
    ['', 30],
    ['serving on :8000', 30],
  ]);
  // Two blanks, and a marker that is not followed by a blank line.
  const b = grouper();
  b.push(SIMPLE, '', '', 'x');
  assert.deepEqual(b.out, [
    [SIMPLE, 50],
    ['', 30],
    ['', 30],
    ['x', 30],
  ]);
  const c = grouper();
  c.push(SIMPLE, '', 'During handling of the above exception, another exception occurred:', 'x');
  assert.deepEqual(c.out, [
    [`${SIMPLE}\n\nDuring handling of the above exception, another exception occurred:`, 50],
    ['x', 30],
  ]);
});

test('tracebacks back to back, and interleaved with plain lines', () => {
  const { out, push } = grouper();
  push('a', SIMPLE, SIMPLE, 'b', GROUP, SIMPLE, '', 'c', CONTEXT);
  assert.equal(out.length, 8, 'all but the last traceback are out');
  push('d');
  assert.deepEqual(out, [
    ['a', 30],
    [SIMPLE, 50],
    [SIMPLE, 50],
    ['b', 30],
    [GROUP, 50],
    [SIMPLE, 50],
    ['', 30],
    ['c', 30],
    [CONTEXT, 50],
    ['d', 30],
  ]);
});

test('tab-indented frames and CRLF headers', () => {
  const { out, push } = grouper();
  push('Traceback (most recent call last):\r', '\tFile "x.py", line 1\r', 'RuntimeError: x\r', 'y');
  assert.deepEqual(out, [
    ['Traceback (most recent call last):\r\n\tFile "x.py", line 1\r\nRuntimeError: x\r', 50],
    ['y', 30],
  ]);
});

test('timeout: nothing is held longer than timeoutMs', () => {
  const { g, out, timers, fire, push } = grouper();
  push(SIMPLE);
  assert.equal(timers.armed, 1);
  fire();
  assert.deepEqual(out, [[SIMPLE, 50]]);
  assert.equal(g.holding, false);
  push('later');
  assert.deepEqual(out.at(-1), ['later', 30]);

  // Holding a blank line that might introduce a chain.
  const b = grouper();
  b.push(CONTEXT, '');
  b.fire();
  assert.deepEqual(b.out, [
    [CONTEXT, 50],
    ['', 30],
  ]);
  assert.equal(b.g.holding, false);
  // Holding a chain marker: what follows the timeout starts over.
  const c = grouper();
  c.push(SIMPLE, '', 'During handling of the above exception, another exception occurred:', '');
  c.fire();
  c.push(SIMPLE, 'z');
  assert.deepEqual(c.out, [
    [`${SIMPLE}\n\nDuring handling of the above exception, another exception occurred:\n`, 50],
    [SIMPLE, 50],
    ['z', 30],
  ]);
  assert.deepEqual([c.timers.armed, c.timers.cleared], [2, 1]);
});

test('timeout in the middle of a block: the rest is still a level-50 record', () => {
  const { g, out, fire, push } = grouper();
  const lines = SIMPLE.split('\n');
  push(...lines.slice(0, 3));
  fire();
  assert.deepEqual(out, [[lines.slice(0, 3).join('\n'), 50]]);
  assert.equal(g.holding, false);
  push(...lines.slice(3), 'next');
  assert.deepEqual(out.slice(1), [
    [lines.slice(3).join('\n'), 50],
    ['next', 30],
  ]);
  // A group's remaining lines likewise; the first non-indented line after it is plain.
  const h = grouper();
  const glines = GROUP.split('\n');
  h.push(...glines.slice(0, 2));
  h.fire();
  h.push(...glines.slice(2), 'after');
  assert.deepEqual(h.out, [
    [glines.slice(0, 2).join('\n'), 50],
    [glines.slice(2).join('\n'), 50],
    ['after', 30],
  ]);
});

test('maxLines: a group is emitted as it is, and the rest is plain until the next header', () => {
  const { g, out, push } = grouper({ maxLines: 3 });
  const lines = SIMPLE.split('\n');
  push(...lines);
  assert.deepEqual(out, [[lines.slice(0, 3).join('\n'), 50], ...lines.slice(3).map((l) => [l, 30])]);
  assert.equal(g.holding, false);
  push(SIMPLE.split('\n').slice(0, 2).join('\n'));
  assert.equal(g.holding, true, 'the next header starts a group again');
  // The bound holds in a chain too.
  const c = grouper({ maxLines: 9 });
  c.push(CONTEXT);
  assert.equal(c.out[0][0].split('\n').length, 9);
  assert.equal(c.out[0][1], 50);
});

test('maxBytes: counted in UTF-8 with the joins', () => {
  const lines = ['Traceback (most recent call last):', '  File "é.py", line 1', '    x = "日本語"', 'ValueError: 日本語'];
  const upTo = (n) => Buffer.byteLength(lines.slice(0, n).join('\n'));
  const { out, push } = grouper({ maxBytes: upTo(3) });
  push(...lines);
  assert.deepEqual(out, [
    [lines.slice(0, 3).join('\n'), 50],
    [lines[3], 30],
  ]);
  const under = grouper({ maxBytes: upTo(4) + 1 });
  under.push(...lines, 'x');
  assert.deepEqual(under.out[0], [lines.join('\n'), 50]);
});

test('flush emits whatever is held, in order, and leaves the grouper idle', () => {
  const { g, out, timers, push } = grouper();
  g.flush();
  assert.deepEqual(out, []);
  push('a', SIMPLE, '');
  g.flush();
  assert.deepEqual(out, [
    ['a', 30],
    [SIMPLE, 50],
    ['', 30],
  ]);
  assert.equal(g.holding, false);
  assert.equal(timers.pending, null, 'the timer is cleared');
  push('Traceback (most recent call last):', '  File "x"');
  g.flush();
  push('  File "y"');
  assert.deepEqual(out.slice(3), [
    ['Traceback (most recent call last):\n  File "x"', 50],
    ['  File "y"', 30],
  ]);
});

test('the default timer emits on its own', async () => {
  let done;
  const emitted = new Promise((resolve) => (done = resolve));
  const out = [];
  const g = new TracebackGrouper(
    (text, level) => {
      out.push([text, level]);
      done();
    },
    { timeoutMs: 5, maxLines: 100, maxBytes: 65536 },
  );
  for (const line of SIMPLE.split('\n')) g.push(line);
  await emitted;
  assert.deepEqual(out, [[SIMPLE, 50]]);
});

test('a held traceback keeps no process alive (the default timer is unref’d)', () => {
  const url = new URL('../../dist/logs/traceback.js', import.meta.url).href;
  const script = `import { TracebackGrouper } from ${JSON.stringify(url)};
    const g = new TracebackGrouper(() => {}, { timeoutMs: 60000, maxLines: 10, maxBytes: 1000 });
    g.push('Traceback (most recent call last):');
    if (!g.holding) process.exit(3);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000, encoding: 'utf8' });
  assert.equal(r.error, undefined, 'exited on its own, long before the 60 s timer');
  assert.equal(r.status, 0, r.stderr);
});
