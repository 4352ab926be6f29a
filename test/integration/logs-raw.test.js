// --log-format raw (SPEC §12): workers' stdout and stderr come out of corral's stdout and
// stderr byte for byte; a line is never cut by another worker's; counters still count;
// corral's own records (JSON, on stderr) only from warn up unless --log-level is given.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { afterEach, test } from 'node:test';
import { corralBin, freePort, http, killAll, runCorral, sample, until } from '../helpers.js';

afterEach(killAll);

/** Runs corral to its end with stdout and stderr kept as bytes. */
function runBytes(args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [corralBin, ...args], { env: { ...process.env, CORRAL_HTTP: 'off', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
  });
}

// Everything the json format would change: ANSI, CR, invalid UTF-8, JSON and feedback lines,
// a traceback, a last line without newline.
const OUT = String.raw`b"plain\n", b"\x1b[31mred\x1b[0m\n", b"crlf\r\n", b'{"level":"error","msg":"json"}\n', b'{"kind":"feedback","x":1}\n', b"\xff\xfe bad utf8\n", b"\x00nul\tand tab\n", b"no newline at the end"`;
const ERR = String.raw`b"err line\n", b"Traceback (most recent call last):\n", b'  File "x.py", line 1, in <module>\n', b"ValueError: x\n"`;
const worker = `import os
for b in [${OUT}]: os.write(1, b)
for b in [${ERR}]: os.write(2, b)
`;
const expectOut = Buffer.from('plain\n\x1b[31mred\x1b[0m\ncrlf\r\n{"level":"error","msg":"json"}\n{"kind":"feedback","x":1}\n\xff\xfe bad utf8\n\x00nul\tand tab\nno newline at the end', 'latin1');
const expectErr = Buffer.from('err line\nTraceback (most recent call last):\n  File "x.py", line 1, in <module>\nValueError: x\n', 'latin1');

test('raw: stdout and stderr byte for byte, and nothing of corral\'s below warn', async () => {
  const r = await runBytes(['--log-format', 'raw', '--', 'python3', '-c', worker]);
  assert.equal(r.code, 0, r.stderr.toString());
  assert.deepEqual(r.stdout, expectOut);
  assert.deepEqual(r.stderr, expectErr);
});

test('raw with --log-level info: corral\'s records on stderr as JSON lines, the worker\'s stderr as it was', async () => {
  const r = await runBytes(['--log-format', 'raw', '--log-level', 'info', '--', 'python3', '-c', worker]);
  assert.equal(r.code, 0);
  assert.deepEqual(r.stdout, expectOut);
  const lines = r.stderr.toString('latin1').split('\n').filter(Boolean);
  const records = lines.filter((l) => l.startsWith('{"level"')).map((l) => JSON.parse(l));
  assert.deepEqual(records.map((x) => x.event), ['spawn', 'ready', 'exit', 'exit']);
  assert.equal(lines.filter((l) => !l.startsWith('{"level"')).join('\n') + '\n', expectErr.toString('latin1'));
  const exit = records.find((x) => x.event === 'exit' && x.pool === 'main');
  // The exit record still carries the last lines (the diagnosis of SPEC §9 reads them).
  for (const l of ['plain', 'crlf', 'ValueError: x', 'no newline at the end']) assert.ok(exit.last_lines.includes(l), `${l} in ${JSON.stringify(exit.last_lines)}`);
});

test('raw: 4 workers writing lines in pieces: every line whole, in each worker\'s order, and counted', { timeout: 120_000 }, async () => {
  const N = 20_000;
  const port = await freePort();
  // Each line is written in two write(2)s, split at a varying point: another worker's bytes
  // can arrive in between, and corral must still put out whole lines.
  const py = `import os, signal, sys
w = os.environ["CORRAL_WORKER"]
for i in range(${N}):
    line = ("w%s %d " % (w, i) + "x" * (i % 200) + "\\n").encode()
    cut = 1 + (i * 7) % (len(line) - 1)
    os.write(1, line[:cut]); os.write(1, line[cut:])
signal.pause()
`;
  const c = runCorral(['--log-format', 'raw', '--http', `127.0.0.1:${port}`, '--workers', '4', '--', 'python3', '-c', py]);
  await until(async () => sample((await http(port, '/metrics')).body ?? '', 'corral_log_lines_total', { pool: 'main', stream: 'stdout' }) === 4 * N, { what: `${4 * N} lines counted`, timeoutMs: 100_000, intervalMs: 200 });
  await c.kill('SIGTERM');
  const r = await c.exited;
  assert.equal(r.code, 0);
  const next = [0, 0, 0, 0];
  const lines = r.stdout.split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 4 * N);
  for (const line of lines) {
    const m = line.match(/^w(\d) (\d+) (x*)$/);
    assert.ok(m, `a cut or mixed line: ${JSON.stringify(line.slice(0, 80))}`);
    const [w, i, pad] = [Number(m[1]), Number(m[2]), m[3]];
    assert.equal(i, next[w], `worker ${w}'s lines in order`);
    assert.equal(pad.length, i % 200);
    next[w]++;
  }
  assert.deepEqual(next, [N, N, N, N]);
});
