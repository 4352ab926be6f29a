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
  const line = prettyLine(JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 12, 34, 56, 789), event: 'config', action: 'rejected', msg: 'config not reloaded' }), false);
  assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} corral \| WARN config not reloaded action=rejected\n$/);
  const coloured = prettyLine('{"level":30,"msg":"x"}', true);
  assert.ok(coloured.startsWith('\x1b[2m') && coloured.endsWith('\x1b[0m\n'), JSON.stringify(coloured));
});

test('a closed stderr (EPIPE) does not crash corral; the worker\'s status still comes through', async () => {
  const { mkdtempSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const marker = join(mkdtempSync(join(tmpdir(), 'corral-epipe-')), 'done');
  // The worker keeps writing after the log reader is gone: corral must neither crash nor
  // leave it blocked on a full pipe.
  const script = `for i in $(seq 1 20000); do echo "line $i"; done; echo done > ${marker}; exit 5`;
  const child = spawn(process.execPath, [corralBin, '--http', 'off', '--log-format', 'json', '--', 'sh', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.destroy(); // every write to corral's stderr now fails with EPIPE
  const code = await new Promise((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(readFileSync(marker, 'utf8').trim(), 'done');
  assert.equal(code, 5);
});
