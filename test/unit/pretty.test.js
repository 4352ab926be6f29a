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

// corral's own records for people (pretty-records.ts).
import { duration, prettyRecord } from '../../dist/logs/pretty-records.js';

const who = { pool: 'main', worker: 0, pid: 4242 };
const exitRec = (fields) => ({ level: 30, time: T, event: 'exit', ...who, code: 0, signal: null, reason: 'exit', duration_ms: 12_300, last_lines: ['loading', 'serving'], ...fields });

test('a clean exit, or one corral decided, is one short line without its last lines', () => {
  assert.equal(prettyRecord(exitRec({ cause: 'clean', detail: 'exit code 0', msg: 'main.0 exited with code 0' }), false), '09:05:07.042 corral | main.0 exited with code 0 after 12s\n');
  const stopped = prettyRecord(exitRec({ code: null, signal: 'SIGTERM', cause: 'shutdown', msg: 'main.0 exited with SIGTERM: stopped (shutdown)' }), false);
  assert.equal(stopped, '09:05:07.042 corral | main.0 exited with SIGTERM: stopped (shutdown) after 12s\n');
  assert.equal(prettyRecord({ level: 30, time: T, event: 'exit', code: 0, reaped_orphans: 3, msg: 'corral exiting with code 0' }, false), '09:05:07.042 corral | corral exiting with code 0\n');
});

test('a failed exit: its cause on the line, the last lines below it, one per line, then a stack dump', () => {
  const text = prettyRecord(
    exitRec({ code: 1, cause: 'exception', detail: 'ValueError: bad input', msg: 'main.0 exited with code 1: uncaught exception (ValueError: bad input)', last_lines: ['Traceback (most recent call last):\n  File "serve.py", line 3\nValueError: bad input', '\x1b[31mred\x1b[0m'], dump: ['Thread 0x1 (most recent call first):'] }),
    false,
  );
  const pad = ' '.repeat(24);
  assert.deepEqual(text.split('\n'), [
    '09:05:07.042 corral | main.0 exited with code 1: uncaught exception (ValueError: bad input) after 12s',
    `${pad}last lines:`,
    `${pad}  Traceback (most recent call last):`,
    `${pad}    File "serve.py", line 3`,
    `${pad}  ValueError: bad input`,
    `${pad}  red`,
    `${pad}stack dump:`,
    `${pad}  Thread 0x1 (most recent call first):`,
    '',
  ]);
  const coloured = prettyRecord(exitRec({ code: 1, cause: 'crash', msg: 'main.0 exited with SIGSEGV: crashed' }), true);
  assert.ok(coloured.startsWith('\x1b[1;31m'), 'a failed exit is red even at level 30');
  for (const line of coloured.trimEnd().split('\n')) assert.ok(line.endsWith('\x1b[0m'), JSON.stringify(line));
});

test('backoff and restart say when the next try is; ready how long the start took; each line names its worker', () => {
  assert.equal(
    prettyRecord({ level: 40, time: T, event: 'backoff', ...who, reason: 'exit', delay_ms: 1500, msg: 'restarting in 1500 ms' }, false),
    '09:05:07.042 corral | WARN main.0: restarting in 1.5s, at 09:05:08.542\n',
  );
  assert.equal(prettyRecord({ level: 30, time: T, event: 'restart', ...who, reason: 'exit', restarts: 3, delay_ms: 1500, msg: 'restart (exit)' }, false), '09:05:07.042 corral | main.0: restart (exit) at 09:05:08.542\n');
  assert.equal(prettyRecord({ level: 30, time: T, event: 'restart', ...who, reason: 'rolling', restarts: 3, delay_ms: 0, msg: 'restart (rolling)' }, false), '09:05:07.042 corral | main.0: restart (rolling) now\n');
  assert.equal(prettyRecord({ level: 30, time: T, event: 'ready', ...who, startup_ms: 2345, msg: 'main.0 ready' }, false), '09:05:07.042 corral | main.0 ready in 2.3s\n');
  assert.equal(prettyRecord({ level: 30, time: T, event: 'spawn', ...who, command: ['python3', 'serve.py'], msg: 'spawned main.0' }, false), '09:05:07.042 corral | spawned main.0 (pid 4242)\n');
  assert.equal(
    prettyRecord({ level: 30, time: T, event: 'watch', pool: 'main', file: 'app/model.py', msg: 'app/model.py changed: restarting pool main' }, false),
    '09:05:07.042 corral | app/model.py changed: restarting pool main\n',
  );
});

test('durations: ms, tenths of seconds, seconds, minutes, hours', () => {
  assert.deepEqual([850, 1500, 42_000, 125_000, 3_720_000, -1].map(duration), ['850ms', '1.5s', '42s', '2m05s', '1h02m', '?']);
});
