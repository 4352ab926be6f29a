// Every metric of SPEC §5, declared in this one module, on a registry of its own (never
// prom-client's global one: two supervisors in one process, as in the tests, must not clash).
//
// Values are read at scrape time from plain data (src/metrics/stats.ts, the supervisor's
// snapshot, the GPU collector's last sample); nothing here reaches into the supervisor, and
// nothing is fed to it as things happen: histograms too are rendered from Stats' bucket counts.
//
// Collect-time metrics are reset before they are filled, so a worker or GPU that is gone
// leaves no stale series behind. Counters are mirrored from monotonic sources with
// reset() + inc(value): the exposition still says `# TYPE ... counter`, which is what
// rate() needs.

import { createRequire } from 'node:module';
import type { ContainerFigures } from '../container/cgroup.js';
import type { GpuCollector, GpuSample } from '../gpu/collect.js';
import { isReady, WORKER_STATES, type Snapshot } from '../model.js';
import { EXIT_CAUSES, RESTART_REASONS, workerReady } from '../model.js';
import type { Histogram, Stats } from './stats.js';

type PromClient = typeof import('prom-client');
type Counter<L extends string> = import('prom-client').Counter<L>;
type Gauge<L extends string> = import('prom-client').Gauge<L>;

export interface MetricsSource {
  snapshot(): Snapshot;
  stats: Stats;
  /** null when discovery found no GPU (no collector runs). */
  gpu: Pick<GpuCollector, 'latest' | 'errors' | 'up'> | null;
  version: string;
}

export interface Metrics {
  render(): Promise<string>;
  readonly contentType: string;
}

export { BATCH_DURATION_BUCKETS, BATCH_SIZE_BUCKETS, batchSizeLabel, STARTUP_BUCKETS } from './stats.js';

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

  /**
   * A Stats map (keys: label values joined with '\0') as a counter. `known` gives label sets
   * served at 0 before their first count: a series born at 1 shows no increase() or rate()
   * for that first event (Prometheus has no earlier sample), so an alert on the first OOM
   * kill of a pod would never fire.
   */
  function mapCounter(
    name: string,
    help: string,
    labelNames: readonly string[],
    map: ReadonlyMap<string, number>,
    known: () => Iterable<Record<string, string>> = () => [],
  ): void {
    mirroredCounter(name, help, labelNames, (c) => {
      for (const labels of known()) c.inc(labels, 0);
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

  /**
   * A histogram rendered from Stats' bucket counts. Per-pool histograms (label `pool` alone)
   * have a zero series for every pool from the start, so that rate() and
   * histogram_quantile() have a series before the first observation.
   */
  function histogram(name: string, help: string, labelNames: readonly string[], data: Histogram): void {
    const perPool = labelNames.length === 1 && labelNames[0] === 'pool';
    const metric = {
      name,
      help,
      type: 'histogram' as const,
      aggregator: 'sum' as const,
      get() {
        if (perPool) for (const pool of snap().pools) data.of(pool.name);
        // As prom-client's own Histogram lays them out: `le` first, then the series' labels.
        const values: { metricName: string; labels: Record<string, string | number>; sharedLabels: Record<string, string>; value: number }[] = [];
        for (const [key, s] of data.series) {
          const sharedLabels = splitKey(key, labelNames);
          if (!sharedLabels) continue;
          let cumulative = 0;
          data.bounds.forEach((le, i) => {
            cumulative += s.counts[i] ?? 0;
            values.push({ metricName: `${name}_bucket`, labels: { le }, sharedLabels, value: cumulative });
          });
          values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, sharedLabels, value: s.count });
          values.push({ metricName: `${name}_sum`, labels: {}, sharedLabels, value: s.sum });
          values.push({ metricName: `${name}_count`, labels: {}, sharedLabels, value: s.count });
        }
        return { name, help, type: 'histogram' as const, aggregator: 'sum' as const, values };
      },
    };
    registry.registerMetric(metric as unknown as import('prom-client').Metric);
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
      for (const w of pool.workers) g.set({ pool: pool.name, worker: String(w.index) }, workerReady(w) ? 1 : 0);
    }
  });

  mapCounter(
    'corral_worker_restarts_total',
    `Worker restarts by reason (${RESTART_REASONS.join(', ')}).`,
    ['pool', 'worker', 'reason'],
    stats.restarts,
    function* () {
      for (const pool of snap().pools) {
        for (const w of pool.workers) for (const reason of RESTART_REASONS) yield { pool: pool.name, worker: String(w.index), reason };
      }
    },
  );

  mapCounter('corral_worker_exits_total', `Worker exits by cause (${EXIT_CAUSES.join(', ')}).`, ['pool', 'cause'], stats.exits, function* () {
    for (const pool of snap().pools) for (const cause of EXIT_CAUSES) yield { pool: pool.name, cause };
  });

  histogram('corral_worker_startup_duration_seconds', 'Time from a worker spawn to its readiness.', ['pool'], stats.startup);

  mapCounter(
    'corral_worker_cpu_seconds_total',
    "CPU time of the worker's whole process tree, advanced by the delta between samples.",
    ['pool', 'worker'],
    stats.cpuSeconds,
  );

  gauge('corral_queue_depth', 'Requests waiting in the worker, as it last reported (X_CORRAL_QUEUE).', ['pool', 'worker'], (g) => {
    for (const pool of snap().pools) {
      for (const w of pool.workers) if (typeof w.queueDepth === 'number') g.set({ pool: pool.name, worker: String(w.index) }, w.queueDepth);
    }
  });

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

  // --- Container (SPEC §10) ---------------------------------------------------------------------

  // Read on the sampler's timer (every 2 s), never on a scrape. No limit: no series.
  const container = (): ContainerFigures | null => stats.container;
  // A labelless prom-client gauge always has a value (0 after reset): these are rendered by
  // hand, so that "no limit" is no series.
  const containerGauge = (name: string, help: string, pick: (c: ContainerFigures) => number | null): void => {
    const get = (): { name: string; help: string; type: 'gauge'; aggregator: 'sum'; values: { labels: Record<string, string>; value: number }[] } => {
      const c = container();
      const v = c ? pick(c) : null;
      return { name, help, type: 'gauge', aggregator: 'sum', values: v === null ? [] : [{ labels: {}, value: v }] };
    };
    registry.registerMetric({ name, help, type: 'gauge', aggregator: 'sum', get } as unknown as import('prom-client').Metric);
  };
  containerGauge('corral_container_memory_limit_bytes', "The memory limit of corral's cgroup (v2 memory.max, v1 memory.limit_in_bytes).", (c) => c.memoryLimitBytes);
  containerGauge('corral_container_memory_usage_bytes', "Memory in use in corral's cgroup (v2 memory.current, v1 memory.usage_in_bytes).", (c) => c.memoryUsageBytes);
  containerGauge('corral_container_cpu_limit_cores', 'CPUs the container may use: the smallest of quota ÷ period, the cpuset size and the CPUs online.', (c) => c.cpuLimitCores);
  mirroredCounter('corral_container_oom_kills_total', "Processes the kernel's OOM killer killed in corral's memory cgroup.", [], (c) => {
    c.inc(container()?.oomKills ?? 0);
  });
  mirroredCounter('corral_container_cpu_throttled_seconds_total', "Time corral's cgroup was throttled by its CPU quota (cpu.stat).", [], (c) => {
    c.inc(container()?.cpuThrottledSeconds ?? 0);
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

  histogram('corral_batch_size', 'Inference batch sizes reported by workers (X_CORRAL_BATCH).', ['pool'], stats.batchSize);
  histogram(
    'corral_batch_duration_seconds',
    'Inference batch durations reported by workers (X_CORRAL_BATCH); batch_size is the corral_batch_size bucket bound of the batch, "+Inf" above 1024.',
    ['pool', 'batch_size'],
    stats.batchDuration,
  );

  // --- GPUs (sampled on a timer by GpuCollector, never on scrape) -------------------------------

  for (const [name, help, field] of GPU_GAUGES) {
    gauge(name, help, ['gpu', 'uuid'], (g) => {
      for (const s of source.gpu?.latest() ?? []) {
        const v = s[field];
        if (v !== null) g.set({ gpu: String(s.index), uuid: s.uuid }, v);
      }
    });
  }

  gauge('corral_gpu_up', '1 while nvidia-smi answers for the GPU, 0 once it is absent or reports [GPU is lost] / Unknown Error.', ['gpu', 'uuid'], (g) => {
    for (const s of source.gpu?.up() ?? []) g.set({ gpu: String(s.index), uuid: s.uuid }, s.up ? 1 : 0);
  });

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
