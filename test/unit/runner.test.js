// The resident shell that runs nvidia-smi (src/gpu/runner.ts): one shell for every run, each
// run's own stdout, stderr and status (a signal's name), SIGKILL with the shell at the timeout,
// stop(), and a direct spawn where there is no shell.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { execBounded, SAMPLE_QUERY } from '../../dist/gpu/collect.js';
import { ForkServer } from '../../dist/gpu/runner.js';
import { fixture } from '../helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'corral-runner-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const opts = { timeoutMs: 5000, env: process.env };

function script(name, body) {
  const file = join(tmp, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

test('one shell for every run; each run its own stdout, stderr and exit status', async () => {
  const s = new ForkServer(execBounded);
  try {
    const ok = await s.exec(fixture('nvidia-smi-4gpu'), SAMPLE_QUERY, opts);
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout.trim().split('\n').length, 4);
    assert.equal(ok.stderr, '');
    const [shell] = s.helperPids();
    assert.ok(shell > 0);
    const twice = await s.exec(fixture('nvidia-smi-4gpu'), SAMPLE_QUERY, opts);
    assert.equal(twice.stdout, ok.stdout);
    assert.deepEqual(s.helperPids(), [shell], 'the same shell for the same command');
    const mixed = await s.exec(script('mixed', 'printf "out without newline"; echo "to stderr" >&2; exit 9'), [], opts);
    assert.deepEqual([mixed.stdout, mixed.stderr, mixed.code, mixed.signal], ['out without newline', 'to stderr\n', 9, null]);
    const crashed = await s.exec(script('segv', 'kill -SEGV $$'), [], opts);
    assert.deepEqual([crashed.code, crashed.signal], [null, 'SIGSEGV']);
    const missing = await s.exec(join(tmp, 'absent'), [], opts);
    assert.match(missing.error.message, /ENOENT/);
  } finally {
    s.stop();
  }
  assert.deepEqual(s.helperPids(), []);
});

test('a run past its timeout is SIGKILLed with the shell; the next run gets a new shell', async () => {
  const s = new ForkServer(execBounded);
  try {
    await s.exec(fixture('nvidia-smi-4gpu'), SAMPLE_QUERY, opts);
    const [first] = s.helperPids();
    const t0 = Date.now();
    const hung = await s.exec(fixture('nvidia-smi-slow'), [], { ...opts, timeoutMs: 200 });
    assert.equal(hung.timedOut, true);
    assert.ok(Date.now() - t0 < 5000);
    const again = await s.exec(fixture('nvidia-smi-4gpu'), SAMPLE_QUERY, opts);
    assert.equal(again.code, 0);
    assert.notDeepEqual(s.helperPids(), [first]);
  } finally {
    s.stop();
  }
});

test('no shell (a distroless image): nvidia-smi is spawned directly, no run lost', async () => {
  const s = new ForkServer(execBounded, join(tmp, 'no-such-sh'));
  for (let i = 0; i < 2; i++) {
    const r = await s.exec(fixture('nvidia-smi-4gpu'), SAMPLE_QUERY, opts);
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.equal(r.stdout.trim().split('\n').length, 4);
  }
  assert.deepEqual(s.helperPids(), []);
});
