// CPU and memory of a worker's whole process tree, read from /proc (no helper process:
// a sampler that spawns would itself need reaping care). A GPU worker's memory lives
// mostly in DataLoader and compile children, so the tree is what --max-rss and the
// metrics see.
//
// Memory is PSS (/proc/PID/smaps_rollup): a page shared by n processes counts 1/n in each,
// so the tree's sum counts it once. Summing RSS counted the weights a parent shares
// copy-on-write with its forked DataLoader children once per child (a 400 MB parent with 8
// readers read as 3.6 GB, and --max-rss recycled it). Where smaps_rollup cannot be read
// (an old kernel, a process of another user), VmRSS stands in.
//
// The walk yields to the event loop every few milliseconds, so a tree of thousands of
// processes never stalls /livez or the log path; its cost is returned so the caller can
// sample big trees less often.

import { readSmall } from './procfs.js';
import { childrenOf, statFields } from './tree.js';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 in the Linux userspace ABI. */
const CLOCK_TICKS = 100;
/** The longest the walk runs before it yields to the event loop. */
const SLICE_MS = 2;

export interface TreeUsage {
  /** Proportional set size of the tree (shared pages counted once), bytes. */
  rssBytes: number;
  cpuSeconds: number;
}

const PSS = /^Pss:\s+(\d+) kB/m;
const VM_RSS = /^VmRSS:\s+(\d+) kB/m;

function memoryOf(pid: number): number {
  const pss = PSS.exec(readSmall(`/proc/${pid}/smaps_rollup`) ?? '');
  if (pss) return Number(pss[1]) * 1024;
  // no smaps_rollup: fall back to VmRSS
  const rss = VM_RSS.exec(readSmall(`/proc/${pid}/status`) ?? '');
  return rss ? Number(rss[1]) * 1024 : 0;
}

function one(pid: number): { memory: number; cpu: number } | undefined {
  const f = statFields(pid);
  if (!f) return undefined;
  return { memory: memoryOf(pid), cpu: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS };
}

/** Monotonic ms (process.hrtime: node:perf_hooks would cost every start its load). */
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The sum over pid and all its live descendants (CPU of exited descendants is not counted),
 * and how much CPU time the walk itself took (ms, without the time spent yielding).
 */
export async function treeUsage(pid: number): Promise<TreeUsage & { costMs: number }> {
  const total = { rssBytes: 0, cpuSeconds: 0, costMs: 0 };
  const queue = [pid];
  let slice = nowMs();
  for (let i = 0; i < queue.length; i++) {
    const p = queue[i] ?? 0;
    const u = one(p);
    if (u) {
      total.rssBytes += u.memory;
      total.cpuSeconds += u.cpu;
      for (const c of childrenOf(p) ?? []) queue.push(c);
    }
    const now = nowMs();
    if (now - slice >= SLICE_MS) {
      total.costMs += now - slice;
      await yieldToLoop();
      slice = nowMs();
    }
  }
  total.costMs += nowMs() - slice;
  return total;
}
