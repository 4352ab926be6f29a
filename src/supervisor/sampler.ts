// CPU and memory of each worker's process tree, sampled on a timer: the CPU counter
// advances by the delta between samples of the same process (a new process starts from
// zero), and a tree over --max-rss is reported for recycling (reason max_rss).
//
// The walk yields to the event loop (process/usage.ts), and its cost sets the pace: the
// next round comes after at least 50 times what this one cost, so a worker with thousands
// of children costs corral at most ~2 % of a core, however big its tree grows.

import type { Logger } from '../logs/logger.js';
import { Stats } from '../metrics/stats.js';
import { treeUsage, type TreeUsage } from '../process/usage.js';
import { pidOf } from './lifecycle.js';
import type { Slot } from './slot.js';

export interface Usage {
  /** The process the sample is of. */
  pid: number;
  usage: TreeUsage;
}

/**
 * Measures a tree; `costMs` (CPU time the walk took) paces the next round, and `changed:
 * false` (nothing in the tree ran or changed since the last walk) lets it come later.
 */
export type Measure = (pid: number) => TreeUsage | Promise<TreeUsage & { costMs?: number; changed?: boolean }>;

export interface SampleResult {
  usage: Usage;
  /** CPU seconds used since the previous sample of this process. */
  cpuDelta: number;
  /** The tree is over the pool's --max-rss. */
  overLimit: boolean;
}

export const SAMPLE_MS = 2000;
/** While every tree stays unchanged, rounds come ever later: 2, 4, 8 s. */
export const IDLE_SAMPLE_MS = 8000;
/** A round may cost at most 1/COST_FACTOR of the time until the next. */
const COST_FACTOR = 50;

/** One sample of pid's tree, given the previous sample of this worker slot. */
export function judgeSample(pid: number, usage: TreeUsage, previous: Usage | null, maxRssBytes: number | null): SampleResult {
  const before = previous !== null && previous.pid === pid ? previous.usage.cpuSeconds : 0;
  return {
    usage: { pid, usage: { rssBytes: usage.rssBytes, cpuSeconds: usage.cpuSeconds } },
    cpuDelta: Math.max(0, usage.cpuSeconds - before),
    overLimit: maxRssBytes !== null && usage.rssBytes > maxRssBytes,
  };
}

/**
 * When the next round starts, after one that cost costMs and `quiet` rounds in a row in which
 * no tree changed (an idle pool is sampled every 8 s; any change brings back 2 s).
 */
export function nextSampleMs(costMs: number, quiet = 0): number {
  const base = Math.min(IDLE_SAMPLE_MS, SAMPLE_MS * 2 ** Math.min(quiet, 8));
  return Math.max(base, Math.ceil(costMs * COST_FACTOR));
}

export interface SamplerHooks {
  slots: readonly Slot[];
  stats: Stats;
  log: Logger;
  /** False while corral stops: nothing is recycled then. */
  recycle(): boolean;
  /** A worker over --max-rss (already logged). */
  overLimit(slot: Slot): void;
  measure?: Measure;
  /** Reads corral's own cgroup figures, once per round. */
  container?: () => void;
}

export class Sampler {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Rounds in a row in which no tree changed. */
  private quiet = 0;

  constructor(private readonly h: SamplerHooks) {}

  start(delayMs = SAMPLE_MS): void {
    if (this.stopped) return;
    // The container's figures are there from the start (later, once per round).
    if (this.timer === undefined) this.h.container?.();
    this.timer = setTimeout(() => {
      void this.round();
    }, delayMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Samples every live worker's tree, one after another; then schedules the next round. */
  async round(): Promise<void> {
    const { slots, stats, log, measure = treeUsage } = this.h;
    this.h.container?.();
    let cost = 0;
    let changed = false;
    for (const slot of slots) {
      const pid = pidOf(slot.w.state);
      if (pid === null || slot.w.state.kind === 'stopping') continue;
      let measured: TreeUsage & { costMs?: number; changed?: boolean };
      try {
        measured = await measure(pid);
      } catch {
        changed = true;
        continue; // gone while it was read
      }
      cost += measured.costMs ?? 0;
      changed ||= measured.changed !== false;
      // The worker may have changed while its tree was read: only a sample of the live process counts.
      const st = slot.w.state;
      if (this.stopped || pidOf(st) !== pid || (st.kind !== 'starting' && st.kind !== 'ready')) continue;
      const r = judgeSample(pid, measured, slot.usage, slot.pool.maxRssBytes);
      if (r.cpuDelta > 0) Stats.inc(stats.cpuSeconds, `${slot.pool.name}\0${slot.index}`, r.cpuDelta);
      slot.usage = r.usage;
      if (!r.overLimit || !this.h.recycle()) continue;
      const rss = r.usage.usage.rssBytes;
      const limit = slot.pool.maxRssBytes ?? 0;
      const fields = { event: 'restart', pool: slot.pool.name, worker: slot.index, pid, reason: 'max_rss', rss_bytes: rss, max_rss_bytes: limit };
      log.warn(fields, `${slot.pool.name}.${slot.index}: process tree memory ${rss} bytes (PSS) is over --max-rss ${limit}; recycling`);
      this.h.overLimit(slot);
    }
    this.quiet = changed ? 0 : this.quiet + 1;
    this.start(nextSampleMs(cost, this.quiet));
  }
}
