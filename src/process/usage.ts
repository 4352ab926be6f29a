// CPU and memory of a worker's whole process tree, read from /proc (no helper process:
// a sampler that spawns would itself need reaping care). A GPU worker's RSS lives mostly
// in DataLoader and compile children, so the tree is what --max-rss and the metrics see.

import { readFileSync, readdirSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 in the Linux userspace ABI. */
const CLOCK_TICKS = 100;

export interface TreeUsage {
  rssBytes: number;
  cpuSeconds: number;
  processes: number;
}

function children(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').split(' ')) {
        const n = Number(c);
        if (n > 0) out.push(n);
      }
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function one(pid: number): { rss: number; cpu: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after the comm: state(0) ppid(1) ... utime(11) stime(12)
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
  const total: TreeUsage = { rssBytes: 0, cpuSeconds: 0, processes: 0 };
  const queue = [pid];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    const u = one(p);
    if (!u) continue;
    total.rssBytes += u.rss;
    total.cpuSeconds += u.cpu;
    total.processes++;
    queue.push(...children(p));
  }
  return total;
}
