// The constants the addon exports, and the TypeScript that must agree with them: the C
// defines each name once, and these tests fail when a copy drifts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GROUP_HEADER, HEADER } from '../../dist/logs/traceback.js';
import { native } from '../../dist/native/index.js';
import { spawnError } from '../../dist/process/spawn.js';

const addon = native();
// SpawnStageName in src/native/index.ts.
const STAGE_NAMES = ['chdir', 'dup', 'exec', 'fork', 'setgid', 'setgroups', 'setsid', 'setuid', 'tty'];

test('traceback.ts groups from the same header lines the C fast path stops at', () => {
  assert.deepEqual({ ...addon.tracebackHeaders }, { header: HEADER, groupHeader: GROUP_HEADER });
  assert.ok(Object.isFrozen(addon.tracebackHeaders));
});

test('spawnStages: the names index.ts types, each with its own code, frozen', () => {
  assert.deepEqual(Object.keys(addon.spawnStages).sort(), STAGE_NAMES);
  const codes = Object.values(addon.spawnStages);
  assert.equal(new Set(codes).size, codes.length);
  assert.ok(codes.every((c) => Number.isInteger(c) && c > 0), 'stage 0 means no failure');
  assert.ok(Object.isFrozen(addon.spawnStages));
});

const stages = addon.spawnStages;
const what = { name: 'serve', file: '/app/serve', cwd: '/app' };
const fail = (stage, errno) => spawnError(stages, { pid: 0, stage: stages[stage], errno }, what);

test('spawnError: exec failures as the shell reports them (127 not found, 126 not executable)', () => {
  assert.deepEqual([fail('exec', 2).code, fail('exec', 2).exitCode], ['NOT_FOUND', 127]);
  assert.equal(fail('exec', 2).message, 'command not found: /app/serve (ENOENT)');
  assert.deepEqual([fail('exec', 13).code, fail('exec', 13).exitCode], ['NOT_EXECUTABLE', 126]);
  assert.equal(fail('exec', 8).message, 'cannot execute /app/serve (ENOEXEC)');
});

test('spawnError: other stages name the step that failed, exit 1', () => {
  const e = fail('chdir', 2);
  assert.equal(e.message, 'cannot change to the working directory /app (ENOENT)');
  assert.equal(e.exitCode, 1);
  assert.equal(fail('setuid', 1).message, 'starting serve failed at setuid (EPERM)');
  assert.equal(fail('tty', 25).message, 'starting serve failed at tty (ENOTTY)');
  assert.equal(spawnError(stages, { pid: 0, stage: 99, errno: 5 }, what).message, 'starting serve failed at stage 99 (EIO)');
});

test('spawnError: a fork failure is its own stage, not exec: exit 1 and a hint about the process limit', () => {
  const e = spawnError(stages, { pid: -1, stage: stages.fork, errno: 11 }, what);
  assert.equal(e.code, 'SPAWN_FAILED');
  assert.equal(e.exitCode, 1);
  assert.equal(e.message, 'cannot fork to start serve: EAGAIN (too many processes?)');
  assert.match(e.hint, /pids limit/);
  assert.notEqual(stages.fork, stages.exec);
  const oom = spawnError(stages, { pid: -1, stage: stages.fork, errno: 12 }, what);
  assert.equal(oom.message, 'cannot fork to start serve: ENOMEM');
  assert.match(oom.hint, /memory/);
});
