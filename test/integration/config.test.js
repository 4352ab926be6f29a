// The real CLI on config files: `corral check-config` prints the effective config and
// exits 0, or prints one `corral:` line (no stack trace) and exits 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { corralBin, fixture, root } from '../helpers.js';

function corral(args, env = {}) {
  const r = spawnSync(process.execPath, [corralBin, ...args], {
    cwd: root,
    env: { ...process.env, CORRAL_CONFIG: '', CORRAL_HTTP: '', ...env },
    encoding: 'utf8',
    timeout: 10_000,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function assertOneLineError(r, ...parts) {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n');
  assert.equal(lines.length, 2, `exactly one line on stderr: ${JSON.stringify(r.stderr)}`);
  assert.equal(lines[1], '');
  assert.ok(lines[0].startsWith('corral: '), lines[0]);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, 'no stack trace');
  for (const part of parts) assert.ok(lines[0].includes(part), `${JSON.stringify(part)} in ${lines[0]}`);
}

test('check-config on a valid file: exit 0, the effective config as JSON on stdout', () => {
  const path = fixture('config/valid.toml');
  const r = corral(['check-config', '--config', path]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.source, path);
  assert.deepEqual(Object.keys(out.pools), ['infer', 'metrics-sidecar']);
  assert.equal(out.grace, '40s');
  assert.deepEqual(out.pools.infer.env, { TOKEN: '***', OMP_NUM_THREADS: '***' });
  assert.ok(!r.stdout.includes('s3cret'));
});

test('check-config: flags and CORRAL_* variables override the file; the JSON file gives the same result', () => {
  const toml = corral(['check-config', '--config', fixture('config/valid.toml'), '--workers', '3'], { CORRAL_GRACE: '7s' });
  const json = corral(['check-config', '--config', fixture('config/valid.json'), '--workers', '3'], { CORRAL_GRACE: '7s' });
  assert.equal(toml.code, 0, toml.stderr);
  assert.equal(json.code, 0, json.stderr);
  const a = JSON.parse(toml.stdout);
  const b = JSON.parse(json.stdout);
  assert.equal(a.grace, '7s');
  assert.deepEqual(Object.values(a.pools).map((p) => p.workers), [3, 3]);
  assert.deepEqual({ ...a, source: null }, { ...b, source: null });
});

test('check-config inside a corral worker (CORRAL_POOL, CORRAL_WORKER, CORRAL_POOL_SIZE set)', () => {
  const r = corral(['check-config', '--config', fixture('config/valid.toml')], { CORRAL_POOL: 'infer', CORRAL_WORKER: '1', CORRAL_POOL_SIZE: '2' });
  assert.equal(r.code, 0, r.stderr);
});

test('an unknown key: exit 2, one line naming the file, the key path and the likely key', () => {
  assertOneLineError(corral(['check-config', '--config', fixture('config/unknown-key.toml')]), 'unknown-key.toml: pools.infer.wrokers', 'did you mean "workers"');
});

test('a TOML syntax error: exit 2, one line with the line and column', () => {
  assertOneLineError(corral(['check-config', '--config', fixture('config/syntax-error.toml')]), 'syntax-error.toml: line 4, column 1: invalid TOML');
});

test('a bad value in a JSON file: exit 2, one line with key path, expected and found', () => {
  assertOneLineError(
    corral(['check-config', '--config', fixture('config/bad-workers.json')]),
    'bad-workers.json: pools.infer.workers: expected a positive integer or "gpu", got -1',
  );
});

test('a duplicate pool: exit 2, one line', () => {
  assertOneLineError(corral(['check-config', '--config', fixture('config/duplicate-pool.toml')]), 'duplicate pool "infer"');
});

test('a missing file, and a bad flag: exit 2, one line, for check-config and for a run', () => {
  assertOneLineError(corral(['check-config', '--config', 'test/fixtures/config/nope.toml']), 'cannot read config file test/fixtures/config/nope.toml');
  assertOneLineError(corral(['--config', fixture('config/unknown-key.toml')]), 'pools.infer.wrokers');
  assertOneLineError(corral(['--workers', '-1', '--', 'true']), '--workers: expected a positive integer or "gpu", got "-1"');
});
