import assert from 'node:assert/strict';
import { test } from 'node:test';
import { levelOf, mergeJson, stripAnsi } from '../../dist/logs/lines.js';

test('levelOf: names, case-insensitive, numbers and Python levelno', () => {
  const names = { trace: 10, debug: 20, info: 30, warn: 40, warning: 40, error: 50, critical: 60, fatal: 60 };
  for (const [name, n] of Object.entries(names)) {
    for (const s of [name, name.toUpperCase(), name[0].toUpperCase() + name.slice(1)]) {
      assert.equal(levelOf({ level: s }), n, `level ${s}`);
      assert.equal(levelOf({ levelname: s }), n, `levelname ${s}`);
    }
  }
  for (const n of [10, 20, 30, 35, 40, 50, 60]) assert.equal(levelOf({ level: n }), n, `pino ${n}`);
  const levelno = { 10: 20, 15: 20, 20: 30, 25: 30, 30: 40, 39: 40, 40: 50, 49.9: 50, 50: 60, 55: 60, 5: 10 };
  for (const [no, n] of Object.entries(levelno)) assert.equal(levelOf({ levelno: Number(no) }), n, `levelno ${no}`);
  for (const unknown of [{}, { level: 'verbose' }, { level: '30' }, { level: null }, { level: true }, { levelno: 0 }, { levelno: -10 }, { levelno: '20' }, { levelname: 50 }, { level: Infinity }, { severity: 'ERROR' }])
    assert.equal(levelOf(unknown), undefined, JSON.stringify(unknown));
});

test('levelOf: level > levelname > levelno; a value naming no level falls through', () => {
  assert.equal(levelOf({ levelno: 40, levelname: 'INFO', level: 'debug' }), 20);
  assert.equal(levelOf({ levelno: 40, level: 60 }), 60);
  assert.equal(levelOf({ levelno: 40, levelname: 'INFO' }), 30);
  assert.equal(levelOf({ levelname: 'nope', levelno: 40 }), 50);
  assert.equal(levelOf({ level: 'nope', levelname: 'WARNING' }), 40);
});

/** The record a caller builds around the body, parsed back. */
function record(line) {
  const m = mergeJson(line);
  assert.ok(m, line);
  return { ...m, rec: JSON.parse(`{"level":${m.level ?? 30},"time":1,"pool":"main","worker":0,"pid":9,"stream":"stdout"${m.body}}`) };
}

test('mergeJson: message becomes msg, level is consumed, kind is reported', () => {
  const m = mergeJson('{"message":"loaded","level":"WARNING","kind":"x"}');
  assert.deepEqual(m, { level: 40, body: ',"msg":"loaded","kind":"x"', kind: 'x' });
  // With a msg of its own, message stays message.
  assert.equal(mergeJson('{"msg":"a","message":"b"}').body, ',"msg":"a","message":"b"');
  assert.equal(mergeJson('{"message":"b","msg":"a"}').body, ',"message":"b","msg":"a"');
  // A msg that is not a string is kept as it is.
  assert.equal(mergeJson('{"msg":{"n":1}}').body, ',"msg":{"n":1}');
  assert.equal(mergeJson('{"message":42}').body, ',"msg":42');
  // levelname and levelno are the worker's fields, kept; only level is corral's.
  assert.deepEqual(mergeJson('{"levelname":"ERROR","levelno":40,"msg":"x"}'), { level: 50, body: ',"levelname":"ERROR","levelno":40,"msg":"x"', kind: undefined });
  assert.equal(mergeJson('{"msg":"x"}').level, undefined);
  assert.equal(mergeJson('{"kind":"feedback","input":"q"}').kind, 'feedback');
  assert.equal(mergeJson('{"kind":3}').kind, undefined);
});

test("mergeJson: corral's own keys from the worker are kept as worker_<key>", () => {
  const { rec } = record('{"time":"2024-01-01T00:00:00Z","pool":"p","worker":"w","pid":1,"stream":"s","msg":"m"}');
  assert.deepEqual(rec, {
    level: 30,
    time: 1,
    pool: 'main',
    worker: 0,
    pid: 9,
    stream: 'stdout',
    worker_time: '2024-01-01T00:00:00Z',
    worker_pool: 'p',
    worker_worker: 'w',
    worker_pid: 1,
    worker_stream: 's',
    msg: 'm',
  });
  // A worker_<key> of its own is not overwritten: the clashing value moves one level further.
  assert.equal(mergeJson('{"time":1,"worker_time":2}').body, ',"worker_worker_time":1,"worker_time":2');
  // level is consumed, never renamed.
  assert.equal(mergeJson('{"level":"info","a":1}').body, ',"a":1');
  assert.equal(mergeJson('{"level":"whatever","a":1}').body, ',"a":1');
});

test('mergeJson: nested values, key order, unicode and escapes survive', () => {
  const line = '{"z":1,"a":{"deep":[1,{"x":null}],"t":true},"msg":"héllo 世界 🚀","q":"a\\"b\\\\c\\n\\u0001","f":1.5,"e":[]}';
  const m = mergeJson(line);
  assert.equal(m.body, ',"z":1,"a":{"deep":[1,{"x":null}],"t":true},"msg":"héllo 世界 🚀","q":"a\\"b\\\\c\\n\\u0001","f":1.5,"e":[]');
  assert.deepEqual(Object.keys(record(line).rec).slice(6), ['z', 'a', 'msg', 'q', 'f', 'e']);
  // A lone surrogate stays valid JSON (well-formed JSON.stringify).
  assert.equal(mergeJson('{"s":"\\ud800"}').body, ',"s":"\\ud800"');
  // ANSI escapes in string values are stripped (JSON format carries none).
  assert.equal(mergeJson('{"msg":"\\u001b[32mok\\u001b[0m"}').body, ',"msg":"ok"');
  // Surrounding blanks are allowed.
  assert.equal(mergeJson('  \t{"a":1}  \r').body, ',"a":1');
  assert.deepEqual(mergeJson('{}'), { level: undefined, body: '', kind: undefined });
});

test('mergeJson: many distinct keys, and keys that are JavaScript names', () => {
  const wide = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i]));
  const { rec } = record(JSON.stringify(wide));
  assert.deepEqual(Object.keys(rec).slice(6), Object.keys(wide));
  const odd = '{"__proto__":{"x":1},"constructor":"c","toString":2,"hasOwnProperty":3,"msg":"m"}';
  assert.equal(mergeJson(odd).body, ',"__proto__":{"x":1},"constructor":"c","toString":2,"hasOwnProperty":3,"msg":"m"');
  // No msg of its own: message becomes msg even though "msg" is a name on no prototype.
  assert.equal(mergeJson('{"constructor":1,"message":"m"}').body, ',"constructor":1,"msg":"m"');
});

test('mergeJson: anything but a JSON object is text', () => {
  for (const line of ['', ' ', 'hello', '[1,2]', '42', '"s"', 'null', 'true', '{not json', '{"a":1', '{"a":1}x', '{"a":1}{"b":2}', '{a:1}', "{'a':1}", '{}}', 'x{"a":1}', '{', '}', '\ufeff{"a":1}'])
    assert.equal(mergeJson(line), undefined, line);
});

test('stripAnsi: colours, cursor moves, OSC hyperlinks and titles, other escapes', () => {
  const cases = [
    ['\x1b[31mred\x1b[0m plain \x1b[1;38;5;208mbold\x1b[m \x1b[38;2;255;0;0mtrue\x1b[39m', 'red plain bold true'],
    ['\x1b[2K\x1b[1A\x1b[10;5Hprogress\x1b[K 50%\r', 'progress 50%\r'],
    ['\x1b[?25lhidden cursor\x1b[?25h', 'hidden cursor'],
    ['see \x1b]8;;https://example.com/a?b=c\x1b\\the docs\x1b]8;;\x1b\\ now', 'see the docs now'],
    ['\x1b]8;id=1;https://x\x07link\x1b]8;;\x07', 'link'],
    ['\x1b]0;window title\x07text', 'text'],
    ['\x1bPq#0;2;0;0;0\x1b\\sixel', 'sixel'],
    ['\x1b(Bcharset \x1b7saved\x1b8 \x1bMup \x1bc', 'charset saved up '],
    ['日本語 \x1b[32m✓\x1b[0m 🚀', '日本語 ✓ 🚀'],
    // Incomplete sequences lose only ESC and their introducer: no text is dropped.
    ['end\x1b', 'end'],
    ['cut \x1b[31', 'cut 31'],
    ['\x1b]8;;unterminated', '8;;unterminated'],
    ['\x1b\x1b[1mx', 'x'],
  ];
  for (const [input, want] of cases) assert.equal(stripAnsi(input), want, JSON.stringify(input));
});

test('stripAnsi: a string without ESC is returned as it is, not copied', () => {
  for (const s of ['', 'plain', 'tab\there [not an escape] 99%', '日本語']) assert.equal(stripAnsi(s), s);
  // Strings are values in JS, so identity is observed through the heap: a copy of 32 MiB
  // held alive would show. (Flat, as decoded lines are: a rope from 'x'.repeat() would be
  // flattened by the first indexOf.)
  const big = Buffer.alloc(32 * 1024 * 1024, 'x').toString('latin1');
  const before = process.memoryUsage().heapUsed;
  const out = stripAnsi(big);
  const grown = process.memoryUsage().heapUsed - before;
  assert.equal(out.length, big.length);
  assert.ok(grown < 8 * 1024 * 1024, `heap grew ${grown} bytes`);
});
