// Findings of an attack on corral as a black box (durations past Node's timers, absurd
// worker counts, a FIFO or /dev/zero as the config file, min_ready above the GPU worker
// count, terminal escapes in a worker's STATUS text), each kept fixed by a test.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { visible } from '../../dist/cli/client.js';
import { locateCgroups } from '../../dist/container/cgroup.js';
import { roomFrom } from '../../dist/process/limits.js';
import { corralBin, fixture, killAll, runCorral, runToEnd, until } from '../helpers.js';

afterEach(killAll);

const dir = mkdtempSync(join(tmpdir(), 'corral-hostile-'));

function assertUsage(r, pattern) {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^corral: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /TimeoutOverflowWarning|\n\s+at /);
}

test('durations that Node timers cannot hold are a usage error, not a 1 ms timer', async () => {
  for (const [flag, value] of [['--ready-timeout', '99999h'], ['--grace', '1000h'], ['--watchdog', '600h'], ['--drain-delay', '2147484s']]) {
    const r = await runToEnd([flag, value, '--workers', '2', '--', 'sleep', '1000']);
    assertUsage(r, new RegExp(`${flag}: expected .*at most 24 days \\(576h\\), got "${value}"`));
  }
  const ok = await runToEnd(['check-config', '--grace', '576h', '--', 'sleep', '1']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('a worker count past the bound is a usage error that names the bound', async () => {
  assertUsage(await runToEnd(['--workers', '1000000000', '--', 'sleep', '1']), /--workers: expected a positive integer up to 1024 or "gpu", got "1000000000"/);
  assertUsage(await runToEnd(['check-config', '--workers', '1025', '--', 'sleep', '1']), /up to 1024/);
  assertUsage(await runToEnd(['--workers', 'gpu', '--workers-per-gpu', '5000', '--', 'sleep', '1']), /--workers-per-gpu: expected a positive integer up to 1024/);
});

test('a FIFO, /dev/zero or a huge file as --config: one line, exit 2, at once', async () => {
  const fifo = join(dir, 'fifo.toml');
  execFileSync('mkfifo', [fifo]);
  const t0 = Date.now();
  assertUsage(await runToEnd(['--config', fifo]), /not a regular file/);
  assertUsage(await runToEnd(['--config', '/dev/zero']), /not a regular file/);
  const big = join(dir, 'big.toml');
  writeFileSync(big, `[pools.a]\ncommand = ["true"]\n[pools.a.env]\n${Array.from({ length: 60_000 }, (_, i) => `K${i} = "${'v'.repeat(10)}"`).join('\n')}\n`);
  assertUsage(await runToEnd(['check-config', '--config', big]), /more than the 1 MiB a config file may have/);
  assert.ok(Date.now() - t0 < 10_000, 'none of them blocks or parses for long');
});

test('min_ready above the worker count planned from the GPUs is a usage error', async () => {
  const cfg = join(dir, 'gpu.toml');
  writeFileSync(cfg, '[pools.infer]\ncommand = ["sleep", "100"]\nworkers = "gpu"\nmin_ready = 16\n');
  const r = await runToEnd(['--http', 'off', '--config', cfg], { env: { CORRAL_NVIDIA_SMI: fixture('nvidia-smi-4gpu') } });
  assertUsage(r, /pool infer: min_ready 16 is more than its 4 workers/);
});

test('corral status shows control and bidi characters of a STATUS text, never obeys them', async () => {
  assert.equal(visible('\u001b[2J\u001b[31mRED\u001b]0;title\u0007\u202e ok'), '\\e[2J\\e[31mRED\\e]0;title\\x07\\u202e ok');
  assert.equal(visible('plain, é, 日本'), 'plain, é, 日本');
  const hp = 9700 + Math.floor(Math.random() * 200);
  const status = '\u001b[2J\u001b[31mRED\u001b]0;title\u0007\u202e';
  const c = runCorral(['--http', `127.0.0.1:${hp}`, '--ready', 'notify', '--', 'python3', fixture('notify.py'), '--status', status]);
  let out;
  await until(async () => {
    const r = await runToEnd(['status', '--http', `127.0.0.1:${hp}`]);
    out = r.stdout;
    return r.code === 0 && /RED/.test(out);
  }, { what: 'the status table with the STATUS text' });
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  assert.doesNotMatch(out, /[\u0000-\u0008\u000b-\u001f\u007f\u202e]/, 'no raw control or bidi character reaches the terminal');
  assert.match(out, /\\e\[2J\\e\[31mRED\\e\]0;title\\x07\\u202e/);
  await c.kill('SIGTERM');
  await c.exited;
});

test("more workers than the container's pids limit allows is a usage error before any spawn", (t) => {
  // A pids cgroup of its own (docker run --pids-limit 40), below the one this test runs in.
  const own = locateCgroups(readFileSync('/proc/self/cgroup', 'utf8'), readFileSync('/proc/self/mountinfo', 'utf8'));
  const parent = own.v2 !== null && existsSync(join(own.v2, 'cgroup.subtree_control')) && readFileSync(join(own.v2, 'cgroup.controllers'), 'utf8').includes('pids') ? own.v2 : own.pids;
  const cg = parent && join(parent, `corral-pids-${process.pid}`);
  try {
    if (!cg) throw new Error('no pids controller mounted');
    mkdirSync(cg);
    writeFileSync(join(cg, 'pids.max'), '40');
  } catch (err) {
    t.skip(`cannot make a pids cgroup here: ${err.message}`);
    return;
  }
  const run = (workers) =>
    spawnSync('sh', ['-c', `echo $$ > ${join(cg, 'cgroup.procs')} && exec "$0" "$@"`, process.execPath, corralBin, '--http', 'off', '--gpus', 'none', '--workers', String(workers), '--restart', 'never', '--', 'sleep', '0.1'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, CORRAL_LOG_FORMAT: 'json' },
    });
  try {
    const r = run(60);
    assertUsage({ code: r.status, stderr: r.stderr }, /60 workers cannot start: the container's pids limit \(cgroup pids.max\) is 40 and corral itself uses \d+ .*--pids-limit/);
    assert.doesNotMatch(r.stderr, /"event":"spawn"/);
    const ok = run(2);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /"event":"spawn"/);
  } finally {
    rmdirSync(cg);
  }
});

test('RLIMIT_NPROC binds a non-root user only; the tighter limit wins', () => {
  const limits = (n) => `Limit                     Soft Limit           Hard Limit           Units     \nMax processes             ${n}                 ${n}                 processes \n`;
  const status = 'Name:\tnode\nThreads:\t11\n';
  assert.equal(roomFrom({ uid: 0, limits: limits(12), status, pidsMax: null }), null, 'root is exempt');
  assert.deepEqual(
    { ...roomFrom({ uid: 1000, limits: limits(12), status, pidsMax: 64 }), hint: undefined },
    { limit: 12, what: 'the process limit of this user (RLIMIT_NPROC)', used: 11, hint: undefined },
  );
  assert.equal(roomFrom({ uid: 1000, limits: limits(100), status, pidsMax: 64 }).limit, 64);
  assert.equal(roomFrom({ uid: 1000, limits: limits('unlimited'), status: null, pidsMax: null }), null);
});
