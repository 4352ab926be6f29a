// corral's own phase (SPEC §7), cell by cell: every phase × event with its next state and
// effects spelled out, then the exit code of SPEC §1 as a table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitCode, initialShutdown, nextShutdown } from '../../dist/supervisor/shutdown.js';

const C = { pools: 2, graceMs: 25_000, drainDelayMs: 5000, killWaitMs: 2000 };
const T = 100_000; // events happen at T unless said otherwise

const S = {
  running: initialShutdown(),
  draining: { phase: { kind: 'draining', until: T + 10 }, cause: 'SIGTERM', killedAny: false },
  stopping: { phase: { kind: 'stopping', pool: 1, deadline: T + 20_000, started: T - 5000, lastProgress: T - 500 }, cause: 'SIGTERM', killedAny: false },
  sweeping: { phase: { kind: 'sweeping', deadline: T + 20_000, started: T - 5000, lastProgress: T - 500 }, cause: 'SIGTERM', killedAny: false },
  settling: { phase: { kind: 'settling', until: T + 1000 }, cause: 'SIGTERM', killedAny: true },
  done: { phase: { kind: 'done' }, cause: 'SIGTERM', killedAny: false },
};
const E = {
  stop: { type: 'stop', cause: 'SIGTERM', at: T },
  all_final: { type: 'all_final', at: T },
  tick: { type: 'tick', at: T },
  pool_empty: { type: 'pool_empty', at: T },
  tree_empty: { type: 'tree_empty', at: T },
  settled: { type: 'settled', at: T },
};
const same = (name) => [S[name], []];
const escalate = (from) => [{ ...S[from], phase: { kind: 'settling', until: T + 2000 }, killedAny: true }, [{ type: 'kill_all', why: 'second_signal' }]];

const CELLS = {
  running: {
    stop: [{ phase: { kind: 'draining', until: T + 5000 }, cause: 'SIGTERM', killedAny: false }, [{ type: 'drain', ms: 5000 }]],
    all_final: [{ phase: { kind: 'sweeping', deadline: T + 25_000, started: T, lastProgress: T }, cause: null, killedAny: false }, [{ type: 'term_strays' }]],
    tick: same('running'),
    pool_empty: same('running'),
    tree_empty: same('running'),
    settled: same('running'),
  },
  draining: {
    stop: escalate('draining'),
    all_final: same('draining'),
    tick: same('draining'), // T < until
    pool_empty: same('draining'),
    tree_empty: same('draining'),
    settled: same('draining'),
  },
  stopping: {
    stop: escalate('stopping'),
    all_final: same('stopping'),
    tick: same('stopping'), // within the second since the last progress record
    // pool 1 is gone: pool 0 next, the deadline unchanged (grace counts from the first stop signal)
    pool_empty: [{ ...S.stopping, phase: { kind: 'stopping', pool: 0, deadline: T + 20_000, started: T - 5000, lastProgress: T } }, [{ type: 'stop_pool', pool: 0, first: false }]],
    tree_empty: same('stopping'),
    settled: same('stopping'),
  },
  sweeping: {
    stop: escalate('sweeping'),
    all_final: same('sweeping'),
    tick: same('sweeping'),
    pool_empty: same('sweeping'),
    tree_empty: [{ ...S.sweeping, phase: { kind: 'settling', until: T + 2000 } }, []],
    settled: same('sweeping'),
  },
  settling: {
    stop: same('settling'),
    all_final: same('settling'),
    tick: same('settling'),
    pool_empty: same('settling'),
    tree_empty: same('settling'),
    settled: [{ ...S.settling, phase: { kind: 'done' } }, [{ type: 'finish' }]],
  },
  done: {
    stop: same('done'),
    all_final: same('done'),
    tick: same('done'),
    pool_empty: same('done'),
    tree_empty: same('done'),
    settled: same('done'),
  },
};

test('every phase × event cell is spelled out', () => {
  assert.deepEqual(Object.keys(CELLS).sort(), Object.keys(S).sort());
  for (const row of Object.values(CELLS)) assert.deepEqual(Object.keys(row).sort(), Object.keys(E).sort());
});

for (const [phase, row] of Object.entries(CELLS)) {
  for (const [event, [state, effects]] of Object.entries(row)) {
    test(`cell ${phase} × ${event}`, () => {
      const [s, fx] = nextShutdown(S[phase], E[event], C);
      assert.deepEqual(s, state);
      assert.deepEqual(fx, effects);
    });
  }
}

const variants = [
  // [name, state, event, config, next state, effects]
  ['no drain delay: the last pool is stopped at once', S.running, E.stop, { ...C, drainDelayMs: 0 },
    { phase: { kind: 'stopping', pool: 1, deadline: T + 25_000, started: T, lastProgress: T }, cause: 'SIGTERM', killedAny: false }, [{ type: 'stop_pool', pool: 1, first: true }]],
  ['a pool that gives up skips the drain delay', S.running, { type: 'stop', cause: 'give_up', at: T }, C,
    { phase: { kind: 'stopping', pool: 1, deadline: T + 25_000, started: T, lastProgress: T }, cause: 'give_up', killedAny: false }, [{ type: 'stop_pool', pool: 1, first: true }]],
  ['an internal error skips the drain delay', S.running, { type: 'stop', cause: 'internal_error', at: T }, C,
    { phase: { kind: 'stopping', pool: 1, deadline: T + 25_000, started: T, lastProgress: T }, cause: 'internal_error', killedAny: false }, [{ type: 'stop_pool', pool: 1, first: true }]],
  ['the drain delay ends: grace starts with the first stop signal', S.draining, { type: 'tick', at: T + 10 }, C,
    { phase: { kind: 'stopping', pool: 1, deadline: T + 10 + 25_000, started: T + 10, lastProgress: T + 10 }, cause: 'SIGTERM', killedAny: false }, [{ type: 'stop_pool', pool: 1, first: true }]],
  ['the first pool is gone: sweep the strays, same deadline', { ...S.stopping, phase: { ...S.stopping.phase, pool: 0 } }, E.pool_empty, C,
    { ...S.stopping, phase: { kind: 'sweeping', deadline: T + 20_000, started: T - 5000, lastProgress: T } }, [{ type: 'term_strays' }]],
  ['a second past the last progress record: another', S.stopping, { type: 'tick', at: T + 500 }, C,
    { ...S.stopping, phase: { ...S.stopping.phase, lastProgress: T + 500 } }, [{ type: 'progress', pool: 1, elapsedMs: 5500 }]],
  ['sweeping progress covers the whole tree', S.sweeping, { type: 'tick', at: T + 500 }, C,
    { ...S.sweeping, phase: { ...S.sweeping.phase, lastProgress: T + 500 } }, [{ type: 'progress', pool: null, elapsedMs: 5500 }]],
  ['grace over while stopping: SIGKILL what is left', S.stopping, { type: 'tick', at: T + 20_000 }, C,
    { ...S.stopping, phase: { kind: 'settling', until: T + 22_000 }, killedAny: true }, [{ type: 'kill_all', why: 'grace' }]],
  ['grace over while sweeping: SIGKILL what is left', S.sweeping, { type: 'tick', at: T + 20_000 }, C,
    { ...S.sweeping, phase: { kind: 'settling', until: T + 22_000 }, killedAny: true }, [{ type: 'kill_all', why: 'grace' }]],
  ['settling gives up waiting for processes that never go (D state)', S.settling, { type: 'tick', at: T + 1000 }, C,
    { ...S.settling, phase: { kind: 'done' } }, [{ type: 'finish' }]],
  ['a pool giving up while every worker already ended is remembered', { ...S.sweeping, cause: null }, { type: 'stop', cause: 'give_up', at: T }, C,
    { ...S.sweeping, cause: 'give_up' }, []],
  ['an internal error while stopping changes nothing', S.stopping, { type: 'stop', cause: 'internal_error', at: T }, C, S.stopping, []],
  ['SIGINT escalates as SIGTERM does', S.stopping, { type: 'stop', cause: 'SIGINT', at: T }, C,
    { ...S.stopping, phase: { kind: 'settling', until: T + 2000 }, killedAny: true }, [{ type: 'kill_all', why: 'second_signal' }]],
];

for (const [name, s0, e, c, state, effects] of variants) {
  test(`variant: ${name}`, () => {
    const [s, fx] = nextShutdown(s0, e, c);
    assert.deepEqual(s, state);
    assert.deepEqual(fx, effects);
  });
}

test('a whole stop of two pools, step by step', () => {
  let s = initialShutdown();
  const seen = [];
  const send = (e, c = C) => {
    const [s2, fx] = nextShutdown(s, e, c);
    s = s2;
    seen.push(...fx.map((f) => f.type + (f.pool === undefined ? '' : `:${f.pool}`)));
  };
  send({ type: 'stop', cause: 'SIGTERM', at: 0 });
  send({ type: 'tick', at: 4999 });
  send({ type: 'tick', at: 5000 });
  send({ type: 'pool_empty', at: 5100 });
  send({ type: 'pool_empty', at: 5200 });
  send({ type: 'tree_empty', at: 5300 });
  send({ type: 'settled', at: 5301 });
  assert.deepEqual(seen, ['drain', 'stop_pool:1', 'stop_pool:0', 'term_strays', 'finish']);
  assert.equal(s.phase.kind, 'done');
  assert.equal(exitCode({ initMode: false, cause: s.cause, killedAny: s.killedAny, exits: [{ code: null, signal: 'SIGTERM' }] }), 0);
});

const sig = (signal) => ({ code: null, signal });
const code = (c) => ({ code: c, signal: null });
const exitCodes = [
  // [name, outcome, code]
  ['init mode: the worker code', { initMode: true, cause: null, killedAny: false, exits: [code(7)] }, 7],
  ['init mode: 0', { initMode: true, cause: null, killedAny: false, exits: [code(0)] }, 0],
  ['init mode: SIGTERM killed it, 143', { initMode: true, cause: 'SIGTERM', killedAny: false, exits: [sig('SIGTERM')] }, 143],
  ['init mode: SIGKILL after grace, 137', { initMode: true, cause: 'SIGTERM', killedAny: true, exits: [sig('SIGKILL')] }, 137],
  ['init mode: a worker that handled SIGTERM and exited 0', { initMode: true, cause: 'SIGINT', killedAny: false, exits: [code(0)] }, 0],
  ['init mode: command not found, 127', { initMode: true, cause: null, killedAny: false, exits: [code(127)] }, 127],
  ['init mode: never ran', { initMode: true, cause: 'SIGTERM', killedAny: false, exits: [null] }, 0],
  ['init mode: an internal error is 1', { initMode: true, cause: 'internal_error', killedAny: false, exits: [code(0)] }, 1],
  ['pool mode: a requested stop, all gone in time', { initMode: false, cause: 'SIGTERM', killedAny: false, exits: [sig('SIGTERM'), code(0)] }, 0],
  ['pool mode: a requested stop that needed SIGKILL', { initMode: false, cause: 'SIGTERM', killedAny: true, exits: [sig('SIGKILL'), code(0)] }, 1],
  ['pool mode: a pool gave up', { initMode: false, cause: 'give_up', killedAny: false, exits: [code(3), code(3)] }, 1],
  ['pool mode: all ended on their own, the first failing one', { initMode: false, cause: null, killedAny: false, exits: [code(0), code(4), sig('SIGSEGV')] }, 4],
  ['pool mode: all ended on their own, a signal first', { initMode: false, cause: null, killedAny: false, exits: [sig('SIGSEGV'), code(4)] }, 139],
  ['pool mode: all ended on their own, cleanly', { initMode: false, cause: null, killedAny: false, exits: [code(0), code(0)] }, 0],
  ['pool mode: an internal error', { initMode: false, cause: 'internal_error', killedAny: false, exits: [code(0)] }, 1],
];

for (const [name, outcome, want] of exitCodes) {
  test(`exit code: ${name} -> ${want}`, () => {
    assert.equal(exitCode(outcome), want);
  });
}
