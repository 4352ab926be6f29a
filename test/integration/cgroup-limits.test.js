// SPEC §10 in real cgroups made by the test (v1 here: memory and cpu, each nested below the
// cgroup the test runs in, removed afterwards; v2 where the host has it): the container's
// limits and usage in /metrics and /status, and threads sized from the CPU limit.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { corralBin, http, sample, until } from '../helpers.js';
import { locateCgroups } from '../../dist/container/cgroup.js';

const own = locateCgroups(readFileSync('/proc/self/cgroup', 'utf8'), readFileSync('/proc/self/mountinfo', 'utf8'));
const v2 = own.v2 !== null && existsSync(join(own.v2, 'cgroup.controllers')) && /\bmemory\b/.test(readFileSync(join(own.v2, 'cgroup.controllers'), 'utf8'));
const made = [];

/** A child cgroup of `parent` with `files` written; null (and why) when it cannot be made. */
function cgroup(parent, files) {
  if (parent === null) return null;
  const dir = join(parent, `corral-limits-${process.pid}-${made.length}`);
  mkdirSync(dir);
  made.push(dir);
  for (const [name, value] of Object.entries(files)) writeFileSync(join(dir, name), value);
  return dir;
}

after(() => {
  for (const dir of made.reverse()) {
    try {
      rmdirSync(dir);
    } catch {
      // a process still inside (the test failed): left for the next boot
    }
  }
});

/** Runs corral with args inside the cgroups; resolves with the child and its records. */
function inCgroups(dirs, args, env = {}) {
  const join_ = dirs.map((d) => `echo $$ > ${join(d, 'cgroup.procs')}`).join(' && ');
  const child = spawn('sh', ['-c', `${join_} && exec "$0" "$@"`, process.execPath, corralBin, ...args], { env: { ...process.env, CORRAL_LOG_FORMAT: 'json', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('close', resolve));
  const records = () => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const lines = () => records().filter((r) => r.stream).map((r) => r.msg);
  return { child, exited, records, lines, stderr: () => stderr };
}

test('512 MiB and 1.5 CPUs: the container metrics, /status container, and OMP_NUM_THREADS=1 for one worker', { timeout: 60_000 }, async (t) => {
  let dirs;
  try {
    dirs = v2
      ? [cgroup(own.v2, { 'memory.max': String(512 * 2 ** 20), 'cpu.max': '150000 100000' })]
      : [cgroup(own.memory, { 'memory.limit_in_bytes': String(512 * 2 ** 20) }), cgroup(own.cpu, { 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '150000' })];
    if (dirs.includes(null)) throw new Error('no memory or cpu controller mounted');
  } catch (err) {
    t.skip(`cannot make the cgroups here: ${err.message}`);
    return;
  }
  const port = 9600 + Math.floor(Math.random() * 100);
  const c = inCgroups(dirs, ['--http', `127.0.0.1:${port}`, '--', 'sh', '-c', 'echo "threads=$OMP_NUM_THREADS/$MKL_NUM_THREADS/$OPENBLAS_NUM_THREADS"; exec sleep 60']);
  try {
    let m = '';
    await until(async () => {
      m = (await http(port, '/metrics')).body ?? '';
      return sample(m, 'corral_container_memory_limit_bytes', {}) !== undefined;
    }, { timeoutMs: 20_000, what: 'the container metrics' });
    assert.equal(sample(m, 'corral_container_memory_limit_bytes', {}), 536870912);
    assert.equal(sample(m, 'corral_container_cpu_limit_cores', {}), 1.5);
    const usage = sample(m, 'corral_container_memory_usage_bytes', {});
    assert.ok(usage > 0 && usage < 536870912, `usage ${usage}`);
    assert.ok(sample(m, 'corral_container_oom_kills_total', {}) >= 0);
    assert.ok(sample(m, 'corral_container_cpu_throttled_seconds_total', {}) >= 0);
    const status = JSON.parse((await http(port, '/status')).body);
    assert.equal(status.container.memory_limit_bytes, 536870912);
    assert.equal(status.container.cpu_limit_cores, 1.5);
    await until(() => c.lines().some((l) => l.startsWith('threads=')), { what: 'the worker line' });
    assert.ok(c.lines().includes('threads=1/1/1'), c.lines().join('\n'));
  } finally {
    c.child.kill('SIGTERM');
    await c.exited;
  }
});

test('threads from a 2-CPU quota: 2 workers get 1, 1 worker gets 2; a preset 7 is kept; off sets none; 3 sets 3', { timeout: 60_000 }, async (t) => {
  let dir;
  try {
    dir = v2 ? cgroup(own.v2, { 'cpu.max': '200000 100000' }) : cgroup(own.cpu, { 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '200000' });
    if (dir === null) throw new Error('no cpu controller mounted');
  } catch (err) {
    t.skip(`cannot make the cgroup here: ${err.message}`);
    return;
  }
  const print = ['--', 'sh', '-c', 'echo "w$CORRAL_WORKER omp=${OMP_NUM_THREADS-unset} mkl=${MKL_NUM_THREADS-unset} blas=${OPENBLAS_NUM_THREADS-unset}"'];
  const run = async (args, env = {}) => {
    const c = inCgroups([dir], ['--http', 'off', '--restart', 'never', ...args, ...print], env);
    await c.exited;
    return c.lines().sort();
  };
  assert.deepEqual(await run(['--workers', '2']), ['w0 omp=1 mkl=1 blas=1', 'w1 omp=1 mkl=1 blas=1']);
  assert.deepEqual(await run([]), ['w0 omp=2 mkl=2 blas=2']);
  assert.deepEqual(await run(['--threads', 'off']), ['w0 omp=unset mkl=unset blas=unset']);
  assert.deepEqual(await run(['--threads', '3', '--workers', '2']), ['w0 omp=3 mkl=3 blas=3', 'w1 omp=3 mkl=3 blas=3']);
  // A value in corral's own env is never overridden; the others are still set.
  assert.deepEqual(await run([], { OMP_NUM_THREADS: '7' }), ['w0 omp=7 mkl=2 blas=2']);
});
