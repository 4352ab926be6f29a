import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { locateCgroups, oomKills, pidsLimit } from '../../dist/container/cgroup.js';
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
