// The worker lifecycle, as tables of transitions (valid and invalid).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, InvalidTransition, newWorker, next } from '../../dist/supervisor/lifecycle.js';

const policy = (restart) => ({ restart, random: () => 0 });
const ok = { code: 0, signal: null };
const fail = { code: 3, signal: null };
const killed = { code: null, signal: 'SIGKILL' };

const starting = (w = newWorker()) => next(next(w, { type: 'start', at: 0 }, policy('never'))[0], { type: 'spawned', pid: 10, at: 0 }, policy('never'))[0];
const ready = (at = 0) => next(starting(), { type: 'ready', at }, policy('never'))[0];
const types = (effects) => effects.map((e) => e.type);

test('backoff: min(60 s, 2^(n-1) s) plus up to 10 % jitter', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, () => 0)), [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  assert.equal(backoffDelay(1, () => 0.999), 1100);
  assert.equal(backoffDelay(10, () => 0.5), 63000);
});

const valid = [
  // [description, worker, event, policy, expected state kind, expected effect types]
  ['start spawns', newWorker(), { type: 'start', at: 0 }, 'never', 'exited', ['spawn']],
  ['spawned -> starting', newWorker(), { type: 'spawned', pid: 10, at: 0 }, 'never', 'starting', []],
  ['ready', starting(), { type: 'ready', at: 5 }, 'never', 'ready', []],
  ['stop while ready signals', ready(), { type: 'stop', reason: 'shutdown', at: 1 }, 'never', 'stopping', ['signal']],
  ['stop while starting signals', starting(), { type: 'stop', reason: 'shutdown', at: 1 }, 'never', 'stopping', ['signal']],
  ['exit with never is final', ready(), { type: 'exit', status: ok, at: 20_000 }, 'never', 'exited', ['final']],
  ['on-failure: clean exit is final', ready(), { type: 'exit', status: ok, at: 20_000 }, 'on-failure', 'exited', ['final']],
  ['on-failure: failure restarts', ready(), { type: 'exit', status: fail, at: 20_000 }, 'on-failure', 'backoff', ['restart', 'schedule']],
  ['on-failure: a signal restarts', ready(), { type: 'exit', status: killed, at: 20_000 }, 'on-failure', 'backoff', ['restart', 'schedule']],
  ['always: clean exit restarts', ready(), { type: 'exit', status: ok, at: 20_000 }, 'always', 'backoff', ['restart', 'schedule']],
  ['spawn failure with always backs off', newWorker(), { type: 'spawn_failed', status: { code: 127, signal: null }, at: 0 }, 'always', 'backoff', ['restart', 'schedule']],
  ['spawn failure with never is final', newWorker(), { type: 'spawn_failed', status: { code: 127, signal: null }, at: 0 }, 'never', 'exited', ['final']],
];

for (const [name, w, e, p, kind, effects] of valid) {
  test(`valid: ${name}`, () => {
    const [w2, eff] = next(w, e, policy(p));
    assert.equal(w2.state.kind, kind);
    assert.deepEqual(types(eff), effects);
  });
}

const invalid = [
  ['ready before spawn', newWorker(), { type: 'ready', at: 0 }],
  ['ready twice', ready(), { type: 'ready', at: 0 }],
  ['exit before spawn', newWorker(), { type: 'exit', status: ok, at: 0 }],
  ['start twice', starting(), { type: 'start', at: 0 }],
  ['spawned while ready', ready(), { type: 'spawned', pid: 11, at: 0 }],
  ['backoff_done while ready', ready(), { type: 'backoff_done', at: 0 }],
];

for (const [name, w, e] of invalid) {
  test(`invalid: ${name}`, () => {
    assert.throws(() => next(w, e, policy('always')), InvalidTransition);
  });
}

test('a shutdown stop is final on exit, whatever the policy', () => {
  const [stopping] = next(ready(), { type: 'stop', reason: 'shutdown', at: 1 }, policy('always'));
  const [w, eff] = next(stopping, { type: 'exit', status: { code: null, signal: 'SIGTERM' }, at: 2 }, policy('always'));
  assert.equal(w.state.kind, 'exited');
  assert.deepEqual(types(eff), ['final']);
});

test('a rolling stop restarts at once, even with restart never', () => {
  const [stopping] = next(ready(), { type: 'stop', reason: 'rolling', at: 1 }, policy('never'));
  const [w, eff] = next(stopping, { type: 'exit', status: { code: null, signal: 'SIGTERM' }, at: 2 }, policy('never'));
  assert.deepEqual(types(eff), ['restart', 'spawn']);
  assert.equal(eff[0].reason, 'rolling');
  assert.equal(w.restarts, 1);
});

test('a shutdown during backoff cancels the restart and is final', () => {
  const [backoff] = next(ready(), { type: 'exit', status: fail, at: 20_000 }, policy('always'));
  const [w, eff] = next(backoff, { type: 'stop', reason: 'shutdown', at: 20_001 }, policy('always'));
  assert.equal(w.state.kind, 'exited');
  assert.deepEqual(types(eff), ['cancel_schedule', 'final']);
});

test('five failed starts in a row give up, with growing delays before', () => {
  let w = newWorker();
  const p = policy('always');
  const delays = [];
  let t = 0;
  for (let i = 1; i <= 5; i++) {
    if (i > 1) [w] = next(w, { type: 'backoff_done', at: t }, p);
    [w] = next(w, { type: 'spawned', pid: 100 + i, at: t }, p);
    t += 500; // dies half a second after its spawn: a failed start
    const [w2, eff] = next(w, { type: 'exit', status: fail, at: t }, p);
    w = w2;
    if (i < 5) {
      assert.equal(w.state.kind, 'backoff', `attempt ${i}`);
      delays.push(eff.find((e) => e.type === 'restart').delayMs);
      t = w.state.until;
    } else {
      assert.deepEqual(types(eff), ['final', 'give_up']);
      assert.match(eff[1].why, /5 failed starts in a row/);
    }
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000]);
});

test('a start that lasted beyond 10 s after ready resets the failed-start count', () => {
  const p = policy('always');
  let [w] = next(ready(), { type: 'exit', status: fail, at: 500 }, p);
  assert.equal(w.failedStarts, 1);
  [w] = next(w, { type: 'backoff_done', at: 2000 }, p);
  [w] = next(w, { type: 'spawned', pid: 11, at: 2000 }, p);
  [w] = next(w, { type: 'ready', at: 2100 }, p);
  [w] = next(w, { type: 'exit', status: fail, at: 15_000 }, p);
  assert.equal(w.failedStarts, 0);
  assert.equal(w.streak, 2, 'the backoff streak only resets after 60 s ready');
  [w] = next(w, { type: 'backoff_done', at: 20_000 }, p);
  [w] = next(w, { type: 'spawned', pid: 12, at: 20_000 }, p);
  [w] = next(w, { type: 'ready', at: 20_100 }, p);
  const [w2, eff] = next(w, { type: 'exit', status: fail, at: 90_000 }, p);
  assert.equal(w2.streak, 1, 'reset after 60 s ready, then this restart is the first again');
  assert.equal(eff[0].delayMs, 1000);
});
