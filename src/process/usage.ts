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

import { readHeld, readSmall, release } from './procfs.js';
import { childrenOf, statFieldsOf } from './tree.js';

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

/**
 * What a process's stat says of its activity: CPU ticks, page faults, children's CPU, threads,
 * its start time (a reused pid differs) and size. The same fingerprint as at the last round
 * means the process has not run, faulted, forked or reaped since (a fork faults the parent's
 * pages), so its memory and its children are what they were: an idle worker costs one read
 * of its stat per round instead of smaps_rollup (a walk of every mapping) and a children file
 * per thread (dozens for a PyTorch process). A vfork() (posix_spawn, Python's subprocess)
 * faults nothing in the parent: the main thread's children file is read every round too, and
 * a child of another thread's vfork is seen at the next full read.
 */
function fingerprint(f: readonly string[]): string {
  // minflt, majflt, utime, stime, cutime, cstime, num_threads, starttime, vsize, rss
  return `${f[7]} ${f[9]} ${f[11]} ${f[12]} ${f[13]} ${f[14]} ${f[17]} ${f[19]} ${f[20]} ${f[21]}`;
}

interface Seen {
  print: string;
  memory: number;
  children: number[];
  /** When memory and children were read (a full read every REFRESH_MS whatever the fingerprint). */
  readAt: number;
  seenAt: number;
}

/** Memory and children are read again at least this often. */
const REFRESH_MS = 30_000;
const seen = new Map<number, Seen>();
let prunedAt = 0;

/** A worker's own files (its stat, its main thread's children) stay open between rounds. */
const statPath = (pid: number): string => `/proc/${pid}/stat`;
const childrenPath = (pid: number): string => `/proc/${pid}/task/${pid}/children`;

function forget(pid: number): void {
  seen.delete(pid);
  release(statPath(pid));
  release(childrenPath(pid));
}

/** The fields of the stat after the command name (a worker's own stat is kept open). */
function statOf(pid: number, hold: boolean): string[] | undefined {
  return statFieldsOf(hold ? readHeld(statPath(pid)) : readSmall(statPath(pid)));
}

function one(pid: number, now: number, root: boolean): { memory: number; cpu: number; children: number[]; changed: boolean } | undefined {
  const f = statOf(pid, root);
  if (!f) {
    forget(pid);
    return undefined;
  }
  const cpu = (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  const print = fingerprint(f);
  const was = seen.get(pid);
  if (was !== undefined && was.print === print && now - was.readAt < REFRESH_MS && !newChild(pid, was.children, root)) {
    was.seenAt = now;
    return { memory: was.memory, cpu, children: was.children, changed: false };
  }
  const fresh: Seen = { print, memory: memoryOf(pid), children: childrenOf(pid) ?? [], readAt: now, seenAt: now };
  seen.set(pid, fresh);
  return { memory: fresh.memory, cpu, children: fresh.children, changed: was === undefined || was.print !== print || was.memory !== fresh.memory || was.children.join() !== fresh.children.join() };
}

/** A child in the main thread's children file that was not there at the last full read. */
function newChild(pid: number, known: readonly number[], root: boolean): boolean {
  const text = root ? readHeld(childrenPath(pid)) : readSmall(childrenPath(pid));
  if (text === null) return false;
  for (const p of text.split(' ')) {
    const n = Number(p);
    if (n > 0 && !known.includes(n)) return true;
  }
  return false;
}

/** Forgets processes not seen for a while (gone, or no longer a worker's). */
function prune(now: number): void {
  if (now - prunedAt < REFRESH_MS) return;
  prunedAt = now;
  for (const [pid, s] of seen) if (now - s.seenAt > 2 * REFRESH_MS) forget(pid);
}

/** Monotonic ms (process.hrtime: node:perf_hooks would cost every start its load). */
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The sum over pid and all its live descendants (CPU of exited descendants is not counted),
 * how much CPU time the walk itself took (ms, without the time spent yielding), and whether
 * any process of the tree ran, changed or went since the last walk (`changed`).
 */
export async function treeUsage(pid: number): Promise<TreeUsage & { costMs: number; changed: boolean }> {
  const total = { rssBytes: 0, cpuSeconds: 0, costMs: 0, changed: false };
  const queue = [pid];
  /** Where each pid of the queue was listed: a child gone from a kept list makes its parent be read again. */
  const parents = [0];
  let slice = nowMs();
  const at = Date.now();
  prune(at);
  for (let i = 0; i < queue.length; i++) {
    const p = queue[i] ?? 0;
    const u = one(p, at, i === 0);
    if (!u) {
      total.changed = true;
      seen.delete(parents[i] ?? 0);
    } else {
      total.changed ||= u.changed;
      total.rssBytes += u.memory;
      total.cpuSeconds += u.cpu;
      for (const c of u.children) {
        queue.push(c);
        parents.push(p);
      }
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
