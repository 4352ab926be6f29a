// Every metric of SPEC §5, declared in this one module, on a registry of its own (never
// prom-client's global one: two supervisors in one process, as in the tests, must not clash).
//
// Values are read at scrape time from plain data (src/metrics/stats.ts, the supervisor's
// snapshot, the GPU collector's last sample); nothing here reaches into the supervisor.
// Only the histograms are fed as things happen, through Stats.onStartup / Stats.onBatch.
//
// Collect-time metrics are reset before they are filled, so a worker or GPU that is gone
// leaves no stale series behind. Counters are mirrored from monotonic sources with
// reset() + inc(value): the exposition still says `# TYPE ... counter`, which is what
// rate() needs.

import { createRequire } from 'node:module';
import type { GpuCollector, GpuSample } from '../gpu/collect.js';
import { isReady, WORKER_STATES, type Snapshot } from '../model.js';
import type { Stats } from './stats.js';

type PromClient = typeof import('prom-client');
type Counter<L extends string> = import('prom-client').Counter<L>;
type Gauge<L extends string> = import('prom-client').Gauge<L>;

export interface MetricsSource {
  snapshot(): Snapshot;
  stats: Stats;
  /** null when discovery found no GPU (no collector runs). */
  gpu: Pick<GpuCollector, 'latest' | 'errors'> | null;
  version: string;
}

export interface Metrics {
  render(): Promise<string>;
  readonly contentType: string;
}

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

/** Labels from a Stats key (label values joined with '\0'); null when the count is wrong. */
function splitKey<K extends string>(key: string, names: readonly K[]): Record<K, string> | null {
  const parts = key.split('\0');
  if (parts.length !== names.length) return null;
  const labels = {} as Record<K, string>;
  names.forEach((name, i) => {
    labels[name] = parts[i] ?? '';
  });
  return labels;
}

const GPU_GAUGES = [
  ['corral_gpu_utilization_ratio', 'GPU utilisation (0..1), from nvidia-smi utilization.gpu.', 'utilizationRatio'],
  ['corral_gpu_memory_used_bytes', 'GPU memory in use, from nvidia-smi memory.used.', 'memoryUsedBytes'],
  ['corral_gpu_memory_total_bytes', 'GPU memory in all, from nvidia-smi memory.total.', 'memoryTotalBytes'],
  ['corral_gpu_power_watts', 'GPU power draw, from nvidia-smi power.draw.', 'powerWatts'],
  ['corral_gpu_temperature_celsius', 'GPU temperature, from nvidia-smi temperature.gpu.', 'temperatureCelsius'],
] as const satisfies readonly (readonly [string, string, keyof GpuSample])[];

/**
 * Builds the registry. prom-client is loaded here, not at import: it costs start-up time,
 * and corral builds its metrics only once the workers are spawned.
 */
export function createMetrics(source: MetricsSource): Metrics {
  const prom = createRequire(import.meta.url)('prom-client') as PromClient;
  const registry = new prom.Registry();
  const registers = [registry];
  const { stats } = source;

  // One snapshot per scrape, shared by every collect() below, so that the figures of one
  // scrape agree with each other (and the supervisor builds its view once, not per metric).
  let scrape: Snapshot | null = null;
  const snap = (): Snapshot => scrape ?? source.snapshot();

  /** A counter mirrored from a monotonic source at scrape time. */
  function mirroredCounter<L extends string>(name: string, help: string, labelNames: readonly L[], fill: (c: Counter<L>) => void): void {
    new prom.Counter<L>({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        fill(this);
      },
    });
  }

  /** A Stats map (keys: label values joined with '\0') as a counter. */
  function mapCounter(name: string, help: string, labelNames: readonly string[], map: ReadonlyMap<string, number>): void {
    mirroredCounter(name, help, labelNames, (c) => {
      for (const [key, value] of map) {
        const labels = splitKey(key, labelNames);
        if (labels) c.inc(labels, value);
      }
    });
  }

  /** A gauge recomputed from scratch at each scrape. */
  function gauge<L extends string>(name: string, help: string, labelNames: readonly L[], fill: (g: Gauge<L>) => void): void {
    new prom.Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        fill(this);
      },
    });
  }

  // --- Workers and pools -----------------------------------------------------------------

  gauge('corral_workers', 'Workers per pool in each state (every state listed, 0 included).', ['pool', 'state'], (g) => {
    for (const pool of snap().pools) {
      const counts = new Map<string, number>(WORKER_STATES.map((s) => [s, 0]));
      for (const w of pool.workers) counts.set(w.state, (counts.get(w.state) ?? 0) + 1);
      for (const [state, n] of counts) g.set({ pool: pool.name, state }, n);
    }
  });

  gauge('corral_workers_desired', 'Workers each pool is configured to run.', ['pool'], (g) => {
    for (const pool of snap().pools) g.set({ pool: pool.name }, pool.desired);
  });

  gauge('corral_worker_ready', '1 while the worker is ready, else 0.', ['pool', 'worker'], (g) => {
    for (const pool of snap().pools) {
      for (const w of pool.workers) g.set({ pool: pool.name, worker: String(w.index) }, w.state === 'ready' ? 1 : 0);
    }
  });

  mapCounter(
    'corral_worker_restarts_total',
    'Worker restarts by reason (exit, signal, watchdog, startup_timeout, max_rss, rolling).',
    ['pool', 'worker', 'reason'],
    stats.restarts,
  );

  const startup = new prom.Histogram<'pool'>({
    name: 'corral_worker_startup_duration_seconds',
    help: 'Time from a worker spawn to its readiness.',
    labelNames: ['pool'],
    buckets: [...STARTUP_BUCKETS],
    registers,
  });

  mapCounter(
    'corral_worker_cpu_seconds_total',
    "CPU time of the worker's whole process tree, advanced by the delta between samples.",
    ['pool', 'worker'],
    stats.cpuSeconds,
  );

  gauge('corral_worker_resident_memory_bytes', "Resident memory of the worker's whole process tree, at the last sample.", ['pool', 'worker'], (g) => {
    for (const pool of snap().pools) {
      for (const w of pool.workers) {
        if (w.rssBytes !== null) g.set({ pool: pool.name, worker: String(w.index) }, w.rssBytes);
      }
    }
  });

  // --- PID 1 --------------------------------------------------------------------------------

  mirroredCounter('corral_zombies_reaped_total', 'Orphaned processes reaped by corral.', [], (c) => {
    c.inc(stats.zombiesReaped);
  });

  mapCounter('corral_signals_forwarded_total', 'Signals forwarded to workers, by name (SIGTERM, SIGWINCH...).', ['signal'], stats.signalsForwarded);

  // --- Logs -----------------------------------------------------------------------------------

  mapCounter('corral_log_lines_total', 'Lines read from workers, by stream.', ['pool', 'stream'], stats.logLines);
  mapCounter('corral_log_bytes_total', 'Bytes of worker output, by stream.', ['pool', 'stream'], stats.logBytes);
  mapCounter('corral_feedback_records_total', 'Feedback records (JSON lines with "kind":"feedback").', ['pool'], stats.feedback);

  // --- Readiness ------------------------------------------------------------------------------

  gauge('corral_ready', '1 when not draining and every pool has at least min_ready ready workers (as /readyz).', [], (g) => {
    g.set(isReady(snap()) ? 1 : 0);
  });

  gauge('corral_draining', '1 once corral has begun to stop its workers.', [], (g) => {
    g.set(snap().draining ? 1 : 0);
  });

  // --- Batches (X_CORRAL_BATCH) ---------------------------------------------------------------

  const batchSize = new prom.Histogram<'pool'>({
    name: 'corral_batch_size',
    help: 'Inference batch sizes reported by workers (X_CORRAL_BATCH).',
    labelNames: ['pool'],
    buckets: [...BATCH_SIZE_BUCKETS],
    registers,
  });

  const batchDuration = new prom.Histogram<'pool' | 'batch_size'>({
    name: 'corral_batch_duration_seconds',
    help: 'Inference batch durations reported by workers (X_CORRAL_BATCH); batch_size is the corral_batch_size bucket bound of the batch, "+Inf" above 1024.',
    labelNames: ['pool', 'batch_size'],
    buckets: [...BATCH_DURATION_BUCKETS],
    registers,
  });

  // Observers are chained, not replaced, so that a second registry on the same Stats (or
  // any observer set before) still sees every observation. They are on the supervisor's and
  // the log path's call stacks: a bad figure from a worker is dropped, never thrown.
  const onStartup = stats.onStartup;
  stats.onStartup = (pool, seconds) => {
    onStartup(pool, seconds);
    if (Number.isFinite(seconds) && seconds >= 0) startup.observe({ pool }, seconds);
  };
  const onBatch = stats.onBatch;
  stats.onBatch = (pool, size, seconds) => {
    onBatch(pool, size, seconds);
    if (!Number.isFinite(size) || size < 0 || !Number.isFinite(seconds) || seconds < 0) return;
    batchSize.observe({ pool }, size);
    batchDuration.observe({ pool, batch_size: batchSizeLabel(size) }, seconds);
  };
  // Pools appear in the per-pool histograms with zero counts before their first
  // observation, so that rate() and histogram_quantile() have a series from the start.
  // (zero() resets a series: it must come before the replay of earlier observations.)
  for (const pool of source.snapshot().pools) {
    startup.zero({ pool: pool.name });
    batchSize.zero({ pool: pool.name });
  }
  stats.replayEarly();

  // --- GPUs (sampled on a timer by GpuCollector, never on scrape) -------------------------------

  for (const [name, help, field] of GPU_GAUGES) {
    gauge(name, help, ['gpu', 'uuid'], (g) => {
      for (const s of source.gpu?.latest() ?? []) {
        const v = s[field];
        if (v !== null) g.set({ gpu: String(s.index), uuid: s.uuid }, v);
      }
    });
  }

  gauge('corral_gpu_info', 'One series per GPU, value 1, with its name.', ['gpu', 'uuid', 'name'], (g) => {
    for (const s of source.gpu?.latest() ?? []) g.set({ gpu: String(s.index), uuid: s.uuid, name: s.name }, 1);
  });

  mirroredCounter('corral_gpu_collect_errors_total', 'nvidia-smi runs that gave no sample (0 when no GPU is collected).', [], (c) => {
    c.inc(source.gpu?.errors ?? 0);
  });

  // --- Build and process ------------------------------------------------------------------------

  gauge('corral_build_info', 'Value 1, with the corral and Node.js versions.', ['version', 'node'], (g) => {
    g.set({ version: source.version, node: process.versions.node }, 1);
  });

  prom.collectDefaultMetrics({ register: registry });

  return {
    contentType: registry.contentType,
    async render() {
      scrape = source.snapshot();
      try {
        return await registry.metrics();
      } finally {
        scrape = null;
      }
    },
  };
}
