// The worker lifecycle, cell by cell: every state × event of the table has its expected
// next state and effects spelled out here (or is an explicit no-op, or invalid), and a
// test checks that no cell is left out. Then whole sequences: backoff, give-up, resets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, cellKind, EVENT_TYPES, InvalidTransition, newWorker, next, STATE_KINDS } from '../../dist/supervisor/lifecycle.js';

const policy = (restart) => ({ restart, random: () => 0 });
const ok = { code: 0, signal: null };
const fail = { code: 3, signal: null };
const term = { code: null, signal: 'SIGTERM' };
const killed = { code: null, signal: 'SIGKILL' };

// One worker in each state (pid 10, spawned at 1000, ready at 2000).
const base = { restarts: 2, streak: 1, failedStarts: 1, lastExit: null };
const W = {
  exited: { ...base, state: { kind: 'exited' } },
  starting: { ...base, state: { kind: 'starting', pid: 10, spawnedAt: 1000 } },
  ready: { ...base, state: { kind: 'ready', pid: 10, spawnedAt: 1000, readyAt: 2000 } },
  stopping: { ...base, state: { kind: 'stopping', pid: 10, spawnedAt: 1000, readyAt: 2000, reason: 'rolling' } },
  reaped: { ...base, state: { kind: 'reaped', pid: 10, spawnedAt: 1000, readyAt: 2000, reason: null, status: fail, at: 30_000 } },
  backoff: { ...base, state: { kind: 'backoff', until: 40_000, reason: 'exit' } },
};
const E = {
  start: { type: 'start', at: 50_000 },
  spawned: { type: 'spawned', pid: 11, at: 50_000 },
  spawn_failed: { type: 'spawn_failed', status: { code: 127, signal: null }, at: 50_000 },
  ready: { type: 'ready', at: 50_000 },
  stop: { type: 'stop', reason: 'watchdog', at: 50_000 },
  kill_due: { type: 'kill_due', at: 50_000 },
  reaped: { type: 'reaped', status: term, at: 50_000 },
  output_done: { type: 'output_done', at: 50_000 },
  backoff_done: { type: 'backoff_done', at: 50_000 },
};

// A failed spawn is a failed start: the second in a row here, backoff 2^1 s (from exited or backoff alike).
const spawnFailed = [
  { kind: 'backoff', until: 52_000, reason: 'exit' },
  [{ type: 'restart', reason: 'exit', delayMs: 2000 }, { type: 'schedule', at: 52_000 }],
  { failedStarts: 2, streak: 2, lastExit: { status: { code: 127, signal: null }, reason: 'spawn_failed', cause: 'error', at: 50_000 } },
];
const invalid = 'invalid';
const noop = 'noop';
// [next state, effects, other fields that change] for each cell, with policy 'always'.
const CELLS = {
  exited: {
    start: [{ kind: 'exited' }, [{ type: 'spawn' }]],
    spawned: [{ kind: 'starting', pid: 11, spawnedAt: 50_000 }, []],
    spawn_failed: spawnFailed,
    ready: invalid,
    stop: noop,
    kill_due: noop,
    reaped: invalid,
    output_done: invalid,
    backoff_done: invalid,
  },
  starting: {
    start: invalid,
    spawned: invalid,
    spawn_failed: invalid,
    ready: [{ kind: 'ready', pid: 10, spawnedAt: 1000, readyAt: 50_000 }, []],
    stop: [{ kind: 'stopping', pid: 10, spawnedAt: 1000, readyAt: null, reason: 'watchdog' }, [{ type: 'signal', signal: 'stop' }, { type: 'arm_kill' }]],
    kill_due: noop,
    reaped: [{ kind: 'reaped', pid: 10, spawnedAt: 1000, readyAt: null, reason: null, status: term, at: 50_000 }, []],
    output_done: invalid,
    backoff_done: invalid,
  },
  ready: {
    start: invalid,
    spawned: invalid,
    spawn_failed: invalid,
    ready: invalid,
    stop: [{ kind: 'stopping', pid: 10, spawnedAt: 1000, readyAt: 2000, reason: 'watchdog' }, [{ type: 'signal', signal: 'stop' }, { type: 'arm_kill' }]],
    kill_due: noop,
    reaped: [{ kind: 'reaped', pid: 10, spawnedAt: 1000, readyAt: 2000, reason: null, status: term, at: 50_000 }, []],
    output_done: invalid,
    backoff_done: invalid,
  },
  stopping: {
    start: invalid,
    spawned: invalid,
    spawn_failed: invalid,
    ready: noop,
    // watchdog while a rolling stop is under way: the first reason stays.
    stop: [W.stopping.state, []],
    kill_due: [W.stopping.state, [{ type: 'signal', signal: 'SIGKILL' }]],
    reaped: [{ kind: 'reaped', pid: 10, spawnedAt: 1000, readyAt: 2000, reason: 'rolling', status: term, at: 50_000 }, [{ type: 'cancel_kill' }]],
    output_done: invalid,
    backoff_done: invalid,
  },
  reaped: {
    start: invalid,
    spawned: invalid,
    spawn_failed: invalid,
    ready: noop,
    stop: [W.reaped.state, []],
    kill_due: noop,
    // Exited on its own 28 s after ready (not a failed start, streak kept): report, then backoff 2^1 s.
    output_done: [
      { kind: 'backoff', until: 32_000, reason: 'exit' },
      [
        { type: 'exit', pid: 10, status: fail, reason: 'exit', cause: 'error', detail: 'exit code 3', durationMs: 29_000 },
        { type: 'restart', reason: 'exit', delayMs: 2000 },
        { type: 'schedule', at: 32_000 },
      ],
      { failedStarts: 0, streak: 2, lastExit: { status: fail, reason: 'exit', cause: 'error', at: 30_000 } },
    ],
    reaped: invalid,
    backoff_done: invalid,
  },
  backoff: {
    start: invalid,
    spawned: [{ kind: 'starting', pid: 11, spawnedAt: 50_000 }, []],
    spawn_failed: spawnFailed,
    ready: invalid,
    stop: [W.backoff.state, []], // only a shutdown cancels a backoff (below)
    kill_due: noop,
    reaped: invalid,
    output_done: invalid,
    backoff_done: [W.backoff.state, [{ type: 'spawn' }], { restarts: 3 }],
  },
};

test('every state × event cell has an expectation, and the table agrees on its kind', () => {
  for (const s of STATE_KINDS) {
    for (const e of EVENT_TYPES) {
      const want = CELLS[s]?.[e];
      assert.notEqual(want, undefined, `cell ${s} × ${e} is spelled out`);
      assert.equal(cellKind(s, e), typeof want === 'string' ? want : 'transition', `${s} × ${e}`);
    }
  }
  assert.equal(Object.keys(CELLS).length, STATE_KINDS.length);
});

for (const s of STATE_KINDS) {
  for (const e of EVENT_TYPES) {
    const want = CELLS[s][e];
    test(`cell ${s} × ${e}: ${typeof want === 'string' ? want : want[0].kind}`, () => {
      const w = W[s];
      if (want === invalid) {
        assert.throws(() => next(w, E[e], policy('always')), InvalidTransition);
        return;
      }
      const [w2, effects] = next(w, E[e], policy('always'));
      if (want === noop) {
        assert.deepEqual(w2, w);
        assert.deepEqual(effects, []);
        return;
      }
      const [state, fx, changed = {}] = want;
      assert.deepEqual(w2.state, state);
      assert.deepEqual(effects, fx);
      assert.deepEqual({ ...w2, state: undefined }, { ...w, ...changed, state: undefined });
    });
  }
}

// The cells whose outcome depends on the event's reason or the policy.
const reaped = (reason, status, at, readyAt = 2000) => ({ ...base, streak: 0, failedStarts: 0, state: { kind: 'reaped', pid: 10, spawnedAt: 1000, readyAt, reason, status, at } });
const done = { type: 'output_done', at: 99_999 };
// Without what the shell saw (no lines, no SIGKILL sent, no OOM kill), the cause follows the status or the stop's reason.
const causeOf = (reason, status) =>
  ['exit', 'signal'].includes(reason) ? (status.signal === 'SIGKILL' ? ['killed', 'SIGKILL, not sent by corral'] : status.signal !== null || status.code !== 0 ? ['error', status.signal ?? `exit code ${status.code}`] : ['clean', 'exit code 0']) : [reason, status.signal ?? `exit code ${status.code}`];
const exitFx = (reason, status, at, spawnedAt = 1000) => {
  const [cause, detail] = causeOf(reason, status);
  return { type: 'exit', pid: 10, status, reason, cause, detail, durationMs: at - spawnedAt };
};

const variants = [
  // [name, worker, event, policy, next state kind, effects]
  ['a shutdown stop sends the stop signal and arms no kill (one deadline for all)', W.ready, { type: 'stop', reason: 'shutdown', at: 3 }, 'always', 'stopping', [{ type: 'signal', signal: 'stop' }]],
  ['a shutdown while stopping for another reason takes over', W.stopping, { type: 'stop', reason: 'shutdown', at: 3 }, 'always', 'stopping', []],
  ['a shutdown during backoff cancels the restart and is final', W.backoff, { type: 'stop', reason: 'shutdown', at: 3 }, 'always', 'exited', [{ type: 'cancel_schedule' }, { type: 'final' }]],
  ['shutdown: final whatever the policy', reaped('shutdown', term, 30_000), done, 'always', 'exited', [exitFx('shutdown', term, 30_000), { type: 'final' }]],
  ['rolling: the successor at once, even with restart never', reaped('rolling', term, 30_000), done, 'never', 'exited', [exitFx('rolling', term, 30_000), { type: 'restart', reason: 'rolling', delayMs: 0 }, { type: 'spawn' }]],
  ['watchdog: backoff whatever the policy', reaped('watchdog', killed, 30_000), done, 'never', 'backoff', [exitFx('watchdog', killed, 30_000), { type: 'restart', reason: 'watchdog', delayMs: 1000 }, { type: 'schedule', at: 31_000 }]],
  ['max_rss: backoff', reaped('max_rss', term, 30_000), done, 'on-failure', 'backoff', [exitFx('max_rss', term, 30_000), { type: 'restart', reason: 'max_rss', delayMs: 1000 }, { type: 'schedule', at: 31_000 }]],
  ['never: an exit is final', reaped(null, ok, 30_000), done, 'never', 'exited', [exitFx('exit', ok, 30_000), { type: 'final' }]],
  ['on-failure: a clean exit is final', reaped(null, ok, 30_000), done, 'on-failure', 'exited', [exitFx('exit', ok, 30_000), { type: 'final' }]],
  ['on-failure: a failure restarts', reaped(null, fail, 30_000), done, 'on-failure', 'backoff', [exitFx('exit', fail, 30_000), { type: 'restart', reason: 'exit', delayMs: 1000 }, { type: 'schedule', at: 31_000 }]],
  ['on-failure: a signal restarts, reason signal', reaped(null, killed, 30_000), done, 'on-failure', 'backoff', [exitFx('signal', killed, 30_000), { type: 'restart', reason: 'signal', delayMs: 1000 }, { type: 'schedule', at: 31_000 }]],
  ['always: a clean exit restarts', reaped(null, ok, 30_000), done, 'always', 'backoff', [exitFx('exit', ok, 30_000), { type: 'restart', reason: 'exit', delayMs: 1000 }, { type: 'schedule', at: 31_000 }]],
  ['a spawn failure with never is final', newWorker(), { type: 'spawn_failed', status: { code: 127, signal: null }, at: 0 }, 'never', 'exited', [{ type: 'final' }]],
];

for (const [name, w, e, p, kind, effects] of variants) {
  test(`variant: ${name}`, () => {
    const [w2, eff] = next(w, e, policy(p));
    assert.equal(w2.state.kind, kind);
    assert.deepEqual(eff, effects);
  });
}

test('backoff: min(60 s, 2^(n-1) s) plus up to 10 % jitter', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, () => 0)), [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  assert.equal(backoffDelay(1, () => 0.999), 1100);
  assert.equal(backoffDelay(10, () => 0.5), 63000);
});

/** spawned at t, (ready at t+readyAfter), reaped at t+dies, output drained: the worker after it. */
function life(w, p, t, dies, status, readyAfter = null) {
  const steps = [{ type: 'spawned', pid: 100 + t, at: t }];
  if (readyAfter !== null) steps.push({ type: 'ready', at: t + readyAfter });
  steps.push({ type: 'reaped', status, at: t + dies }, { type: 'output_done', at: t + dies + 1 });
  let effects = [];
  for (const e of steps) [w, effects] = next(w, e, p);
  return [w, effects];
}

test('five failed starts in a row give up, with growing delays before', () => {
  const p = policy('always');
  let w = newWorker();
  let t = 0;
  const delays = [];
  for (let i = 1; i <= 5; i++) {
    if (i > 1) [w] = next(w, { type: 'backoff_done', at: t }, p);
    const [w2, eff] = life(w, p, t, 500, fail); // dies half a second after its spawn
    w = w2;
    if (i < 5) {
      assert.equal(w.state.kind, 'backoff', `attempt ${i}`);
      delays.push(eff.find((e) => e.type === 'restart').delayMs);
      t = w.state.until;
    } else {
      assert.deepEqual(eff.map((e) => e.type), ['exit', 'final', 'give_up']);
      assert.match(eff[2].why, /5 failed starts in a row/);
      assert.equal(w.state.kind, 'exited');
    }
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000]);
  assert.equal(w.restarts, 4);
});

test('a start that lasted beyond 10 s after ready resets the failed-start count; 60 s ready resets the streak', () => {
  const p = policy('always');
  let [w] = life(newWorker(), p, 0, 500, fail);
  assert.equal(w.failedStarts, 1);
  [w] = next(w, { type: 'backoff_done', at: 2000 }, p);
  [w] = life(w, p, 2000, 13_000, fail, 100);
  assert.equal(w.failedStarts, 0);
  assert.equal(w.streak, 2, 'the backoff streak only resets after 60 s ready');
  [w] = next(w, { type: 'backoff_done', at: 20_000 }, p);
  const [w2, eff] = life(w, p, 20_000, 70_000, fail, 100);
  assert.equal(w2.streak, 1, 'reset after 60 s ready, then this restart is the first again');
  assert.equal(eff.find((e) => e.type === 'restart').delayMs, 1000);
});

test('a rolling stop of a worker that ignores it: kill_due sends SIGKILL, the reap cancels nothing twice', () => {
  const p = policy('never');
  let [w, fx] = next(W.ready, { type: 'stop', reason: 'rolling', at: 3000 }, p);
  assert.deepEqual(fx, [{ type: 'signal', signal: 'stop' }, { type: 'arm_kill' }]);
  [w, fx] = next(w, { type: 'kill_due', at: 28_000 }, p);
  assert.deepEqual(fx, [{ type: 'signal', signal: 'SIGKILL' }]);
  [w, fx] = next(w, { type: 'reaped', status: killed, at: 28_001 }, p);
  assert.deepEqual(fx, [{ type: 'cancel_kill' }]);
  [w, fx] = next(w, { type: 'output_done', at: 28_002 }, p);
  assert.deepEqual(fx.map((e) => e.type), ['exit', 'restart', 'spawn']);
  assert.deepEqual(w.lastExit, { status: killed, reason: 'rolling', cause: 'rolling', at: 28_001 });
});

test('give_up names the cause of the last failed start, from what the shell saw', () => {
  const p = policy('always');
  const tb = 'Traceback (most recent call last):\n  File "serve.py", line 3\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 9.00 GiB';
  let w = newWorker();
  let fx = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) [w] = next(w, { type: 'backoff_done', at: i * 100_000 }, p);
    [w] = next(w, { type: 'spawned', pid: 50 + i, at: i * 100_000 }, p);
    [w] = next(w, { type: 'reaped', status: fail, at: i * 100_000 + 500 }, p);
    [w, fx] = next(w, { type: 'output_done', at: i * 100_000 + 501, seen: { killSent: false, oomRose: false, lastLines: [tb] } }, p);
  }
  assert.equal(fx[0].cause, 'cuda_oom');
  assert.match(fx.find((e) => e.type === 'give_up').why, /5 failed starts in a row .*the last: cuda_oom \(torch\.OutOfMemoryError: CUDA out of memory\. Tried to allocate 9\.00 GiB\)/);
  assert.equal(w.lastExit.cause, 'cuda_oom');
});

