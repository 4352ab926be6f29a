// Drop-in for tini and dumb-init (SPEC §12, issue 16): with --log-format raw,
// `corral --http off -- CMD` behaves as `tini -g -- CMD` for everything a process can observe.
// The cases are those of tini's test/run_inner_tests.py (every exit status, death by signal,
// signals to the process group, reaping with a negative control) and dumb-init's tests/
// (print_signals for every signal, exit statuses, shell background children, cwd, zombies),
// written anew; each runs with corral as PID 1 of a new PID namespace and as a child subreaper,
// in init mode, and, where tini is installed, beside `tini -g` run the same way.
//
// Three kinds of case:
// - the drop-in behaviour: asserted;
// - where SPEC makes corral differ from tini on purpose (SIGTERM/SIGINT start the stop sequence
//   and reach the worker as its stop signal, SIGHUP rolls the worker, the grace period ends in
//   SIGKILL, leftovers are stopped at exit): SPEC's behaviour is asserted, and README's "Moving
//   from tini / dumb-init" says why;
// - where corral differs from tini and nothing in SPEC asks for it: a `todo` test that asserts
//   tini's behaviour. It runs every time and prints what it saw, without failing the suite;
//   drop `todo` once the difference is fixed.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import pty from 'node-pty';
import { childrenOf, corralBin, fixture, root, until } from '../helpers.js';

const RAW = ['--log-format', 'raw', '--http', 'off'];
const MODES = [
  { pid1: true, mode: 'as PID 1' },
  { pid1: false, mode: 'as subreaper' },
];
// Concurrent corrals in the sweeps: each costs ~0.3 s of CPU (Node's start-up) on 2 cores.
const PARALLEL = 6;
const S = constants.signals;

const TINI = spawnSync('sh', ['-c', 'command -v tini'], { encoding: 'utf8' }).stdout.trim() || null;
const NO_TINI = 'tini is not installed (apt-get install tini): the comparison with tini is skipped';

/** tini first, as the control that the check itself works, where it is installed; then corral. */
function inits() {
  if (!TINI) console.log(NO_TINI);
  return TINI ? ['tini', 'corral'] : ['corral'];
}

/** The test's environment without CORRAL_* (a CORRAL_* set around the test would configure the corral under test). */
function baseEnv(extra = {}) {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CORRAL_'))), ...extra };
}

/**
 * The command line that runs cmd under `init` (corral in raw format with --http off, or tini -g),
 * either as PID 1 of a new PID namespace or as a child subreaper (corral makes itself one; tini
 * needs -s).
 */
function argvFor(init, pid1, args, cmd) {
  const inner = init === 'corral' ? [process.execPath, corralBin, ...RAW, ...args, '--', ...cmd] : [TINI, ...(pid1 ? [] : ['-s']), '-g', ...args, '--', ...cmd];
  // --kill-child: when the test ends unshare, the namespace's PID 1 and so the namespace go too.
  return pid1 ? ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', ...inner] : inner;
}

const live = new Set();

/** Every live descendant of pid, from /proc/<pid>/task/*\/children. */
function descendants(pid) {
  const out = [];
  for (let queue = [pid], p = queue.shift(); p !== undefined; p = queue.shift()) {
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        const kids = readFileSync(`/proc/${p}/task/${t}/children`, 'latin1').split(' ').filter(Boolean).map(Number);
        out.push(...kids);
        queue.push(...kids);
      } catch {
        // gone
      }
    }
  }
  return out;
}

afterEach(() => {
  for (const child of live) {
    for (const pid of [child.pid, ...descendants(child.pid)].reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  live.clear();
});

/**
 * Starts cmd under an init (see argvFor), or `argv` as given. stdout and stderr are kept as
 * bytes, and as latin1 text for matching: in raw format the worker's lines are corral's stdout.
 */
function start(cmd, { init = 'corral', pid1 = false, args = [], env = baseEnv(), cwd = root, stdio = ['ignore', 'pipe', 'pipe'], argv } = {}) {
  const line = argv ?? argvFor(init, pid1, args, cmd);
  const child = spawn(line[0], line.slice(1), { cwd, env, stdio });
  live.add(child);
  const bytes = { stdout: [], stderr: [] };
  const text = { stdout: '', stderr: '' };
  const waiters = [];
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      const m = text[w.stream].match(w.re);
      if (m) {
        waiters.splice(i, 1);
        w.resolve(m);
      }
    }
  };
  for (const s of ['stdout', 'stderr']) {
    child[s].on('data', (d) => {
      bytes[s].push(d);
      text[s] += d.toString('latin1');
      check();
    });
  }
  const started = Date.now();
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      live.delete(child);
      for (const w of waiters.splice(0)) w.reject(new Error(`${line.join(' ')} exited (${code ?? signal}) before ${w.re} appeared on ${w.stream}\nstdout: ${text.stdout}\nstderr: ${text.stderr}`));
      resolve({ code, signal, ms: Date.now() - started, stdout: text.stdout, stderr: text.stderr, stdoutBytes: Buffer.concat(bytes.stdout), stderrBytes: Buffer.concat(bytes.stderr) });
    });
  });
  return {
    child,
    text,
    exited,
    waitFor(re, stream = 'stdout', timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const w = { re, stream, resolve, reject };
        waiters.push(w);
        check();
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i < 0) return;
          waiters.splice(i, 1);
          reject(new Error(`timed out waiting for ${re} on ${stream}\nstdout: ${text.stdout}\nstderr: ${text.stderr}`));
        }, timeoutMs).unref();
      });
    },
    /** The init's pid as seen from here: inside unshare it is unshare's child. */
    initPid() {
      return pid1 && !argv ? until(() => childrenOf(child.pid)[0], { what: 'the init inside unshare' }) : Promise.resolve(child.pid);
    },
    async kill(sig) {
      process.kill(await this.initPid(), sig);
    },
  };
}

/** Runs fn over items, PARALLEL at a time; results in the order of items. */
async function limited(items, fn) {
  const out = new Array(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, lane));
  return out;
}

const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** /proc/<pid>/wchan, or '' once it is gone. */
function wchan(pid) {
  try {
    return readFileSync(`/proc/${pid}/wchan`, 'latin1');
  } catch {
    return '';
  }
}

/**
 * signals.py (after dumb-init's print_signals.py) under an init, once its handlers are in place.
 * `send(sig)` signals the init once every process below it sleeps in pause(2): Python runs a
 * handler between bytecodes, so a signal that lands between the fixture's last print and its
 * pause() is only echoed when the next one wakes it.
 */
async function echoer(opts, extra = []) {
  const c = start(['python3', fixture('signals.py'), ...extra], opts);
  const [, pid, pgid, sid] = await c.waitFor(/^ready \(pid: (\d+), pgid: (\d+), sid: (\d+)\)$/m);
  const k = extra.indexOf('--children');
  const procs = 1 + (k < 0 ? 0 : Number(extra[k + 1]));
  const send = async (sig) => {
    const init = await c.initPid();
    await until(
      () => {
        const below = descendants(init);
        return below.length === procs && below.every((p) => /pause|sigsuspend/.test(wchan(p)));
      },
      { what: `${procs} signals.py process(es) in pause()` },
    );
    process.kill(init, sig);
  };
  return { c, send, pid: Number(pid), pgid: Number(pgid), sid: Number(sid) };
}

// ---- exit statuses --------------------------------------------------------------------------

// tini checks all 256 statuses, dumb-init a sample. 512 corral runs (every status in both modes)
// take about two minutes of this machine's 2 cores, so each status runs once, in the mode that
// its bit 1 picks (0, 1, 4, 5, ... as PID 1; 2, 3, 6, 7, ... as subreaper: each mode sees odd and
// even statuses across the whole range), and the statuses that mean something run in both: 0; 1
// and 2 (corral's own failure and usage codes); 125-130 (exec failures and the first signals);
// 137 and 143 (SIGKILL, SIGTERM); 254, 255. DROPIN_EVERY_STATUS=1 runs all 256 in both modes.
const MEANINGFUL = [0, 1, 2, 125, 126, 127, 128, 129, 130, 137, 143, 254, 255];
const everyStatus = process.env.DROPIN_EVERY_STATUS === '1';

for (const { pid1, mode } of MODES) {
  const statuses = range(0, 255).filter((n) => everyStatus || MEANINGFUL.includes(n) || ((n >> 1) & 1) === (pid1 ? 0 : 1));

  test(`exit statuses pass through: ${statuses.length === 256 ? 'all of 0-255' : `${statuses.length} of 0-255, the rest in the other mode`} (${mode})`, { timeout: 120_000 }, async () => {
    const runs = await limited(statuses, async (n) => ({ n, r: await start(['sh', '-c', `exit ${n}`], { pid1 }).exited }));
    const wrong = runs.filter(({ n, r }) => r.code !== n || r.stdout !== '' || r.stderr !== '').map(({ n, r }) => `${n} -> ${r.code ?? r.signal} ${JSON.stringify(r.stderr.slice(0, 200))}`);
    assert.deepEqual(wrong, [], 'each status is corral\'s exit code, and nothing is printed');
  });

  test(`exec failures give 127 and 126, as tini (${mode})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-dropin-'));
    const file = join(dir, 'script.sh');
    writeFileSync(file, '#!/bin/sh\necho ran\n', { mode: 0o644 });
    const cases = [
      { cmd: [join(dir, 'missing')], code: 127 },
      { cmd: [file], code: 126 },
    ];
    for (const init of inits()) {
      for (const { cmd, code } of cases) {
        const r = await start(cmd, { init, pid1 }).exited;
        assert.equal(r.code, code, `${init} -- ${cmd[0]}: ${r.stderr}`);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /.+\n$/, 'one message on stderr');
      }
    }
  });

  // ---- death by signal ------------------------------------------------------------------------

  // Every signal whose default action ends a process: 1-31 without the ones that are ignored
  // (SIGCHLD, SIGCONT, SIGURG, SIGWINCH) or that stop it (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU), and
  // the real-time signals glibc leaves to programs (SIGRTMIN 34 to SIGRTMAX 64), split between
  // the modes as the statuses are, with the first two and the last two in both. As dumb-init's
  // test, the worker signals itself: this is about the status; forwarding is below. `ulimit -c 0`:
  // SIGQUIT, SIGSEGV... would leave core files.
  const standard = range(1, 31).filter((n) => ![S.SIGCHLD, S.SIGCONT, S.SIGURG, S.SIGWINCH, S.SIGSTOP, S.SIGTSTP, S.SIGTTIN, S.SIGTTOU].includes(n));
  const realtime = range(34, 64).filter((n) => everyStatus || [34, 35, 63, 64].includes(n) || (n & 1) === (pid1 ? 0 : 1));
  const diesOf = async (signals) => {
    const runs = await limited(signals, async (n) => ({ n, r: await start(['sh', '-c', `ulimit -c 0; kill -${n} $$`], { pid1 }).exited }));
    return runs.filter(({ n, r }) => r.code !== 128 + n || r.stderr !== '').map(({ n, r }) => `signal ${n} -> ${r.code ?? r.signal} ${JSON.stringify(r.stderr.slice(0, 200))}`);
  };

  test(`a worker killed by signal n gives 128+n, for each deadly signal 1-31 (${mode})`, { timeout: 60_000 }, async () => {
    assert.deepEqual(await diesOf(standard), []);
  });

  test(`a worker killed by a real-time signal n gives 128+n, as tini (${mode})`, { timeout: 60_000 }, async () => {
    // SPEC §1: 128+signal. A signal that os.constants has no name for must not become SIGKILL.
    assert.deepEqual(await diesOf(realtime), []);
  });

  test(`SIGTERM and the signals corral forwards end the worker's group with 128+n, as tini -g; SIGINT gives 143 (${mode})`, async () => {
    // tini's signals test: SIGTERM, SIGUSR1, SIGUSR2 to the init end the child, the status is
    // 128+n. The worker is a shell waiting for a grandchild (as tini's test.py and os.system);
    // both are in the group, so the shell dies of the signal, not of its child's status.
    // SIGINT is corral's stop (below): the group gets the stop signal, SIGTERM, so 143, not 130.
    const sigs = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM'];
    const expect = (init, sig) => 128 + S[init === 'corral' && sig === 'SIGINT' ? 'SIGTERM' : sig];
    for (const init of inits()) {
      const runs = await limited(sigs, async (sig) => {
        const c = start(['sh', '-c', 'echo up; sleep 60; echo "sleep ended"'], { init, pid1 });
        await c.waitFor(/^up$/m);
        await until(async () => descendants(await c.initPid()).length >= 2, { what: 'shell and sleep' });
        await c.kill(sig);
        return { sig, r: await c.exited };
      });
      const wrong = runs.filter(({ sig, r }) => r.code !== expect(init, sig) || r.stdout !== 'up\n' || r.stderr !== '').map(({ sig, r }) => `${sig} -> ${r.code ?? r.signal} ${JSON.stringify(r.stdout + r.stderr)}`);
      assert.deepEqual(wrong, [], init);
    }
  });

  // ---- signals forwarded ----------------------------------------------------------------------

  // What corral passes on to the worker's process group (SPEC §2): the worker and its child
  // echo each on the worker's stdout, which is corral's stdout in raw format; nothing of it may
  // come through corral's records (stderr stays empty). SIGTTIN and SIGTTOU are ignored by both
  // inits; SIGKILL and SIGSTOP cannot be caught; SIGTERM, SIGINT, SIGHUP are below.
  const FORWARDED = ['SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGTSTP', 'SIGALRM', 'SIGVTALRM', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGIO', 'SIGPWR'];

  test(`every forwarded signal reaches the worker and its child, through raw stdout, as tini -g (${mode})`, async () => {
    const seen = {};
    for (const init of inits()) {
      const e = await echoer({ init, pid1 }, ['--children', '1']);
      await e.c.waitFor(/^child 0: up$/m);
      assert.equal(e.pgid, e.pid, `${init}: the worker leads its own process group`);
      // dumb-init's setsid mode: corral's (non-interactive) worker leads its own session too;
      // tini -g only gives it a group of its own in tini's session.
      if (init === 'corral') assert.equal(e.sid, e.pid, 'the worker leads its own session');
      // Ignored by both inits (tini: so that it is never stopped for touching the terminal); a
      // stopped init would forward nothing after them.
      await e.send('SIGTTIN');
      await e.send('SIGTTOU');
      for (const sig of FORWARDED) {
        await e.send(sig);
        await e.c.waitFor(new RegExp(`^signal ${sig}$`, 'm'));
        await e.c.waitFor(new RegExp(`^child 0: signal ${sig}$`, 'm'));
      }
      // SIGTERM goes to the group too, and both exit 0 on it.
      await e.send('SIGTERM');
      const r = await e.c.exited;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '', `${init}: nothing on stderr; the echoes are not records`);
      seen[init] = r.stdout.replace(/^ready .*\n/m, '').split('\n').sort();
    }
    const expected = ['', 'child 0: up', ...['', 'child 0: '].flatMap((who) => [...FORWARDED, 'SIGTERM'].map((s) => `${who}signal ${s}`))].sort();
    assert.deepEqual(seen.corral, expected);
    if (TINI) assert.deepEqual(seen.tini, seen.corral, 'tini -g delivers the same');
  });

  // SPEC §2 and §7: corral's own signals. tini -g forwards each as it comes; corral stops or
  // rolls the worker instead (README, "Moving from tini / dumb-init", says what to use).
  test(`SIGINT reaches the worker as its stop signal; --stop-signal rewrites it, a second stop signal escalates (${mode})`, async () => {
    const int = await echoer({ pid1 });
    await int.send('SIGINT');
    const r1 = await int.c.exited;
    assert.equal(r1.code, 0, 'signals.py exits 0 on SIGTERM');
    assert.match(r1.stdout, /^signal SIGTERM$/m);
    assert.doesNotMatch(r1.stdout, /SIGINT/);
    assert.equal(r1.stderr, '', 'a stop is not news at warn');

    // dumb-init --rewrite 15:2: the stop signal is what SIGTERM (and SIGINT) become.
    const rw = await echoer({ pid1, args: ['--stop-signal', 'SIGINT'] });
    await rw.send('SIGTERM');
    await rw.c.waitFor(/^signal SIGINT$/m);
    await rw.send('SIGINT');
    const r2 = await rw.c.exited;
    assert.equal(r2.code, 137, 'a second stop signal (SIGINT after SIGTERM) SIGKILLs at once');
    assert.doesNotMatch(r2.stdout, /SIGTERM/);
    // corral says so at warn, the level raw format prints from: a JSON line on stderr, nothing
    // else; --log-level error (TINI_VERBOSITY=0) keeps it quiet.
    assert.deepEqual(r2.stderr.split('\n').filter(Boolean).map((l) => [JSON.parse(l).event, JSON.parse(l).action]), [['stop', 'kill']]);
    const quiet = await echoer({ pid1, args: ['--stop-signal', 'SIGINT', '--log-level', 'error'] });
    await quiet.send('SIGTERM');
    await quiet.c.waitFor(/^signal SIGINT$/m);
    await quiet.send('SIGTERM');
    const r3 = await quiet.c.exited;
    assert.equal(r3.code, 137);
    assert.equal(r3.stderr, '');
  });

  test(`SIGHUP reaches a drop-in's worker as tini passes it (a reload); in any other shape it restarts the worker (SPEC §3); SIGTERM after --grace ends in SIGKILL, 137 (${mode})`, async () => {
    const reload = await echoer({ pid1 });
    await reload.send('SIGHUP');
    await reload.c.waitFor(/^signal SIGHUP$/m);
    await reload.send('SIGTERM');
    assert.equal((await reload.c.exited).code, 0);
    assert.equal(reload.c.text.stdout.match(/^ready/gm).length, 1, 'the same worker throughout');

    // restart on-failure: not a drop-in (a pool that restarts), so SIGHUP is a rolling restart.
    const hup = await echoer({ pid1, args: ['--restart', 'on-failure'] });
    await hup.send('SIGHUP');
    await hup.c.waitFor(/^signal SIGTERM$/m);
    const [, again] = await hup.c.waitFor(/^ready[^]*^ready \(pid: (\d+)/m);
    assert.notEqual(Number(again), hup.pid, 'a new worker');
    assert.doesNotMatch(hup.c.text.stdout, /SIGHUP/, 'the worker never sees SIGHUP');
    await hup.send('SIGTERM');
    assert.equal((await hup.c.exited).code, 0);

    const stubborn = await echoer({ pid1, args: ['--grace', '500ms'] }, ['--ignore-term']);
    const t0 = Date.now();
    await stubborn.send('SIGTERM');
    await stubborn.c.waitFor(/^signal SIGTERM$/m);
    const r = await stubborn.c.exited;
    assert.equal(r.code, 137);
    assert.ok(Date.now() - t0 >= 450, `SIGKILL came after the grace period (${Date.now() - t0} ms)`);
  });

  // ---- reaping --------------------------------------------------------------------------------

  // dumb-init's tests/test-zombies and tini's reaping test, in the worker itself: `sleep 0.3`
  // never waits, so the two short sleeps are its zombies until it exits; then they, and the
  // double-forked shell, are re-parented to the init, which must reap them. A zombie keeps its
  // /proc entry until it is reaped: the worker waits ($1 rounds of 10 ms at most) for each entry
  // to go, and when the init is PID 1 (its PPID is 1) checks that the namespace holds no zombie.
  const REAP = String.raw`
pids="$(sh -c 'sleep 0.1 >/dev/null & echo $!; sleep 0.1 >/dev/null & echo $!; exec sleep 0.3 >/dev/null') $(sh -c 'sh -c "exit 0" >/dev/null & echo $!')"
for pid in $pids; do
  n=0
  while [ -e /proc/$pid ]; do
    n=$((n + 1))
    if [ $n -gt "$1" ]; then echo "not reaped: $(cat /proc/$pid/stat)"; exit 1; fi
    sleep 0.01
  done
done
echo "reaped:" $pids
if [ "$PPID" = 1 ]; then
  z=$(ps -A -o stat= | grep -c Z)
  echo "zombies in the namespace: $z"
  [ "$z" = 0 ] || exit 1
fi
`;

  test(`a shell's background children and orphans are reaped, no zombie left (${mode})`, async () => {
    for (const init of inits()) {
      const r = await start(['sh', '-c', REAP, 'sh', '300'], { init, pid1 }).exited;
      assert.equal(r.code, 0, `${init}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /^reaped: \d+ \d+ \d+$/m);
      if (pid1) assert.match(r.stdout, /^zombies in the namespace: 0$/m);
    }
  });

  test(`negative control: under an init that never reaps, the same check fails (${mode})`, async () => {
    // tini's control is tini without -s and not PID 1. corral is always one or the other, so
    // the control is a subreaper (or PID 1) that waits for its own child only.
    const py = 'import ctypes, subprocess, sys; ctypes.CDLL(None).prctl(36, 1, 0, 0, 0); sys.exit(subprocess.call(sys.argv[1:]))';
    const inner = ['python3', '-c', py, 'sh', '-c', REAP, 'sh', '30'];
    const r = await start(null, { argv: pid1 ? ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', ...inner] : inner }).exited;
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^not reaped: \d+ \(\w+\) Z /m);
  });

  test(`a worker that exits leaves nothing running: leftovers get SIGTERM, the status is the worker's (${mode})`, async () => {
    // tini exits at once and leaves the background sleep running (re-parented to the host's
    // init when tini is not PID 1); dumb-init (setsid mode) SIGTERMs its group; corral stops
    // whatever is left below it (SPEC §2), then exits with the worker's status.
    const c = start(['sh', '-c', 'sleep 30 >/dev/null & echo $!; exit 3'], { pid1 });
    const r = await c.exited;
    assert.equal(r.code, 3, r.stderr);
    assert.ok(r.ms < 10_000, `exited in ${r.ms} ms, not after the sleep`);
    if (!pid1) assert.equal(existsSync(`/proc/${r.stdout.trim()}`), false, 'the background sleep is gone');
  });

  // ---- cwd and environment --------------------------------------------------------------------

  // What "untouched" means for a drop-in, in init mode with raw format:
  // - cwd: the worker starts where corral was started (dumb-init's cwd test);
  // - every variable corral is given reaches the worker with its value, and none is dropped, save
  //   four that describe corral's own activation (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES,
  //   WATCHDOG_USEC): their *_PID names corral, so sd_listen_fds(3) and sd_watchdog_enabled(3)
  //   would make the worker ignore them under tini too, and corral does not pass on fd 3;
  // - a variable the user set (OMP_NUM_THREADS, CUDA_VISIBLE_DEVICES) is never changed, and a
  //   single worker keeps corral's view of the GPUs, however many are found;
  // - additions: none, as under tini. A drop-in (one worker, raw format, --http off) adds
  //   neither corral's own CORRAL_POOL, CORRAL_WORKER, CORRAL_POOL_SIZE nor NOTIFY_SOCKET and
  //   OMP/MKL/OPENBLAS_NUM_THREADS (sd_notify-aware programs would start talking to the socket,
  //   numeric libraries would change their thread count) unless asked: --threads auto adds the
  //   thread variables, --ready notify or
  //   --watchdog NOTIFY_SOCKET.
  const ACTIVATION = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'WATCHDOG_USEC'];
  const THREADS = ['MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS'];

  /** The worker's cwd and environment, as bytes become strings: `readlink` and `env -0` (no shell of ours in between but dash's, which keeps a correct PWD as it is). */
  async function cwdAndEnv(opts) {
    const r = await start(['sh', '-c', 'readlink /proc/$$/cwd && exec env -0'], opts).exited;
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdoutBytes.toString('utf8');
    const nl = out.indexOf('\n');
    const env = {};
    for (const kv of out.slice(nl + 1).split('\0').filter(Boolean)) env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
    return { cwd: out.slice(0, nl), env, stderr: r.stderr };
  }

  function given(cwd, extra = {}) {
    return {
      PATH: process.env.PATH,
      HOME: cwd,
      PWD: cwd,
      LANG: 'C.UTF-8',
      FOO: 'bar baz',
      EMPTY: '',
      MULTILINE: 'one\ntwo',
      EQUALS: 'a=b=c',
      UNICODE: 'ünïcødé ✓',
      CUDA_VISIBLE_DEVICES: '2,3',
      // 4 GPUs found: a single worker still keeps CUDA_VISIBLE_DEVICES as it is.
      CORRAL_NVIDIA_SMI: fixture('nvidia-smi-4gpu'),
      LISTEN_FDS: '1',
      LISTEN_PID: '1',
      LISTEN_FDNAMES: 'web',
      WATCHDOG_USEC: '30000000',
      ...extra,
    };
  }

  test(`the worker's cwd and environment: what was given, plus exactly what corral adds (${mode})`, async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'corral dropin é '));
    for (const [args, extra, added] of [
      // A drop-in's default: nothing.
      [[], { OMP_NUM_THREADS: '7' }, []],
      // --threads auto, asked for: the two thread variables the user did not set.
      [['--threads', 'auto'], { OMP_NUM_THREADS: '7' }, ['MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS']],
      // Not a drop-in (a worker that is restarted): corral's worker environment of SPEC §3.
      [['--restart', 'on-failure'], { OMP_NUM_THREADS: '7' }, ['CORRAL_POOL', 'CORRAL_POOL_SIZE', 'CORRAL_WORKER', 'MKL_NUM_THREADS', 'NOTIFY_SOCKET', 'OPENBLAS_NUM_THREADS']],
    ]) {
      const env = given(cwd, extra);
      const seen = await cwdAndEnv({ pid1, args, env, cwd });
      assert.equal(seen.cwd, cwd);
      assert.equal(seen.stderr, '');
      for (const [k, v] of Object.entries(env)) assert.equal(seen.env[k], ACTIVATION.includes(k) ? undefined : v, `${k} ${args.join(' ')}`);
      assert.deepEqual(Object.keys(seen.env).filter((k) => !(k in env)).sort(), added, args.join(' ') || 'default flags');
      if (added.includes('CORRAL_POOL')) {
        assert.equal(seen.env.CORRAL_POOL, 'main');
        assert.equal(seen.env.CORRAL_WORKER, '0');
        assert.equal(seen.env.CORRAL_POOL_SIZE, '1');
        assert.match(seen.env.NOTIFY_SOCKET, /^@corral\//);
      }
      assert.equal(seen.env.CUDA_DEVICE_ORDER, undefined, 'no GPU placement for a single worker');
      for (const k of added.filter((x) => THREADS.includes(x))) assert.match(seen.env[k], /^[1-9]\d*$/, k);
    }
    if (TINI) {
      const env = given(cwd);
      const seen = await cwdAndEnv({ init: 'tini', pid1, env, cwd });
      assert.equal(seen.cwd, cwd);
      assert.deepEqual(seen.env, env, 'tini passes the environment as it is');
    } else console.log(NO_TINI);
  });

  test(`drop-in: the worker gets no NOTIFY_SOCKET and no *_NUM_THREADS it was not given; --watchdog brings NOTIFY_SOCKET (${mode})`, async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'corral-dropin-'));
    const seen = await cwdAndEnv({ pid1, env: given(cwd), cwd });
    assert.deepEqual(['NOTIFY_SOCKET', ...THREADS].filter((k) => k in seen.env), []);
    // A service manager's NOTIFY_SOCKET passes through as tini passes it.
    const managed = await cwdAndEnv({ pid1, env: given(cwd, { NOTIFY_SOCKET: '/run/systemd/notify' }), cwd });
    assert.equal(managed.env.NOTIFY_SOCKET, '/run/systemd/notify');
    const watched = await cwdAndEnv({ pid1, args: ['--watchdog', '1h'], env: given(cwd), cwd });
    assert.match(watched.env.NOTIFY_SOCKET, /^@corral\//);
  });

  test(`drop-in: bytes that are not UTF-8 in arguments and variables reach the worker unchanged (${mode})`, { todo: 'corral reads its argv and environment as UTF-8 strings (Node): 0xff becomes U+FFFD (ef bf bd); tini passes bytes' }, async () => {
    // Node cannot spawn with such bytes; a shell puts them in the init's argv and environment.
    for (const init of inits()) {
      const line = argvFor(init, pid1, [], ['sh', '-c', 'printf "%s|%s" "$X" "$1"', 'sh']);
      const r = await start(null, { argv: ['sh', '-c', 'X="$(printf "a\\377b")"; export X; exec "$@" "$X"', 'sh', ...line] }).exited;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdoutBytes.toString('hex'), Buffer.from('a\xffb|a\xffb', 'latin1').toString('hex'), init);
    }
  });

  test(`drop-in: ignored signals and the signal mask corral inherited are the worker's too, as tini restores them (${mode})`, { todo: 'corral resets every disposition and the mask in the worker (README, "Choices made"); tini restores the mask and leaves SIG_IGN in place, so `nohup` and a shell\'s `cmd &` (SIGINT, SIGQUIT ignored) keep working through it' }, async () => {
    const py = 'import os, signal, sys; signal.signal(signal.SIGUSR1, signal.SIG_IGN); signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2]); os.execvp(sys.argv[1], sys.argv[1:])';
    for (const init of inits()) {
      const r = await start(null, { argv: ['python3', '-c', py, ...argvFor(init, pid1, [], ['grep', '-E', '^Sig(Ign|Blk)', '/proc/self/status'])] }).exited;
      const mask = (name) => BigInt('0x' + (r.stdout.match(new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm'))?.[1] ?? '0'));
      assert.equal((mask('SigIgn') >> BigInt(S.SIGUSR1 - 1)) & 1n, 1n, `${init}: SIGUSR1 ignored: ${r.stdout}`);
      assert.equal((mask('SigBlk') >> BigInt(S.SIGUSR2 - 1)) & 1n, 1n, `${init}: SIGUSR2 blocked: ${r.stdout}`);
    }
  });

  test(`drop-in: a file descriptor corral inherited beside 0-2 reaches the worker (${mode})`, { todo: 'fd 3 (and 5) that corral inherits does not reach the worker; tini passes every fd on' }, async () => {
    const fd = openSync('/etc/hostname', 'r');
    try {
      for (const init of inits()) {
        const r = await start(['sh', '-c', 'readlink /proc/$$/fd/3 || echo none'], { init, pid1, stdio: ['ignore', 'pipe', 'pipe', fd] }).exited;
        assert.equal(r.stdout, '/etc/hostname\n', init);
      }
    } finally {
      closeSync(fd);
    }
  });

  test(`signals corral cannot forward (SIGPROF, SIGSTKFLT, real-time) never kill it: the worker keeps its supervisor (${mode})`, async () => {
    for (const sig of ['SIGPROF', 'SIGSTKFLT', 34, 50, 64]) {
      const e = await echoer({ init: 'corral', pid1 });
      await e.send(sig);
      // A handshake after it: SIGUSR1 is forwarded, so corral handled the signal before.
      await e.send('SIGUSR1');
      await e.c.waitFor(/^signal SIGUSR1$/m, 'stdout', 5000);
      assert.equal(e.c.child.exitCode, null, `corral alive after ${sig}`);
      assert.equal(descendants(await e.c.initPid()).length, 1, 'the worker still runs below corral');
      process.kill(await e.c.initPid(), 'SIGTERM');
      await e.c.exited;
    }
  });

  test(`drop-in: SIGPIPE, SIGPROF, SIGSTKFLT and real-time signals reach the worker, as tini forwards them (${mode})`, { todo: 'corral does not forward them: SIGPIPE is ignored (Node), SIGPROF is V8\'s, and Node has no handler for SIGSTKFLT and SIGRTMIN..SIGRTMAX; corral ignores those, so they never kill it' }, async () => {
    const sigs = ['SIGPIPE', 'SIGPROF', 'SIGSTKFLT', 34];
    const name = (s) => (typeof s === 'number' ? 'SIGRTMIN' : s);
    const outcome = {};
    for (const init of inits()) {
      const got = await limited(sigs, async (sig) => {
        const e = await echoer({ init, pid1 });
        await e.send(sig);
        const delivered = await e.c.waitFor(new RegExp(`^signal ${name(sig)}$`, 'm'), 'stdout', 500).then(
          () => 'delivered',
          () => (e.c.child.exitCode === null && e.c.child.signalCode === null ? 'not delivered' : `${init} died of it, the worker ${existsSync(`/proc/${e.pid}`) ? 'left running' : 'gone'}`),
        );
        if (!pid1) {
          try {
            process.kill(e.pid, 'SIGKILL'); // an orphaned worker is no longer below the init
          } catch {
            // gone with its init
          }
        }
        return [name(sig), delivered];
      });
      outcome[init] = Object.fromEntries(got);
    }
    const all = Object.fromEntries(sigs.map((s) => [name(s), 'delivered']));
    if (TINI) assert.deepEqual(outcome.tini, all, 'tini -g forwards them (the check itself works)');
    assert.deepEqual(outcome.corral, all);
  });

  // ---- pipelines ------------------------------------------------------------------------------

  test(`in a pipeline: stdout "a\\nb\\n", stderr as written, status 7 with pipefail, stdin passed on, as tini (${mode})`, async () => {
    const cmd = ['sh', '-c', 'printf "a\\nb\\n"; printf "e\\n" >&2; exit 7'];
    const runs = {};
    for (const init of inits()) {
      runs[init] = await start(null, { argv: ['bash', '-o', 'pipefail', '-c', '"$@" | cat; echo "status $?" >&2', 'bash', ...argvFor(init, pid1, [], cmd)] }).exited;
      assert.equal(runs[init].stdout, 'a\nb\n', init);
      assert.equal(runs[init].stderr, 'e\nstatus 7\n', init);
    }
    if (TINI) assert.deepEqual({ out: runs.corral.stdout, err: runs.corral.stderr }, { out: runs.tini.stdout, err: runs.tini.stderr });
    // and stdin is the worker's: `printf ... | corral -- cat`
    for (const init of inits()) {
      const r = await start(null, { argv: ['bash', '-o', 'pipefail', '-c', 'printf "in\\n" | "$@" | cat', 'bash', ...argvFor(init, pid1, [], ['cat'])] }).exited;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'in\n', init);
    }
  });

  test(`when the reader goes (| head -n 1), the worker gets SIGPIPE and the status is 141, as tini (${mode})`, async () => {
    // timeout: the hang would otherwise be the test's; its 124 is the failure.
    for (const init of inits()) {
      const r = await start(null, { argv: ['bash', '-o', 'pipefail', '-c', 'timeout -k 2 3 "$@" | head -n 1; echo "status $?" >&2', 'bash', ...argvFor(init, pid1, [], ['yes'])] }).exited;
      assert.equal(r.stdout, 'y\n', init);
      assert.match(r.stderr, /status 141\n$/, init);
    }
  });

  // ---- the terminal ---------------------------------------------------------------------------

  test(`on a terminal the worker gets its own group in the foreground, Ctrl-C reaches it, as tini (${mode})`, async () => {
    // tini's isolate_child: setpgid, then tcsetpgrp; the worker stays in the init's session. As
    // PID 1, the terminal is set up as runc does for `docker run -it`: PID 1 leads a session whose
    // controlling terminal it is (setsid --ctty; without it, the terminal's foreground group is
    // outside the namespace, and corral, which only takes a terminal it is in the foreground of,
    // runs the worker as without one, where tini takes it).
    for (const init of inits()) {
      const line = argvFor(init, pid1, [], ['python3', fixture('interactive.py')]);
      if (pid1) line.splice(line.indexOf('--kill-child') + 1, 0, 'setsid', '--ctty');
      const t = pty.spawn(line[0], line.slice(1), { cols: 200, rows: 24, cwd: root, env: baseEnv() });
      let screen = '';
      t.onData((d) => (screen += d));
      const exited = new Promise((resolve) => t.onExit(resolve));
      try {
        await until(() => /foreground=\w+/.test(screen), { what: `${init}: the worker to report` });
        assert.match(screen, /foreground=True leader=True session_leader=False/, init);
        // interactive.py catches the KeyboardInterrupt of pause() only: wait until it is there.
        await until(() => descendants(t.pid).some((p) => /pause|sigsuspend/.test(wchan(p))), { what: 'interactive.py in pause()' });
        t.write('\x03');
        const { exitCode } = await exited;
        assert.match(screen, /got SIGINT/, init);
        assert.equal(exitCode, 42, `${init} exits with the worker's code`);
        assert.doesNotMatch(screen, /"event"/, `${init}: nothing of corral's on the terminal`);
      } finally {
        try {
          t.kill('SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    if (!pid1) return;
    // A bare unshare: corral does not own the terminal (its group is outside the namespace), so
    // the worker leads a session of its own, without it; tini takes the terminal anyway.
    for (const init of inits()) {
      const line = argvFor(init, true, [], ['python3', fixture('interactive.py')]);
      const t = pty.spawn(line[0], line.slice(1), { cols: 200, rows: 24, cwd: root, env: baseEnv() });
      let screen = '';
      t.onData((d) => (screen += d));
      const exited = new Promise((resolve) => t.onExit(resolve));
      try {
        await until(() => /foreground=\w+|Inappropriate ioctl/.test(screen), { what: `${init}: the worker to report` });
        assert.match(screen, init === 'tini' ? /foreground=True/ : /Inappropriate ioctl for device/, `${init}: ${screen}`);
      } finally {
        t.kill('SIGKILL');
        await exited;
      }
    }
  });

  // ---- flags of tini and dumb-init ------------------------------------------------------------

  test(`tini -v / -w / TINI_VERBOSITY, dumb-init --verbose: --log-level sets which of corral's records reach stderr (${mode})`, async () => {
    // An orphan that the worker waits for until it is reaped (its /proc entry goes).
    const worker = 'p=$(sh -c "sleep 0.05 >/dev/null & echo \\$!"); echo "orphan $p"; while [ -e /proc/$p ]; do sleep 0.01; done';
    const runs = await limited([null, 'error', 'info', 'debug', 'trace'], async (level) => ({ level, r: await start(['sh', '-c', worker], { pid1, args: level ? ['--log-level', level] : [] }).exited }));
    for (const { level, r } of runs) {
      const what = level ?? 'raw format\'s default (warn)';
      assert.equal(r.code, 0, r.stderr);
      const [, orphan] = r.stdout.match(/^orphan (\d+)\n$/) ?? assert.fail(`${what}: stdout is the worker's only, records never go there (tini -v prints on stdout): ${r.stdout}`);
      const records = r.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const events = new Set(records.map((x) => x.event));
      const reaped = records.some((x) => x.event === 'reaped' && x.pid === Number(orphan) && x.level === 20);
      if (level === null || level === 'error') assert.deepEqual(records, [], `${what}: nothing on a clean run, as tini's default`);
      if (level === 'info') {
        assert.ok(['spawn', 'ready', 'exit'].every((e) => events.has(e)) && records.every((x) => x.level >= 30), `${what}: ${r.stderr}`);
        assert.equal(records.at(-1).reaped_orphans, 1, 'the last record counts the orphans reaped');
      }
      // tini -w: a line per reaped zombie; here a debug record with the orphan's pid.
      if (level === 'debug' || level === 'trace') assert.ok(events.has('spawn') && reaped, `${what}: a debug record for the orphan ${orphan}: ${r.stderr}`);
    }
  });

  test(`tini -e 143 has no flag: a wrapper maps the status, and signals still reach the program (${mode})`, async () => {
    // `trap :` (not `trap ''`, which the program would inherit as SIG_IGN): the shell outlives
    // the SIGTERM its group gets, waits for the program, and maps its 143 to 0.
    const wrap = ['sh', '-c', 'trap : TERM INT; "$@"; s=$?; [ "$s" -eq 143 ] && s=0; exit "$s"', 'sh'];
    const c = start([...wrap, 'sh', '-c', 'echo up; exec sleep 60'], { pid1 });
    await c.waitFor(/^up$/m);
    await until(async () => descendants(await c.initPid()).length >= 2, { what: 'wrapper and program' });
    await c.kill('SIGTERM');
    assert.equal((await c.exited).code, 0, '143 mapped to 0');
    assert.equal((await start([...wrap, 'sh', '-c', 'exit 3'], { pid1 }).exited).code, 3, 'other statuses pass');
  });
}
