// A real OOM kill (SPEC §9): corral as PID 1 of a PID namespace inside a memory cgroup of
// 256 MiB (nested below the cgroup this test runs in), a worker that allocates until the
// kernel kills it. The exit's cause is oom_kill, corral survives and counts it.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { childrenOf, corralBin, fixture, http, sample, until } from '../helpers.js';
import { locateCgroups } from '../../dist/container/cgroup.js';

const own = locateCgroups(readFileSync('/proc/self/cgroup', 'utf8'), readFileSync('/proc/self/mountinfo', 'utf8'));
// cgroup v2 with the memory controller, else v1's memory hierarchy.
const v2 = own.v2 !== null && existsSync(join(own.v2, 'memory.events')) && readFileSync(join(own.v2, 'cgroup.controllers'), 'utf8').includes('memory');
const parent = v2 ? own.v2 : own.memory;
const cg = parent && join(parent, `corral-oom-${process.pid}`);

after(() => {
  if (cg && existsSync(cg)) {
    try {
      rmdirSync(cg);
    } catch {
      // a process still inside: the kernel removes nothing; leave it for the next boot
    }
  }
});

test('a worker the kernel OOM-kills: cause oom_kill, corral survives, corral_container_oom_kills_total counts it', { timeout: 90_000 }, async (t) => {
  if (!cg) {
    t.skip('no memory cgroup here (neither v2 with memory nor v1 memory is mounted)');
    return;
  }
  mkdirSync(cg);
  const limit = String(256 * 2 ** 20);
  if (v2) {
    writeFileSync(join(cg, 'memory.max'), limit);
    if (existsSync(join(cg, 'memory.swap.max'))) writeFileSync(join(cg, 'memory.swap.max'), '0');
  } else {
    writeFileSync(join(cg, 'memory.limit_in_bytes'), limit);
    // No swap either, or the allocator pages out instead of being killed.
    if (existsSync(join(cg, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(cg, 'memory.memsw.limit_in_bytes'), limit);
  }
  const port = 9300 + Math.floor(Math.random() * 150);
  const toml = join(tmpdir(), `corral-oom-${process.pid}.toml`);
  writeFileSync(toml, `[pools.hog]\ncommand = ["python3", ${JSON.stringify(fixture('exits.py'))}, "alloc"]\nrestart = "never"\nmin_ready = 0\n[pools.keeper]\ncommand = ["sleep", "120"]\n`);
  // The shell joins the cgroup, then becomes unshare; corral is PID 1 of the new namespace.
  const child = spawn('sh', ['-c', `echo $$ > ${join(cg, 'cgroup.procs')} && exec unshare --pid --fork --mount-proc "$0" "$@"`, process.execPath, corralBin, '--config', toml, '--http', `127.0.0.1:${port}`], {
    env: { ...process.env, CORRAL_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('close', resolve));
  const records = () => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  try {
    await until(() => records().find((r) => r.event === 'exit' && r.pool === 'hog'), { timeoutMs: 60_000, what: 'the hog exit record' });
    const rec = records().find((r) => r.event === 'exit' && r.pool === 'hog');
    assert.equal(rec.signal, 'SIGKILL', JSON.stringify(rec));
    assert.equal(rec.cause, 'oom_kill', JSON.stringify(rec));
    let metrics = '';
    await until(async () => {
      metrics = (await http(port, '/metrics')).body ?? '';
      return sample(metrics, 'corral_container_oom_kills_total', {}) >= 1;
    }, { timeoutMs: 15_000, what: 'corral_container_oom_kills_total >= 1' });
    assert.equal(sample(metrics, 'corral_worker_exits_total', { pool: 'hog', cause: 'oom_kill' }), 1);
    assert.equal((await http(port, '/livez')).status, 200, 'corral survived');
  } finally {
    // corral is unshare's child (PID 1 of the namespace); unshare forwards nothing.
    for (const pid of childrenOf(child.pid)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
    let timer;
    const unshared = await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 30_000, 'timeout')))]);
    clearTimeout(timer);
    if (unshared === 'timeout') child.kill('SIGKILL');
  }
  assert.match(stderr, /corral exiting with code/, 'corral ended with its own exit record');
});
