// The supervisor against a fake process table and a mocked clock: the whole stop sequence
// of SPEC §7 (drain delay, pools in reverse order, grace from the first stop signal,
// strays, a second signal), give-up, the rolling restart, --max-rss and the exit codes of
// SPEC §1, each in milliseconds of real time.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { Supervisor } from '../../dist/supervisor/supervisor.js';

const SIGNALS = { SIGTERM: 15, SIGKILL: 9, SIGINT: 2, SIGUSR2: 12 };

/** Processes that live until a signal they do not ignore, or until the test ends them. */
class World {
  constructor() {
    this.next = 100;
    this.procs = new Map(); // pid -> { pool, index, alive, ignore: Set<signal> }
    this.zombies = [];
    this.sent = []; // [at, 'group'|'pid', target, signal]
    this.strays = new Set();
    this.behaviour = () => ({ ignore: [] }); // per launch: what the new process ignores, and whether it fails to start
    this.launcher = {
      launch: ({ pool, index }) => {
        const b = this.behaviour(pool, index);
        if (b.fail) {
          const err = new Error('command not found: nope');
          err.exitCode = 127;
          throw err;
        }
        const pid = this.next++;
        this.procs.set(pid, { pool: pool.name, index, alive: true, ignore: new Set(b.ignore) });
        return { pid, output: undefined, waited: false };
      },
    };
    this.addon = {
      reap: () => {
        const out = this.zombies.flat();
        this.zombies = [];
        return out;
      },
      notifyOpen: () => 0,
      foreground: () => true,
    };
    this.signaller = {
      group: (pgid, signal) => {
        this.sent.push([Date.now(), 'group', pgid, signal]);
        const p = this.procs.get(pgid);
        if (!p?.alive) return false;
        if (!p.ignore.has(signal) || signal === 'SIGKILL') this.die(pgid, { signal });
        return true;
      },
      pid: (pid, signal) => {
        this.sent.push([Date.now(), 'pid', pid, signal]);
        if (this.strays.has(pid) && (signal === 'SIGKILL' || !this.strayIgnoresTerm)) this.strays.delete(pid);
      },
      alive: (pgid) => this.procs.get(pgid)?.alive === true,
    };
    this.descendants = () => [...this.strays];
  }

  /** The process ends: a zombie for the next reaping pass. */
  die(pid, { code = null, signal = null }) {
    const p = this.procs.get(pid);
    p.alive = false;
    this.zombies.push([pid, signal === null ? code : -1, signal === null ? 0 : SIGNALS[signal]]);
  }

  live(pool) {
    return [...this.procs].filter(([, p]) => p.alive && (pool === undefined || p.pool === pool)).map(([pid]) => pid);
  }

  signalsTo(kind = 'group') {
    return this.sent.filter((s) => s[1] === kind).map(([at, , target, signal]) => [at, target, signal]);
  }
}

function logger() {
  const records = [];
  const at = (level) => (fields, msg) => records.push({ level, ...fields, msg });
  return { records, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug'), fatal: at('fatal'), trace: at('trace') };
}

const pool = (name, workers, more = {}) => ({
  name,
  command: ['serve'],
  workers,
  restart: workers === 1 ? 'never' : 'always',
  stopSignal: 'SIGTERM',
  ready: { kind: 'started' },
  readyTimeoutMs: 600_000,
  watchdogMs: null,
  watchdogSignal: 'SIGQUIT',
  onCudaError: 'restart',
  watch: [],
  watchIgnore: [],
  portBase: null,
  minReady: 1,
  maxRssBytes: null,
  pty: false,
  ...more,
});

function start(world, pools, opts = {}) {
  const log = logger();
  const sup = new Supervisor({
    pools,
    graceMs: 25_000,
    interactive: false,
    logger: log,
    addon: world.addon,
    launcher: world.launcher,
    signaller: world.signaller,
    descendants: world.descendants,
    random: () => 0,
    measure: () => ({ rssBytes: 1000, cpuSeconds: 0 }),
    env: { PATH: '/bin' },
    ...opts,
  });
  let code = null;
  const done = sup.run().then((c) => (code = c));
  return { sup, log, done, code: () => code };
}

const T0 = 1_000_000;
beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: T0 });
});
afterEach(() => {
  mock.timers.reset();
});
/** Advances the mocked clock in 10 ms steps (a callback sees the time its step ends at). */
const tick = (ms) => {
  for (let left = ms; left > 0; left -= 10) mock.timers.tick(Math.min(10, left));
};
/** Lets promise callbacks (the exit code) run. */
const settle = () => new Promise((r) => setImmediate(r));

test('SPEC §7: drain delay, then pools stopped last to first, exit 0 when all went in time', async () => {
  const w = new World();
  const { sup, log, done, code } = start(w, [pool('a', 2), pool('b', 1)], { drainDelayMs: 5000 });
  assert.equal(w.live().length, 3);
  assert.equal(sup.snapshot().draining, false);
  sup.handleSignal('SIGTERM');
  assert.equal(sup.snapshot().draining, true, '/readyz is 503 at once');
  assert.equal(sup.snapshot().live, true, '/livez stays 200');
  tick(4990);
  assert.deepEqual(w.signalsTo(), [], 'nobody is signalled during the drain delay');
  tick(10);
  // b (the last pool) first; a only once b's group is gone (one poll later).
  const [[atB, , sigB], ...rest] = w.signalsTo();
  assert.equal(atB, T0 + 5000);
  assert.equal(sigB, 'SIGTERM');
  assert.deepEqual(rest, []);
  tick(20);
  const toA = w.signalsTo().slice(1);
  assert.deepEqual(toA.map(([, pid, sig]) => [w.procs.get(pid).pool, sig]), [['a', 'SIGTERM'], ['a', 'SIGTERM']]);
  tick(50);
  await settle();
  assert.equal(code(), 0);
  await done;
  assert.ok(log.records.some((r) => r.event === 'stop' && r.msg === 'stopping' && r.reason === 'SIGTERM'));
  assert.equal(log.records.filter((r) => r.event === 'exit' && r.reason === 'shutdown').length, 3);
});

test('SPEC §7: grace counts from the first stop signal; what is left is SIGKILLed, exit 1 in pool mode', async () => {
  const w = new World();
  w.behaviour = (p) => ({ ignore: p.name === 'b' ? ['SIGTERM'] : [] });
  const { sup, log, code } = start(w, [pool('a', 2), pool('b', 2)]);
  sup.handleSignal('SIGTERM');
  tick(24_990);
  assert.equal(w.live('b').length, 2, 'b ignores SIGTERM');
  assert.equal(w.live('a').length, 2, 'a is not signalled while b still runs');
  assert.ok(log.records.some((r) => r.event === 'stop' && Array.isArray(r.running)), 'progress is logged once a second');
  tick(20);
  const kills = w.signalsTo().filter(([, , s]) => s === 'SIGKILL');
  assert.equal(kills.length, 2);
  assert.ok(kills.every(([at]) => at === T0 + 25_000));
  assert.equal(w.live().length, 0, 'a was stopped too, and never restarted');
  assert.equal(w.procs.size, 4, 'no worker was restarted');
  tick(50);
  await settle();
  assert.equal(code(), 1);
  assert.ok(log.records.some((r) => r.msg === 'grace period over: sending SIGKILL'));
});

test('SPEC §7: strays left below corral get SIGTERM, then SIGKILL at the deadline', async () => {
  const w = new World();
  w.strays = new Set([900, 901]);
  w.strayIgnoresTerm = true;
  const { sup, code } = start(w, [pool('a', 2)]);
  sup.handleSignal('SIGTERM');
  tick(20);
  assert.deepEqual(w.signalsTo('pid').map(([, pid, s]) => [pid, s]), [[900, 'SIGTERM'], [901, 'SIGTERM']]);
  tick(24_970);
  assert.equal(code(), null);
  tick(20);
  assert.deepEqual(w.signalsTo('pid').slice(2).map(([, pid, s]) => [pid, s]), [[900, 'SIGKILL'], [901, 'SIGKILL']]);
  tick(20);
  await settle();
  assert.equal(code(), 1);
});

test('a second SIGTERM during the drain delay kills everything at once', async () => {
  const w = new World();
  w.behaviour = () => ({ ignore: ['SIGTERM'] });
  const { sup, log, code } = start(w, [pool('a', 2)], { drainDelayMs: 10_000 });
  sup.handleSignal('SIGTERM');
  tick(100);
  sup.handleSignal('SIGTERM');
  assert.equal(w.live().length, 0);
  assert.ok(w.signalsTo().filter(([, , s]) => s === 'SIGKILL').every(([at]) => at === T0 + 100));
  assert.ok(log.records.some((r) => r.event === 'signal' && r.action === 'escalate'));
  tick(20);
  await settle();
  assert.equal(code(), 1);
  assert.equal(w.procs.size, 2, 'killed workers are not restarted');
});

test('init mode: the worker exit code, and 143 when SIGTERM killed it', async () => {
  const w = new World();
  const a = start(w, [pool('main', 1)]);
  w.die(100, { code: 7 });
  tick(1000); // the reaper's backstop pass
  tick(20);
  await settle();
  assert.equal(a.code(), 7);

  const w2 = new World();
  const b = start(w2, [pool('main', 1)]);
  b.sup.handleSignal('SIGINT');
  tick(20);
  await settle();
  assert.equal(b.code(), 143);
});

test('five failed starts in a row: the pool gives up, /livez fails, exit 1', async () => {
  const w = new World();
  w.behaviour = () => ({ fail: true });
  const { sup, log, code } = start(w, [pool('a', 1, { restart: 'always' })]);
  tick(1000 + 2000 + 4000 + 8000);
  assert.equal(sup.snapshot().live, false);
  const giveUp = log.records.find((r) => r.event === 'give_up');
  assert.match(giveUp.why, /5 failed starts in a row/);
  assert.deepEqual(
    log.records.filter((r) => r.event === 'backoff').map((r) => r.delay_ms),
    [1000, 2000, 4000, 8000],
  );
  tick(20);
  await settle();
  assert.equal(code(), 1);
});

test('SIGHUP rolls one worker at a time: the next is stopped once its predecessor is ready again', async () => {
  const w = new World();
  const { sup, log } = start(w, [pool('a', 3)]);
  assert.deepEqual(w.live(), [100, 101, 102]);
  sup.handleSignal('SIGHUP');
  assert.deepEqual(w.signalsTo().map(([, pid, s]) => [pid, s]), [[100, 'SIGTERM']], 'one worker at a time');
  const order = [];
  for (let i = 0; i < 3; i++) {
    tick(1000); // reaping pass: the stopped worker's successor starts, and is ready (`started`)
    order.push(w.live().length);
  }
  assert.deepEqual(w.signalsTo().map(([, pid]) => pid), [100, 101, 102]);
  assert.deepEqual(w.live(), [103, 104, 105]);
  assert.ok(order.every((n) => n >= 2), 'never more than one worker down');
  assert.equal(log.records.filter((r) => r.event === 'restart' && r.reason === 'rolling').length, 3);
  sup.handleSignal('SIGTERM');
  tick(100);
});

test('--max-rss recycles a worker whose tree is over the limit (reason max_rss), not while stopping', async () => {
  const w = new World();
  let rss = 1000;
  const { sup, log } = start(w, [pool('a', 1, { restart: 'always', maxRssBytes: 5000 })], { measure: () => ({ rssBytes: rss, cpuSeconds: 1 }) });
  tick(2000);
  await settle(); // a sampling round reads trees asynchronously
  assert.equal(w.signalsTo().length, 0);
  rss = 6000;
  tick(2000);
  await settle();
  assert.deepEqual(w.signalsTo().map(([, pid, s]) => [pid, s]), [[100, 'SIGTERM']]);
  tick(1000); // reaped; backoff 1 s
  tick(1000);
  assert.deepEqual(w.live(), [101]);
  assert.ok(log.records.some((r) => r.event === 'exit' && r.reason === 'max_rss'));
  assert.equal(sup.snapshot().pools[0].workers[0].lastExit.reason, 'max_rss');
  assert.equal(sup.stats.restarts.get('a\u00000\u0000max_rss'), 1);
  sup.handleSignal('SIGTERM');
  tick(100);
});

test('forwarded signals go to every live worker group', () => {
  const w = new World();
  w.behaviour = () => ({ ignore: ['SIGUSR2'] });
  const { sup } = start(w, [pool('a', 2)]);
  sup.handleSignal('SIGUSR2');
  assert.deepEqual(w.signalsTo().map(([, pid, s]) => [pid, s]), [[100, 'SIGUSR2'], [101, 'SIGUSR2']]);
  assert.equal(sup.stats.signalsForwarded.get('SIGUSR2'), 1);
  sup.handleSignal('SIGTERM');
  tick(100);
});
