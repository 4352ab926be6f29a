// CPU and memory of a worker's whole process tree, read from /proc (no helper process:
// a sampler that spawns would itself need reaping care). A GPU worker's RSS lives mostly
// in DataLoader and compile children, so the tree is what --max-rss and the metrics see.

import { readFileSync } from 'node:fs';
import { childrenOf, statFields } from './tree.js';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 in the Linux userspace ABI. */
const CLOCK_TICKS = 100;

export interface TreeUsage {
  rssBytes: number;
  cpuSeconds: number;
}

function one(pid: number): { rss: number; cpu: number } | undefined {
  try {
    const f = statFields(pid);
    if (!f) return undefined;
    const cpu = (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return { rss: m ? Number(m[1]) * 1024 : 0, cpu };
  } catch {
    return undefined;
  }
}

/** The sum over pid and all its live descendants. CPU of exited descendants is not counted. */
export function treeUsage(pid: number): TreeUsage {
  const total: TreeUsage = { rssBytes: 0, cpuSeconds: 0 };
  const queue = [pid];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    const u = one(p);
    if (!u) continue;
    total.rssBytes += u.rss;
    total.cpuSeconds += u.cpu;
    queue.push(...(childrenOf(p) ?? []));
  }
  return total;
}
