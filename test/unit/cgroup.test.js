import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cpusetSize, locateCgroups, oomKills, pidsLimit, readContainer } from '../../dist/container/cgroup.js';
import { threadsPerWorker, threadVars } from '../../dist/container/threads.js';
import { containerLine } from '../../dist/cli/client.js';
import { nprocLimit } from '../../dist/process/limits.js';

const v1Host = `4:memory:/process_api/abc
8:pids:/
1:cpu,cpuacct:/kubepods/pod1
0::/
`;
const v1Mounts = `31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

test('cgroup v1 on a host: mount point plus the full path', () => {
  const d = locateCgroups(v1Host, v1Mounts);
  assert.equal(d.memory, '/sys/fs/cgroup/memory/process_api/abc');
  assert.equal(d.cpu, '/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1');
  assert.equal(d.pids, '/sys/fs/cgroup/pids');
  assert.equal(d.v2, '/sys/fs/cgroup/unified');
  assert.equal(d.cpuset, null);
});

test('a container without a cgroup namespace: the runtime mounted its own cgroup as the root', () => {
  const d = locateCgroups('4:memory:/docker/abc\n0::/docker/abc\n', '50 40 0:31 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n60 40 0:40 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n');
  assert.equal(d.memory, '/sys/fs/cgroup/memory');
  assert.equal(d.v2, '/sys/fs/cgroup');
});

test('cgroup v2 with a cgroup namespace (the usual container): the mount is the cgroup', () => {
  const d = locateCgroups('0::/\n', '60 40 0:40 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n');
  assert.equal(d.v2, '/sys/fs/cgroup');
  assert.equal(d.memory, null);
});

test('a mount point with a space is unescaped; a cgroup outside the mount falls back to the mount', () => {
  const d = locateCgroups('4:memory:/../other\n', '34 30 0:31 /mine /sys/fs/my\\040cg rw - cgroup cgroup rw,memory\n');
  assert.equal(d.memory, '/sys/fs/my cg');
});

test('oom_kill count from v2 memory.events, else v1 memory.oom_control; pids.max', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cg-'));
  const v1 = join(dir, 'v1');
  const v2 = join(dir, 'v2');
  mkdirSync(v1);
  mkdirSync(v2);
  const none = { v2: null, memory: null, cpu: null, cpuset: null, pids: null };
  assert.equal(oomKills(none), null);
  writeFileSync(join(v1, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
  assert.equal(oomKills({ ...none, v2, memory: v1 }), 3, 'v2 without a memory controller: v1');
  writeFileSync(join(v2, 'memory.events'), 'low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n');
  assert.equal(oomKills({ ...none, v2, memory: v1 }), 2);
  writeFileSync(join(v2, 'pids.max'), 'max\n');
  assert.equal(pidsLimit({ ...none, v2 }), null);
  writeFileSync(join(v2, 'pids.max'), '64\n');
  assert.equal(pidsLimit({ ...none, v2 }), 64);
});

test('RLIMIT_NPROC from /proc/self/limits', () => {
  const head = 'Limit                     Soft Limit           Hard Limit           Units     \n';
  assert.equal(nprocLimit(`${head}Max processes             96362                96362                processes \n`), 96362);
  assert.equal(nprocLimit(`${head}Max processes             unlimited            unlimited            processes \n`), null);
});

test('cgroup v2 files as a real v2 cgroup has them: limits, usage, OOM kills, quota, cpuset, throttling', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-v2-'));
  const files = {
    'memory.max': '536870912\n',
    'memory.current': '123456789\n',
    'memory.events': 'low 0\nhigh 0\nmax 17\noom 3\noom_kill 2\noom_group_kill 0\n',
    'cpu.max': '150000 100000\n',
    'cpu.stat': 'usage_usec 9000000\nuser_usec 6000000\nsystem_usec 3000000\nnr_periods 400\nnr_throttled 12\nthrottled_usec 2500000\nnr_bursts 0\nburst_usec 0\n',
    'cpuset.cpus.effective': '0-3\n',
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const none = { v2: null, memory: null, cpu: null, cpuset: null, pids: null };
  assert.deepEqual(readContainer(64, { ...none, v2: dir }), { memoryLimitBytes: 536870912, memoryUsageBytes: 123456789, oomKills: 2, cpuLimitCores: 1.5, cpuThrottledSeconds: 2.5 });
  writeFileSync(join(dir, 'memory.max'), 'max\n');
  writeFileSync(join(dir, 'cpu.max'), 'max 100000\n');
  assert.deepEqual(readContainer(64, { ...none, v2: dir }), { memoryLimitBytes: null, memoryUsageBytes: 123456789, oomKills: 2, cpuLimitCores: 4, cpuThrottledSeconds: 2.5 }, 'no quota: the cpuset');
  assert.equal(readContainer(2, { ...none, v2: dir }).cpuLimitCores, 2, 'the CPUs online bound it');
  assert.deepEqual(readContainer(8, none), { memoryLimitBytes: null, memoryUsageBytes: null, oomKills: null, cpuLimitCores: 8, cpuThrottledSeconds: null });
});

test('cgroup v1 files: the no-limit sentinel, quota -1, throttled_time in ns', () => {
  const mem = mkdtempSync(join(tmpdir(), 'corral-v1m-'));
  const cpu = mkdtempSync(join(tmpdir(), 'corral-v1c-'));
  writeFileSync(join(mem, 'memory.limit_in_bytes'), '9223372036854771712\n');
  writeFileSync(join(mem, 'memory.usage_in_bytes'), '4096\n');
  writeFileSync(join(cpu, 'cpu.cfs_quota_us'), '-1\n');
  writeFileSync(join(cpu, 'cpu.cfs_period_us'), '100000\n');
  writeFileSync(join(cpu, 'cpu.stat'), 'nr_periods 10\nnr_throttled 1\nthrottled_time 1500000000\n');
  const d = { v2: null, memory: mem, cpu, cpuset: null, pids: null };
  assert.deepEqual(readContainer(2, d), { memoryLimitBytes: null, memoryUsageBytes: 4096, oomKills: null, cpuLimitCores: 2, cpuThrottledSeconds: 1.5 });
  writeFileSync(join(mem, 'memory.limit_in_bytes'), '536870912\n');
  writeFileSync(join(cpu, 'cpu.cfs_quota_us'), '50000\n');
  assert.equal(readContainer(2, d).memoryLimitBytes, 536870912);
  assert.equal(readContainer(2, d).cpuLimitCores, 0.5);
});

test('cpuset lists, threads per worker, and the variables a pool gets', () => {
  assert.equal(cpusetSize('0-3,8,10-11'), 7);
  assert.equal(cpusetSize('5'), 1);
  assert.equal(cpusetSize(''), null);
  assert.equal(cpusetSize('3-1'), null);
  assert.equal(threadsPerWorker('auto', 2, 2), 1);
  assert.equal(threadsPerWorker('auto', 2, 1), 2);
  assert.equal(threadsPerWorker('auto', 1.5, 4), 1, 'at least 1');
  assert.equal(threadsPerWorker('auto', 128, 8), 16);
  assert.equal(threadsPerWorker('auto', null, 8), null);
  assert.equal(threadsPerWorker('off', 8, 1), null);
  assert.equal(threadsPerWorker(3, 8, 100), 3);
  assert.deepEqual(threadVars(2, {}, {}), { OMP_NUM_THREADS: '2', MKL_NUM_THREADS: '2', OPENBLAS_NUM_THREADS: '2' });
  assert.deepEqual(threadVars(2, { OMP_NUM_THREADS: '7' }, { MKL_NUM_THREADS: '5' }), { OPENBLAS_NUM_THREADS: '2' }, 'never overrides corral\'s env or the pool\'s');
  assert.deepEqual(threadVars(null, {}, {}), {});
  assert.equal(containerLine({ memory_limit_bytes: 8 * 2 ** 30, memory_usage_bytes: 2 ** 30, oom_kills: 1, cpu_limit_cores: 1.5, cpu_throttled_seconds: 3.21 }), 'container: memory 1024MiB of 8192MiB, 1 OOM kill; CPU limit 1.5 cores, throttled 3.2s');
  assert.equal(containerLine({ memory_limit_bytes: null, memory_usage_bytes: null, oom_kills: null, cpu_limit_cores: 2, cpu_throttled_seconds: null }), 'container: memory - of no limit; CPU limit 2 cores');
});
