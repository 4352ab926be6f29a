// What corral counts, as plain data: the supervisor and the log path write here (cheap
// increments on hot paths) and /metrics reads it at scrape time. No prom-client here: an
// unscraped corral never loads it, yet nothing observed before the first scrape is lost
// (histograms are bucket counts from the start: exact for any number of observations, in
// constant memory).

import type { ContainerFigures } from '../container/cgroup.js';
/** SPEC §5: spawn to ready. */
export const STARTUP_BUCKETS: readonly number[] = [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200];

/** SPEC §5: 1, 2, 4 .. 1024. */
export const BATCH_SIZE_BUCKETS: readonly number[] = Array.from({ length: 11 }, (_, i) => 2 ** i);

/**
 * One inference batch, 1 ms (a small model on a warm GPU) to 60 s (a long generation batch
 * of a large model), in the 1-2.5-5 steps of prom-client's defaults. Slower batches still
 * count, in +Inf.
 */
export const BATCH_DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/**
 * The batch_size label of corral_batch_duration_seconds: the corral_batch_size bucket the
 * size falls in (the smallest bound >= size, so 3 is "4" and 1024 is "1024"), or "+Inf"
 * above 1024, as the histogram's own `le` would say. Worker-chosen sizes then give at most
 * 12 label values per pool, and the two histograms can be joined on it.
 */
export function batchSizeLabel(size: number): string {
  for (const bound of BATCH_SIZE_BUCKETS) {
    if (size <= bound) return String(bound);
  }
  return '+Inf';
}

/** One histogram series: observations per bucket (not cumulative; the last is +Inf), sum and count. */
export interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

/** A histogram as plain data, one series per key (label values joined with '\0'). */
export class Histogram {
  readonly series = new Map<string, HistogramSeries>();

  constructor(readonly bounds: readonly number[]) {}

  /** The series of key, created empty (pools appear with zero counts before their first observation). */
  of(key: string): HistogramSeries {
    let s = this.series.get(key);
    if (!s) {
      s = { counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  observe(key: string, value: number): void {
    const s = this.of(key);
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] ?? Infinity)) i++;
    s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
    s.count++;
  }
}

/** Counters (monotonic). Keys join labels with '\0'. */
export class Stats {
  readonly restarts = new Map<string, number>(); // pool\0worker\0reason
  readonly exits = new Map<string, number>(); // pool\0cause
  readonly signalsForwarded = new Map<string, number>(); // SIGNAME
  readonly logLines = new Map<string, number>(); // pool\0stream
  readonly logBytes = new Map<string, number>(); // pool\0stream
  readonly feedback = new Map<string, number>(); // pool
  /** CPU seconds per pool\0worker, advanced by the delta between samples. */
  readonly cpuSeconds = new Map<string, number>();
  zombiesReaped = 0;
  /** corral's cgroup at the last sample (SPEC §10); null before the first. */
  container: ContainerFigures | null = null;
  notifyMalformed = 0;

  /** corral_worker_startup_duration_seconds{pool}: spawn to ready. */
  readonly startup = new Histogram(STARTUP_BUCKETS);
  /** corral_batch_size{pool} and corral_batch_duration_seconds{pool,batch_size}, from X_CORRAL_BATCH. */
  readonly batchSize = new Histogram(BATCH_SIZE_BUCKETS);
  readonly batchDuration = new Histogram(BATCH_DURATION_BUCKETS);

  /** A worker became ready `seconds` after its spawn. A bad figure is dropped, never thrown. */
  onStartup(pool: string, seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.startup.observe(pool, seconds);
  }

  /** One inference batch, as a worker reported it (X_CORRAL_BATCH); impossible figures are dropped. */
  onBatch(pool: string, size: number, seconds: number): void {
    if (!Number.isFinite(size) || size < 0 || !Number.isFinite(seconds) || seconds < 0) return;
    this.batchSize.observe(pool, size);
    this.batchDuration.observe(`${pool}\0${batchSizeLabel(size)}`, seconds);
  }

  static inc(map: Map<string, number>, key: string, by = 1): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }
}
