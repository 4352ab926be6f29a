// CPU and memory of each worker's process tree, sampled on a timer: the CPU counter
// advances by the delta between samples of the same process (a new process starts from
// zero), and a tree over --max-rss is reported for recycling (reason max_rss).

import type { Logger } from '../logs/logger.js';
import { Stats } from '../metrics/stats.js';
import { treeUsage, type TreeUsage } from '../process/usage.js';
import type { Slot } from './slot.js';

export interface Usage {
  /** The process the sample is of. */
  pid: number;
  usage: TreeUsage;
}

export interface SampleResult {
  usage: Usage;
  /** CPU seconds used since the previous sample of this process. */
  cpuDelta: number;
  /** The tree is over the pool's --max-rss. */
  overLimit: boolean;
}

/** One sample of pid's tree, given the previous sample of this worker slot. */
export function sampleTree(pid: number, previous: Usage | null, maxRssBytes: number | null, measure: (pid: number) => TreeUsage = treeUsage): SampleResult {
  const usage = measure(pid);
  const before = previous !== null && previous.pid === pid ? previous.usage.cpuSeconds : 0;
  return {
    usage: { pid, usage },
    cpuDelta: Math.max(0, usage.cpuSeconds - before),
    overLimit: maxRssBytes !== null && usage.rssBytes > maxRssBytes,
  };
}

/**
 * Samples every live worker's tree: CPU into Stats, the sample onto the slot. Returns the
 * slots over --max-rss (logged here) when `recycle` (not while corral stops), for the supervisor to recycle.
 */
export function sampleSlots(slots: readonly Slot[], stats: Stats, log: Logger, recycle: boolean, measure?: (pid: number) => TreeUsage): Slot[] {
  const over: Slot[] = [];
  for (const slot of slots) {
    const st = slot.w.state;
    if (st.kind !== 'starting' && st.kind !== 'ready') continue;
    const r = sampleTree(st.pid, slot.usage, slot.pool.maxRssBytes, measure);
    if (r.cpuDelta > 0) Stats.inc(stats.cpuSeconds, `${slot.pool.name}\0${slot.index}`, r.cpuDelta);
    slot.usage = r.usage;
    if (!r.overLimit || !recycle) continue;
    const rss = r.usage.usage.rssBytes;
    const limit = slot.pool.maxRssBytes ?? 0;
    const fields = { event: 'restart', pool: slot.pool.name, worker: slot.index, pid: st.pid, reason: 'max_rss', rss_bytes: rss, max_rss_bytes: limit };
    log.warn(fields, `${slot.pool.name}.${slot.index}: process tree RSS ${rss} bytes is over --max-rss ${limit}; recycling`);
    over.push(slot);
  }
  return over;
}
