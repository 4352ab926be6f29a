// Worker output becomes JSON records: lossless, in order per worker, one record per line.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { fixture, killAll, runCorral } from '../helpers.js';

afterEach(killAll);

function records(stderr) {
  return stderr
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

test('4 workers × 250,000 lines: each line exactly once, byte-exact, in order per worker', { timeout: 120_000 }, async () => {
  const c = runCorral(['--workers', '4', '--restart', 'never', '--', 'python3', fixture('lines.py'), '250000']);
  const r = await c.exited;
  assert.equal(r.code, 0);
  const pad = 'x'.repeat(80);
  const next = [0, 0, 0, 0];
  let count = 0;
  for (const line of r.stderr.split('\n')) {
    if (!line.includes('"stream":"stdout"')) continue;
    const rec = JSON.parse(line);
    const m = /^w(\d) (\d{8}) (x+)$/.exec(rec.msg);
    assert.ok(m, `unexpected line ${line}`);
    const w = Number(m[1]);
    assert.equal(rec.worker, w);
    assert.equal(Number(m[2]), next[w], `worker ${w} in order`);
    assert.equal(m[3], pad);
    next[w]++;
    count++;
  }
  assert.deepEqual(next, [250_000, 250_000, 250_000, 250_000]);
  assert.equal(count, 1_000_000);
});

test('record shape, CRLF, invalid UTF-8, ANSI stripped, final partial line, JSON merge and levels', async () => {
  const script = String.raw`
import sys, os
o = sys.stdout.buffer
o.write(b"plain\r\n")
o.write(b"bad \xff byte\n")
o.write(b"\x1b[31mred\x1b[0m\n")
o.write(b'{"message": "hello", "levelname": "WARNING", "time": 5, "extra": {"a": 1}}\n')
o.write(b'{"msg": "m", "level": "error"}\n')
o.write(b'{"msg": "py", "levelno": 40}\n')
o.write(b'{not json\n')
o.flush()
sys.stderr.write("on stderr\n")
sys.stderr.flush()
o.write(b"no newline at the end")
`;
  const c = runCorral(['--', 'python3', '-c', script]);
  const r = await c.exited;
  assert.equal(r.code, 0);
  const recs = records(r.stderr).filter((x) => x.stream);
  const msgs = recs.map((x) => x.msg);
  const plain = recs.find((x) => x.msg === 'plain');
  assert.deepEqual(Object.keys(plain), ['level', 'time', 'pool', 'worker', 'pid', 'stream', 'msg']);
  assert.equal(plain.level, 30);
  assert.equal(plain.pool, 'main');
  assert.equal(plain.worker, 0);
  assert.ok(msgs.includes('bad \ufffd byte'));
  assert.ok(msgs.includes('red'), 'ANSI stripped in json format');
  const hello = recs.find((x) => x.msg === 'hello');
  assert.equal(hello.level, 40);
  assert.equal(hello.worker_time, 5);
  assert.deepEqual(hello.extra, { a: 1 });
  assert.equal(typeof hello.time, 'number');
  assert.notEqual(hello.time, 5);
  assert.equal(recs.find((x) => x.msg === 'm').level, 50);
  assert.equal(recs.find((x) => x.msg === 'py').level, 50);
  assert.ok(msgs.includes('{not json'));
  const err = recs.find((x) => x.msg === 'on stderr');
  assert.equal(err.stream, 'stderr');
  assert.equal(err.level, 30, 'plain text is level 30 whatever the stream');
  assert.ok(msgs.includes('no newline at the end'));
});

test('a Python traceback is one level-50 record; the exit record carries the last 20 lines', async () => {
  const script = String.raw`
for i in range(25):
    print("line", i, flush=True)
def inner():
    raise ValueError("boom")
try:
    inner()
except ValueError as e:
    raise RuntimeError("wrapped") from e
`;
  const c = runCorral(['--', 'python3', '-c', script]);
  const r = await c.exited;
  assert.equal(r.code, 1);
  const recs = records(r.stderr);
  const tb = recs.filter((x) => x.stream === 'stderr');
  assert.equal(tb.length, 1, JSON.stringify(tb.map((x) => x.msg)));
  assert.equal(tb[0].level, 50);
  assert.match(tb[0].msg, /^Traceback \(most recent call last\):\n[^]*ValueError: boom\n\nThe above exception was the direct cause[^]*RuntimeError: wrapped$/);
  const exit = recs.find((x) => x.event === 'exit' && x.worker === 0);
  assert.equal(exit.last_lines.length, 20);
  assert.match(exit.last_lines.at(-1), /RuntimeError: wrapped$/);
  assert.equal(exit.last_lines[0], 'line 6');
  const lastWorkerLine = recs.findLastIndex((x) => x.stream);
  assert.ok(recs.indexOf(exit) > lastWorkerLine, 'the exit record comes after the worker\'s last line');
});

test('a 40,000-byte line arrives whole across parts', async () => {
  const c = runCorral(['--', 'python3', '-c', 'print("é" * 20000 + "|end")']);
  const r = await c.exited;
  const parts = records(r.stderr).filter((x) => x.stream === 'stdout');
  assert.deepEqual(parts.map((p) => p.part), [1, 2, 3]);
  assert.equal(parts.map((p) => p.msg).join(''), 'é'.repeat(20000) + '|end');
});

test('--feedback-file receives exactly the feedback records; without it they stay in the log', async () => {
  const { mkdtempSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const file = join(mkdtempSync(join(tmpdir(), 'corral-fb-')), 'feedback.jsonl');
  const script = 'import json\nprint("plain")\nprint(json.dumps({"kind": "feedback", "input": "q1", "output": "a1"}))\nprint(json.dumps({"kind": "other", "msg": "not feedback"}))\nprint(json.dumps({"kind": "feedback", "input": "q2", "rating": 5}))';
  const c = runCorral(['--feedback-file', file, '--', 'python3', '-c', script]);
  const r = await c.exited;
  assert.equal(r.code, 0);
  const fb = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(fb.map((x) => x.input), ['q1', 'q2']);
  assert.equal(fb[0].pool, 'main');
  assert.equal(fb[1].rating, 5);
  assert.ok(!r.stderr.includes('"kind":"feedback"'), 'feedback records are not in the log');
  assert.ok(records(r.stderr).some((x) => x.kind === 'other'));
  const again = await runCorral(['--', 'python3', '-c', script]).exited;
  assert.equal(records(again.stderr).filter((x) => x.kind === 'feedback').length, 2);
});

test('lines needing JSON escapes (quotes, backslashes, tabs, control characters) come through exactly', async () => {
  const lines = ['say "hi"', 'C:\\path\\to', 'a\tb', 'bell\u0007end', 'ünïcödé ✓ 𝄞', '"', '\\'];
  const script = `import sys\nfor l in ${JSON.stringify(lines)}:\n    sys.stdout.write(l + "\\n")`;
  const r = await runCorral(['--', 'python3', '-c', script]).exited;
  const msgs = records(r.stderr).filter((x) => x.stream === 'stdout').map((x) => x.msg);
  assert.deepEqual(msgs, lines);
});
