import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clock } from '../../dist/logs/logger.js';
import { prettyWorkerLine, workerColour } from '../../dist/logs/pretty.js';

const T = new Date(2024, 5, 1, 9, 5, 7, 42).getTime(); // local time 09:05:07.042

test('plain: `HH:MM:SS.mmm pool.N | text`, the same for every stream', () => {
  for (const stream of ['stdout', 'stderr', 'pty']) {
    assert.equal(prettyWorkerLine(T, 'main', 0, 'model loaded', 30, false, stream), '09:05:07.042 main.0 | model loaded\n');
    assert.equal(prettyWorkerLine(T, 'embed', 12, 'x', 50, false, stream), '09:05:07.042 embed.12 | x\n');
  }
});

test('plain: no escape sequence at all, the worker’s stripped', () => {
  const line = prettyWorkerLine(T, 'main', 1, '\x1b[32mOK\x1b[0m 100%', 50, false, 'stderr');
  assert.equal(line, '09:05:07.042 main.1 | OK 100%\n');
});

test('the time is local, as corral’s own lines, across seconds and back', () => {
  const times = [T, T + 1, T + 958, T + 999, T + 1000, T + 61_001, T - 3_600_000, T + 0.9, 0, T];
  for (const t of times) {
    const line = prettyWorkerLine(t, 'p', 0, 'x', 30, false, 'stdout');
    assert.equal(line, `${clock(Math.floor(t))} p.0 | x\n`, String(t));
  }
});

test('multi-line text (a traceback) is indented under the text column', () => {
  const tb = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: boom';
  const line = prettyWorkerLine(T, 'main', 3, tb, 50, false, 'stderr');
  const pad = ' '.repeat('09:05:07.042 main.3 | '.length);
  assert.equal(line, `09:05:07.042 main.3 | Traceback (most recent call last):\n${pad}  File "x.py", line 1\n${pad}ValueError: boom\n`);
  const [first, ...rest] = line.slice(0, -1).split('\n');
  const col = first.indexOf('| ') + 2;
  for (const l of rest) assert.equal(l.slice(0, col).trim(), '', l);
});

test('colour: the prefix in the worker’s colour, the worker’s own escapes kept', () => {
  const c = workerColour('main', 0);
  const line = prettyWorkerLine(T, 'main', 0, 'plain', 30, true, 'stdout');
  assert.equal(line, `${c}09:05:07.042 main.0 |\x1b[0m plain\n`);
  // Kept, and closed so that a colour left on does not bleed into the next line.
  const own = prettyWorkerLine(T, 'main', 0, '\x1b[32mgreen', 30, true, 'stdout');
  assert.equal(own, `${c}09:05:07.042 main.0 |\x1b[0m \x1b[32mgreen\x1b[0m\n`);
});

test('colour: errors bold red, warnings yellow, stderr’s bar dimmed', () => {
  const c = workerColour('main', 0);
  assert.equal(prettyWorkerLine(T, 'main', 0, 'bad', 50, true, 'stdout'), `${c}09:05:07.042 main.0 |\x1b[0m \x1b[1;31mbad\x1b[0m\n`);
  assert.equal(prettyWorkerLine(T, 'main', 0, 'bad', 60, true, 'stdout'), `${c}09:05:07.042 main.0 |\x1b[0m \x1b[1;31mbad\x1b[0m\n`);
  assert.equal(prettyWorkerLine(T, 'main', 0, 'hm', 40, true, 'stdout'), `${c}09:05:07.042 main.0 |\x1b[0m \x1b[33mhm\x1b[0m\n`);
  assert.equal(prettyWorkerLine(T, 'main', 0, 'log', 30, true, 'stderr'), `${c}09:05:07.042 main.0 \x1b[2m|\x1b[0m log\n`);
  assert.equal(prettyWorkerLine(T, 'main', 0, 'log', 30, true, 'pty'), `${c}09:05:07.042 main.0 |\x1b[0m log\n`);
  // Each line of a traceback is highlighted on its own (pagers reset attributes per line).
  const tb = prettyWorkerLine(T, 'main', 0, 'Traceback\n  File\nE: x', 50, true, 'stderr');
  const pad = ' '.repeat('09:05:07.042 main.0 | '.length);
  assert.equal(tb, `${c}09:05:07.042 main.0 \x1b[2m|\x1b[0m \x1b[1;31mTraceback\x1b[0m\n${pad}\x1b[1;31m  File\x1b[0m\n${pad}\x1b[1;31mE: x\x1b[0m\n`);
});

test('worker colours: stable, readable, consecutive workers differ', () => {
  const sgr = new RegExp(String.raw`^\u001b\[\d+m$`);
  const forbidden = new Set(['\x1b[30m', '\x1b[37m', '\x1b[31m', '\x1b[2m', '\x1b[90m', '\x1b[97m', '\x1b[34m']);
  const seen = new Set();
  for (const pool of ['main', 'embed', 'rerank', 'a', '', 'ünïcode-pool']) {
    for (let w = 0; w < 40; w++) {
      const c = workerColour(pool, w);
      assert.match(c, sgr);
      assert.ok(!forbidden.has(c), c);
      assert.equal(workerColour(pool, w), c, 'stable');
      assert.notEqual(workerColour(pool, w + 1), c, `${pool}.${w} and ${pool}.${w + 1}`);
      seen.add(c);
    }
  }
  assert.ok(seen.size >= 8, `palette of ${seen.size}`);
  // Two pools' worker 0 need not share a colour.
  assert.ok(new Set(['main', 'embed', 'rerank', 'a'].map((p) => workerColour(p, 0))).size > 1);
  assert.match(workerColour('main', -1), sgr);
});
