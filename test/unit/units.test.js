import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration, parseSize } from '../../dist/config/units.js';
import { parseSignal, shellCode } from '../../dist/process/status.js';

test('durations', () => {
  const cases = { '500ms': 500, '30s': 30_000, '5m': 300_000, '1h': 3_600_000, '25': 25_000, '1.5s': 1500, '0': 0 };
  for (const [s, ms] of Object.entries(cases)) assert.equal(parseDuration(s), ms, s);
  for (const bad of ['', 'soon', '-1s', '10x', '1 h']) assert.equal(parseDuration(bad), undefined, bad);
  assert.equal(formatDuration(25_000), '25s');
  assert.equal(formatDuration(500), '500ms');
});

test('sizes', () => {
  const cases = { '512MiB': 512 * 2 ** 20, '8GiB': 8 * 2 ** 30, '2GB': 2e9, '1000': 1000, '1kb': 1000 };
  for (const [s, b] of Object.entries(cases)) assert.equal(parseSize(s), b, s);
  for (const bad of ['', 'big', '-5', '1XB']) assert.equal(parseSize(bad), undefined, bad);
});

test('signals and shell exit codes', () => {
  assert.equal(parseSignal('TERM'), 'SIGTERM');
  assert.equal(parseSignal('sigint'), 'SIGINT');
  assert.equal(parseSignal('9'), 'SIGKILL');
  assert.equal(parseSignal('NOPE'), undefined);
  assert.equal(shellCode({ code: 3, signal: null }), 3);
  assert.equal(shellCode({ code: null, signal: 'SIGTERM' }), 143);
  assert.equal(shellCode({ code: null, signal: 'SIGKILL' }), 137);
});
