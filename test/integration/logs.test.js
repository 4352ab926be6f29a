// corral's own records: JSON on stderr by default off a TTY, pretty on request, and a
// closed stderr (EPIPE) never takes corral down.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { afterEach, test } from 'node:test';
import { prettyLine } from '../../dist/logs/logger.js';
import { corralBin, killAll, runCorral } from '../helpers.js';

afterEach(killAll);

test('records are JSON lines with an event field; exit carries code, signal and duration', async () => {
  const c = runCorral(['--', 'sh', '-c', 'exit 7']);
  const r = await c.exited;
  assert.equal(r.code, 7);
  const recs = c.records();
  const spawnRec = recs.find((x) => x.event === 'spawn');
  const exitRec = recs.find((x) => x.event === 'exit' && x.worker === 0);
  assert.equal(spawnRec.pool, 'main');
  assert.equal(typeof spawnRec.pid, 'number');
  assert.equal(exitRec.code, 7);
  assert.equal(exitRec.signal, null);
  assert.equal(typeof exitRec.duration_ms, 'number');
  assert.equal(typeof exitRec.time, 'number');
  assert.equal(exitRec.level, 30);
});

test('--log-level debug logs reaped orphans; warn hides info', async () => {
  const c = runCorral(['--log-level', 'debug', '--', 'sh', '-c', '(sleep 0.1 &) ; sleep 0.3']);
  await c.exited;
  assert.ok(c.records().some((x) => x.event === 'reaped' && x.level === 20), c.out.stderr);
  const quiet = runCorral(['--log-level', 'warn', '--', 'true']);
  const r = await quiet.exited;
  assert.equal(r.stderr, '');
});

test('pretty format: time, corral tag, message and fields on one line', () => {
  const line = prettyLine(JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 12, 34, 56, 789), event: 'backoff', msg: 'restarting' }), false);
  assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} corral \| WARN restarting event=backoff\n$/);
  const coloured = prettyLine('{"level":30,"msg":"x"}', true);
  assert.ok(coloured.startsWith('\x1b[2m') && coloured.endsWith('\x1b[0m\n'), JSON.stringify(coloured));
});

test('a closed stderr (EPIPE) does not crash corral; the worker\'s status still comes through', async () => {
  const child = spawn(process.execPath, [corralBin, '--log-format', 'json', '--', 'sh', '-c', 'sleep 0.3; echo done; exit 5'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.destroy(); // the log reader goes away: every later write gets EPIPE
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(out.trim(), 'done');
  assert.equal(code, 5);
});
