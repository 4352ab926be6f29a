// /metrics (SPEC §5): every metric name, its labels, type and value, read back from the
// Prometheus text a fake supervisor (a real Stats, a snapshot, a fake GPU collector) gives.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { BATCH_DURATION_BUCKETS, BATCH_SIZE_BUCKETS, STARTUP_BUCKETS, batchSizeLabel, createMetrics } from '../../dist/metrics/metrics.js';
import { Stats } from '../../dist/metrics/stats.js';
import { EXIT_CAUSES, RESTART_REASONS } from '../../dist/model.js';
import { root } from '../helpers.js';

/** SPEC §5, as written there: name -> [type, label names]. */
const SPEC = {
  corral_workers: ['gauge', ['pool', 'state']],
  corral_workers_desired: ['gauge', ['pool']],
  corral_worker_ready: ['gauge', ['pool', 'worker']],
  corral_worker_restarts_total: ['counter', ['pool', 'worker', 'reason']],
  corral_worker_exits_total: ['counter', ['pool', 'cause']],
  corral_container_oom_kills_total: ['counter', []],
  corral_container_memory_limit_bytes: ['gauge', []],
  corral_container_memory_usage_bytes: ['gauge', []],
  corral_container_cpu_limit_cores: ['gauge', []],
  corral_container_cpu_throttled_seconds_total: ['counter', []],
  corral_queue_depth: ['gauge', ['pool', 'worker']],
  corral_worker_startup_duration_seconds: ['histogram', ['pool']],
  corral_worker_cpu_seconds_total: ['counter', ['pool', 'worker']],
  corral_worker_resident_memory_bytes: ['gauge', ['pool', 'worker']],
  corral_zombies_reaped_total: ['counter', []],
  corral_signals_forwarded_total: ['counter', ['signal']],
  corral_log_lines_total: ['counter', ['pool', 'stream']],
  corral_log_bytes_total: ['counter', ['pool', 'stream']],
  corral_feedback_records_total: ['counter', ['pool']],
  corral_ready: ['gauge', []],
  corral_draining: ['gauge', []],
  corral_batch_size: ['histogram', ['pool']],
  corral_batch_duration_seconds: ['histogram', ['pool', 'batch_size']],
  corral_gpu_utilization_ratio: ['gauge', ['gpu', 'uuid']],
  corral_gpu_memory_used_bytes: ['gauge', ['gpu', 'uuid']],
  corral_gpu_memory_total_bytes: ['gauge', ['gpu', 'uuid']],
  corral_gpu_power_watts: ['gauge', ['gpu', 'uuid']],
  corral_gpu_temperature_celsius: ['gauge', ['gpu', 'uuid']],
  corral_gpu_info: ['gauge', ['gpu', 'uuid', 'name']],
  corral_gpu_up: ['gauge', ['gpu', 'uuid']],
  corral_gpu_collect_errors_total: ['counter', []],
  corral_build_info: ['gauge', ['version', 'node']],
};
const STATES = ['starting', 'ready', 'stopping', 'exited', 'backoff'];
const GIB = 1024 ** 3;
/** A Stats key: label values joined with NUL. */
const key = (...labels) => labels.join('\0');

/** Parses Prometheus text format 0.0.4: { types: Map(name -> type), samples: [{ name, labels, value }] }. */
function parse(text) {
  const types = new Map();
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      assert.ok(!types.has(type[1]), `${type[1]} declared twice`);
      types.set(type[1], type[2]);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    const v = m[3];
    samples.push({ name: m[1], labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return { types, samples };
}

const sameLabels = (a, b) => {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
};

/** The samples of one series name. */
const series = (parsed, name) => parsed.samples.filter((s) => s.name === name);

/** The value of exactly one sample; undefined when there is none. */
function value(parsed, name, labels = {}) {
  const found = series(parsed, name).filter((s) => sameLabels(s.labels, labels));
  assert.ok(found.length <= 1, `${name}${JSON.stringify(labels)} appears ${found.length} times`);
  return found[0]?.value;
}

function worker(pool, index, state, extra = {}) {
  return {
    pool,
    index,
    pid: 40_000 + 100 * index + pool.length,
    state,
    gpu: String(index),
    restarts: 0,
    lastExit: null,
    startedAt: 1_700_000_000_000,
    statusText: null,
    queueDepth: index === 0 ? 7 : null,
    cpuSeconds: 12.5,
    rssBytes: (index + 1) * GIB,
    ...extra,
  };
}

/** A corral with two pools, counters already advanced, and two GPUs (one with [N/A] fields). */
function fixture() {
  const stats = new Stats();
  const view = {
    draining: false,
    live: true,
    pools: [
      {
        name: 'main',
        desired: 3,
        minReady: 2,
        workers: [worker('main', 0, 'ready'), worker('main', 1, 'ready'), worker('main', 2, 'backoff', { pid: null, rssBytes: null, cpuSeconds: null })],
      },
      { name: 'side', desired: 1, minReady: 1, workers: [worker('side', 0, 'starting')] },
    ],
  };
  Stats.inc(stats.restarts, key('main', '2', 'exit'), 3);
  Stats.inc(stats.restarts, key('main', '2', 'watchdog'));
  Stats.inc(stats.restarts, key('main', '1', 'rolling'));
  Stats.inc(stats.exits, key('main', 'oom_kill'));
  Stats.inc(stats.exits, key('main', 'clean'), 2);
  stats.container = { memoryLimitBytes: 8 * GIB, memoryUsageBytes: GIB, oomKills: 1, cpuLimitCores: 1.5, cpuThrottledSeconds: 2 };
  Stats.inc(stats.cpuSeconds, key('main', '0'), 41.25);
  Stats.inc(stats.cpuSeconds, key('main', '1'), 7);
  Stats.inc(stats.signalsForwarded, 'SIGWINCH', 2);
  Stats.inc(stats.signalsForwarded, 'SIGTERM');
  Stats.inc(stats.logLines, key('main', 'stdout'), 10);
  Stats.inc(stats.logLines, key('main', 'stderr'), 4);
  Stats.inc(stats.logLines, key('side', 'pty'), 1);
  Stats.inc(stats.logBytes, key('main', 'stdout'), 1000);
  Stats.inc(stats.logBytes, key('main', 'stderr'), 400);
  Stats.inc(stats.logBytes, key('side', 'pty'), 17);
  Stats.inc(stats.feedback, 'main', 5);
  stats.zombiesReaped = 42;
  const samples = [
    {
      index: 0,
      uuid: 'GPU-aaaa',
      name: 'NVIDIA H100 80GB HBM3',
      utilizationRatio: 0.87,
      memoryUsedBytes: 40 * GIB,
      memoryTotalBytes: 80 * GIB,
      powerWatts: 512.5,
      temperatureCelsius: 61,
    },
    {
      index: 1,
      uuid: 'GPU-bbbb',
      name: 'NVIDIA H100 80GB HBM3',
      utilizationRatio: 0,
      memoryUsedBytes: 0,
      memoryTotalBytes: 80 * GIB,
      powerWatts: null,
      temperatureCelsius: null,
    },
  ];
  // GPU 2 was discovered and is lost: it has no figures, only corral_gpu_up 0.
  const gpu = { errors: 2, latest: () => samples, up: () => [...samples.map((s) => ({ index: s.index, uuid: s.uuid, up: true })), { index: 2, uuid: 'GPU-cccc', up: false }] };
  const source = { snapshot: () => view, stats, gpu, version: '9.8.7' };
  return { source, view, stats, gpu, samples };
}

async function scrape(metrics) {
  return parse(await metrics.render());
}

describe('metrics', () => {
  test('declares every SPEC §5 metric, with its type and exactly its labels', async () => {
    const { source, stats } = fixture();
    const m = createMetrics(source);
    stats.onStartup('main', 3);
    stats.onBatch('main', 8, 0.2);
    assert.equal(m.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    const p = await scrape(m);
    for (const [name, [type, labelNames]] of Object.entries(SPEC)) {
      assert.equal(p.types.get(name), type, `# TYPE ${name} ${type}`);
      const own = type === 'histogram' ? p.samples.filter((s) => s.name.startsWith(`${name}_`)) : series(p, name);
      assert.ok(own.length > 0, `${name} has samples`);
      for (const s of own) {
        const keys = Object.keys(s.labels).filter((k) => !(s.name.endsWith('_bucket') && k === 'le'));
        assert.deepEqual(keys.sort(), [...labelNames].sort(), `labels of ${s.name}${JSON.stringify(s.labels)}`);
      }
    }
    // Nothing corral_* beyond the SPEC.
    const extra = [...p.types.keys()].filter((n) => n.startsWith('corral_') && !(n in SPEC));
    assert.deepEqual(extra, []);
  });

  test('workers, pools and readiness read from the snapshot', async () => {
    const { source } = fixture();
    const p = await scrape(createMetrics(source));
    // Every state appears, 0 included.
    const main = { starting: 0, ready: 2, stopping: 0, exited: 0, backoff: 1 };
    const side = { starting: 1, ready: 0, stopping: 0, exited: 0, backoff: 0 };
    for (const state of STATES) {
      assert.equal(value(p, 'corral_workers', { pool: 'main', state }), main[state], `main ${state}`);
      assert.equal(value(p, 'corral_workers', { pool: 'side', state }), side[state], `side ${state}`);
    }
    assert.equal(series(p, 'corral_workers').length, 10);
    assert.equal(value(p, 'corral_workers_desired', { pool: 'main' }), 3);
    assert.equal(value(p, 'corral_workers_desired', { pool: 'side' }), 1);
    assert.equal(value(p, 'corral_worker_ready', { pool: 'main', worker: '0' }), 1);
    assert.equal(value(p, 'corral_worker_ready', { pool: 'main', worker: '1' }), 1);
    assert.equal(value(p, 'corral_worker_ready', { pool: 'main', worker: '2' }), 0);
    assert.equal(value(p, 'corral_worker_ready', { pool: 'side', worker: '0' }), 0);
    assert.equal(series(p, 'corral_worker_ready').length, 4);
    assert.equal(value(p, 'corral_queue_depth', { pool: 'main', worker: '0' }), 7);
    assert.equal(value(p, 'corral_queue_depth', { pool: 'main', worker: '1' }), undefined, 'no series before the worker reports');
    assert.equal(value(p, 'corral_worker_resident_memory_bytes', { pool: 'main', worker: '0' }), GIB);
    assert.equal(value(p, 'corral_worker_resident_memory_bytes', { pool: 'main', worker: '1' }), 2 * GIB);
    assert.equal(value(p, 'corral_worker_resident_memory_bytes', { pool: 'side', worker: '0' }), GIB);
    // rssBytes null (worker 2 is in backoff): no series rather than a false 0.
    assert.equal(value(p, 'corral_worker_resident_memory_bytes', { pool: 'main', worker: '2' }), undefined);
    // side has no ready worker (min_ready 1).
    assert.equal(value(p, 'corral_ready'), 0);
    assert.equal(value(p, 'corral_draining'), 0);
  });

  test('corral_ready follows /readyz: every pool at min_ready, and not draining', async () => {
    const { source, view } = fixture();
    const m = createMetrics(source);
    view.pools[1].workers[0].state = 'ready';
    assert.equal(value(await scrape(m), 'corral_ready'), 1);
    view.pools[0].workers[1].state = 'stopping'; // main: 1 ready, min_ready 2
    assert.equal(value(await scrape(m), 'corral_ready'), 0);
    view.pools[0].workers[1].state = 'ready';
    view.draining = true;
    const p = await scrape(m);
    assert.equal(value(p, 'corral_ready'), 0);
    assert.equal(value(p, 'corral_draining'), 1);
  });

  test('counters mirror Stats at scrape time', async () => {
    const { source, stats } = fixture();
    const m = createMetrics(source);
    let p = await scrape(m);
    assert.equal(value(p, 'corral_worker_restarts_total', { pool: 'main', worker: '2', reason: 'exit' }), 3);
    assert.equal(value(p, 'corral_worker_restarts_total', { pool: 'main', worker: '2', reason: 'watchdog' }), 1);
    assert.equal(value(p, 'corral_worker_restarts_total', { pool: 'main', worker: '1', reason: 'rolling' }), 1);
    assert.equal(series(p, 'corral_worker_restarts_total').filter((s) => s.value > 0).length, 3);
    // Every pool x worker x reason, and every pool x cause, is served from the start (0 until
    // counted): a series born at 1 would show no increase() for that first restart or exit.
    assert.equal(series(p, 'corral_worker_restarts_total').length, 4 * RESTART_REASONS.length);
    assert.equal(value(p, 'corral_worker_restarts_total', { pool: 'side', worker: '0', reason: 'cuda_error' }), 0);
    assert.equal(series(p, 'corral_worker_exits_total').length, 2 * EXIT_CAUSES.length);
    assert.equal(value(p, 'corral_worker_exits_total', { pool: 'main', cause: 'oom_kill' }), 1);
    assert.equal(value(p, 'corral_worker_exits_total', { pool: 'main', cause: 'clean' }), 2);
    assert.equal(value(p, 'corral_worker_exits_total', { pool: 'side', cause: 'oom_kill' }), 0);
    assert.equal(value(p, 'corral_worker_cpu_seconds_total', { pool: 'main', worker: '0' }), 41.25);
    assert.equal(value(p, 'corral_worker_cpu_seconds_total', { pool: 'main', worker: '1' }), 7);
    assert.equal(value(p, 'corral_zombies_reaped_total'), 42);
    assert.equal(value(p, 'corral_signals_forwarded_total', { signal: 'SIGWINCH' }), 2);
    assert.equal(value(p, 'corral_signals_forwarded_total', { signal: 'SIGTERM' }), 1);
    assert.equal(value(p, 'corral_log_lines_total', { pool: 'main', stream: 'stdout' }), 10);
    assert.equal(value(p, 'corral_log_lines_total', { pool: 'main', stream: 'stderr' }), 4);
    assert.equal(value(p, 'corral_log_lines_total', { pool: 'side', stream: 'pty' }), 1);
    assert.equal(value(p, 'corral_log_bytes_total', { pool: 'main', stream: 'stdout' }), 1000);
    assert.equal(value(p, 'corral_log_bytes_total', { pool: 'main', stream: 'stderr' }), 400);
    assert.equal(value(p, 'corral_log_bytes_total', { pool: 'side', stream: 'pty' }), 17);
    assert.equal(value(p, 'corral_feedback_records_total', { pool: 'main' }), 5);
    assert.equal(value(p, 'corral_gpu_collect_errors_total'), 2);

    // A second scrape reports the new totals, not the sum of both scrapes.
    Stats.inc(stats.restarts, key('main', '2', 'exit'));
    Stats.inc(stats.cpuSeconds, key('main', '0'), 0.75);
    Stats.inc(stats.logLines, key('main', 'stdout'));
    stats.zombiesReaped += 1;
    source.gpu.errors += 1;
    p = await scrape(m);
    assert.equal(value(p, 'corral_worker_restarts_total', { pool: 'main', worker: '2', reason: 'exit' }), 4);
    assert.equal(value(p, 'corral_worker_cpu_seconds_total', { pool: 'main', worker: '0' }), 42);
    assert.equal(value(p, 'corral_log_lines_total', { pool: 'main', stream: 'stdout' }), 11);
    assert.equal(value(p, 'corral_zombies_reaped_total'), 43);
    assert.equal(value(p, 'corral_gpu_collect_errors_total'), 3);
  });

  test('GPU gauges from the collector; [N/A] fields have no series', async () => {
    const { source } = fixture();
    const p = await scrape(createMetrics(source));
    const g0 = { gpu: '0', uuid: 'GPU-aaaa' };
    const g1 = { gpu: '1', uuid: 'GPU-bbbb' };
    assert.equal(value(p, 'corral_gpu_utilization_ratio', g0), 0.87);
    assert.equal(value(p, 'corral_gpu_utilization_ratio', g1), 0);
    assert.equal(value(p, 'corral_gpu_memory_used_bytes', g0), 40 * GIB);
    assert.equal(value(p, 'corral_gpu_memory_used_bytes', g1), 0);
    assert.equal(value(p, 'corral_gpu_memory_total_bytes', g0), 80 * GIB);
    assert.equal(value(p, 'corral_gpu_power_watts', g0), 512.5);
    assert.equal(value(p, 'corral_gpu_power_watts', g1), undefined);
    assert.equal(value(p, 'corral_gpu_temperature_celsius', g0), 61);
    assert.equal(value(p, 'corral_gpu_temperature_celsius', g1), undefined);
    assert.equal(value(p, 'corral_gpu_info', { ...g0, name: 'NVIDIA H100 80GB HBM3' }), 1);
    assert.equal(value(p, 'corral_gpu_info', { ...g1, name: 'NVIDIA H100 80GB HBM3' }), 1);
    assert.equal(value(p, 'corral_gpu_up', g0), 1);
    assert.equal(value(p, 'corral_gpu_up', { gpu: '2', uuid: 'GPU-cccc' }), 0);
    assert.equal(value(p, 'corral_build_info', { version: '9.8.7', node: process.versions.node }), 1);
  });

  test('without a GPU collector: no GPU series, and 0 collect errors', async () => {
    const { source } = fixture();
    const p = await scrape(createMetrics({ ...source, gpu: null }));
    for (const name of Object.keys(SPEC).filter((n) => n.startsWith('corral_gpu_') && n !== 'corral_gpu_collect_errors_total')) {
      assert.equal(p.types.get(name), 'gauge', name);
      assert.deepEqual(series(p, name), [], name);
    }
    assert.equal(value(p, 'corral_gpu_collect_errors_total'), 0);
  });

  test('workers and GPUs that are gone leave no stale series', async () => {
    const { source, view, samples } = fixture();
    const m = createMetrics(source);
    let p = await scrape(m);
    assert.equal(value(p, 'corral_worker_ready', { pool: 'side', worker: '0' }), 0);
    assert.equal(value(p, 'corral_gpu_power_watts', { gpu: '0', uuid: 'GPU-aaaa' }), 512.5);
    view.pools.pop();
    view.pools[0].workers.pop();
    view.pools[0].workers[1].rssBytes = null;
    samples.shift(); // a failed nvidia-smi run empties latest(); here GPU 0 is gone
    p = await scrape(m);
    assert.deepEqual(
      series(p, 'corral_worker_ready').map((s) => s.labels.worker),
      ['0', '1'],
    );
    assert.equal(series(p, 'corral_workers').filter((s) => s.labels.pool === 'side').length, 0);
    assert.equal(value(p, 'corral_workers_desired', { pool: 'side' }), undefined);
    assert.equal(value(p, 'corral_worker_resident_memory_bytes', { pool: 'main', worker: '1' }), undefined);
    assert.equal(value(p, 'corral_gpu_power_watts', { gpu: '0', uuid: 'GPU-aaaa' }), undefined);
    assert.equal(value(p, 'corral_gpu_info', { gpu: '0', uuid: 'GPU-aaaa', name: 'NVIDIA H100 80GB HBM3' }), undefined);
    assert.equal(value(p, 'corral_gpu_memory_total_bytes', { gpu: '1', uuid: 'GPU-bbbb' }), 80 * GIB);
  });

  test('startup durations land in the SPEC buckets; pools appear from the start', async () => {
    const { source, stats } = fixture();
    const m = createMetrics(source);
    let p = await scrape(m);
    assert.equal(value(p, 'corral_worker_startup_duration_seconds_count', { pool: 'side' }), 0);
    assert.equal(value(p, 'corral_batch_size_count', { pool: 'side' }), 0);
    assert.deepEqual(
      series(p, 'corral_worker_startup_duration_seconds_bucket').filter((s) => s.labels.pool === 'main').map((s) => s.labels.le),
      [...STARTUP_BUCKETS.map(String), '+Inf'],
    );
    stats.onStartup('main', 2.5); // le is inclusive
    stats.onStartup('main', 45);
    stats.onStartup('main', 5000);
    stats.onStartup('main', Number.NaN); // dropped, never thrown
    p = await scrape(m);
    const le = (bound) => value(p, 'corral_worker_startup_duration_seconds_bucket', { pool: 'main', le: bound });
    assert.equal(le('1'), 0);
    assert.equal(le('2.5'), 1);
    assert.equal(le('30'), 1);
    assert.equal(le('60'), 2);
    assert.equal(le('1200'), 2);
    assert.equal(le('+Inf'), 3);
    assert.equal(value(p, 'corral_worker_startup_duration_seconds_count', { pool: 'main' }), 3);
    assert.equal(value(p, 'corral_worker_startup_duration_seconds_sum', { pool: 'main' }), 5047.5);
  });

  test('batch_size label: the batch-size bucket bound, +Inf above 1024', () => {
    assert.deepEqual(BATCH_SIZE_BUCKETS, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
    assert.ok(BATCH_DURATION_BUCKETS[0] === 0.001 && BATCH_DURATION_BUCKETS.at(-1) === 60);
    const table = [[0, '1'], [1, '1'], [2, '2'], [3, '4'], [4, '4'], [5, '8'], [33, '64'], [512, '512'], [513, '1024'], [1024, '1024'], [1025, '+Inf'], [1e6, '+Inf'], [2.5, '4']];
    for (const [size, label] of table) assert.equal(batchSizeLabel(size), label, `size ${size}`);
  });

  test('batch observations land in the right buckets of both histograms', async () => {
    const { source, stats } = fixture();
    const m = createMetrics(source);
    stats.onBatch('main', 3, 0.02);
    stats.onBatch('main', 4, 0.3);
    stats.onBatch('main', 1024, 12);
    stats.onBatch('main', 4096, 90);
    stats.onBatch('side', 1, 0.001);
    // Bad figures from a worker are dropped, never thrown on the log path.
    stats.onBatch('main', Number.NaN, 1);
    stats.onBatch('main', 4, -1);
    stats.onBatch('main', -4, 1);
    stats.onBatch('main', 4, Number.POSITIVE_INFINITY);
    const p = await scrape(m);
    const size = (pool, le) => value(p, 'corral_batch_size_bucket', { pool, le });
    assert.equal(size('main', '2'), 0);
    assert.equal(size('main', '4'), 2);
    assert.equal(size('main', '512'), 2);
    assert.equal(size('main', '1024'), 3);
    assert.equal(size('main', '+Inf'), 4);
    assert.equal(value(p, 'corral_batch_size_sum', { pool: 'main' }), 3 + 4 + 1024 + 4096);
    assert.equal(size('side', '1'), 1);

    const dur = (batch_size, le) => value(p, 'corral_batch_duration_seconds_bucket', { pool: 'main', batch_size, le });
    assert.equal(dur('4', '0.01'), 0);
    assert.equal(dur('4', '0.025'), 1);
    assert.equal(dur('4', '0.25'), 1);
    assert.equal(dur('4', '0.5'), 2);
    assert.equal(value(p, 'corral_batch_duration_seconds_count', { pool: 'main', batch_size: '4' }), 2);
    assert.equal(dur('1024', '10'), 0);
    assert.equal(dur('1024', '30'), 1);
    assert.equal(dur('+Inf', '60'), 0);
    assert.equal(dur('+Inf', '+Inf'), 1);
    assert.equal(value(p, 'corral_batch_duration_seconds_bucket', { pool: 'side', batch_size: '1', le: '0.001' }), 1);
    assert.deepEqual(
      series(p, 'corral_batch_duration_seconds_bucket').filter((s) => s.labels.batch_size === '4').map((s) => s.labels.le),
      [...BATCH_DURATION_BUCKETS.map(String), '+Inf'],
    );
    const labels = new Set(series(p, 'corral_batch_duration_seconds_count').map((s) => `${s.labels.pool}/${s.labels.batch_size}`));
    assert.deepEqual([...labels].sort(), ['main/+Inf', 'main/1024', 'main/4', 'side/1']);
  });

  test('two registries in one process do not clash', async () => {
    const a = fixture();
    const b = fixture();
    b.stats.zombiesReaped = 7;
    b.view.draining = true;
    const ma = createMetrics(a.source);
    const mb = createMetrics(b.source);
    a.stats.onBatch('main', 2, 0.1);
    const pa = await scrape(ma);
    const pb = await scrape(mb);
    assert.equal(value(pa, 'corral_zombies_reaped_total'), 42);
    assert.equal(value(pb, 'corral_zombies_reaped_total'), 7);
    assert.equal(value(pa, 'corral_draining'), 0);
    assert.equal(value(pb, 'corral_draining'), 1);
    assert.equal(value(pa, 'corral_batch_size_count', { pool: 'main' }), 1);
    assert.equal(value(pb, 'corral_batch_size_count', { pool: 'main' }), 0);
    // Default metrics are on each registry.
    for (const p of [pa, pb]) {
      assert.equal(p.types.get('process_cpu_user_seconds_total'), 'counter');
      assert.ok(series(p, 'nodejs_version_info').length === 1);
    }

    // Two registries on the same Stats both see every observation, those made before either
    // existed included (histograms are Stats' plain bucket counts, read at scrape time).
    const c = fixture();
    c.stats.onBatch('main', 16, 0.05);
    const m1 = createMetrics(c.source);
    const m2 = createMetrics(c.source);
    c.stats.onStartup('side', 4);
    for (const m of [m1, m2]) {
      const p = await scrape(m);
      assert.equal(value(p, 'corral_batch_size_count', { pool: 'main' }), 1);
      assert.equal(value(p, 'corral_worker_startup_duration_seconds_count', { pool: 'side' }), 1);
    }
  });

  test('worker labels are indexes, never pids', async () => {
    const { source, view } = fixture();
    // 16 workers whose pids are also small numbers, to catch a pid used as a label.
    view.pools[0].workers = Array.from({ length: 16 }, (_, i) => worker('main', i, 'ready', { pid: 100 + i }));
    view.pools[0].desired = 16;
    const p = await scrape(createMetrics(source));
    const pids = new Set(view.pools.flatMap((pool) => pool.workers.map((w) => String(w.pid))));
    const withWorker = p.samples.filter((s) => 'worker' in s.labels);
    assert.ok(withWorker.length >= 16 * 2);
    for (const s of withWorker) {
      assert.match(s.labels.worker, /^(0|[1-9]\d*)$/);
      assert.ok(Number(s.labels.worker) < 16, `${s.name} worker=${s.labels.worker}`);
    }
    for (const s of p.samples.filter((s) => s.name.startsWith('corral_'))) {
      for (const [k, v] of Object.entries(s.labels)) assert.ok(!pids.has(v), `${s.name} ${k}=${v} is a pid`);
    }
    assert.equal(series(p, 'corral_worker_ready').length, 17);
  });

  test('prom-client is not loaded until createMetrics() is called', () => {
    // corral's start-up time: importing the module must cost nothing.
    const script = `
      import { createRequire } from 'node:module';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('prom-client'));
      const { createMetrics } = await import('./dist/metrics/metrics.js');
      const { Stats } = await import('./dist/metrics/stats.js');
      const before = loaded();
      createMetrics({ snapshot: () => ({ draining: false, live: true, pools: [] }), stats: new Stats(), gpu: null, version: '0' });
      console.log(JSON.stringify([before, loaded()]));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [false, true]);
  });
});

test('observations before the first scrape are all counted, in constant memory', async () => {
  const stats = new Stats();
  for (let i = 0; i < 1_000_000; i++) stats.onBatch('main', (i % 64) + 1, 0.01);
  assert.equal(stats.batchSize.series.size, 1, 'one series of bucket counts, not a list of observations');
  const m = createMetrics({ snapshot: () => ({ draining: false, live: true, pools: [{ name: 'main', desired: 1, minReady: 1, workers: [] }] }), stats, gpu: null, version: '0' });
  const text = await m.render();
  assert.match(text, /^corral_batch_size_count\{pool="main"\} 1000000$/m);
  assert.match(text, /^corral_batch_size_bucket\{le="64",pool="main"\} 1000000$/m);
  assert.match(text, /^corral_batch_size_bucket\{le="1",pool="main"\} 15625$/m);
});

test('container figures: gauges and counters from the last sample; no limit, no series', async () => {
  const { source, stats } = fixture();
  stats.container = null;
  const m = createMetrics(source);
  let p = await scrape(m);
  assert.deepEqual(series(p, 'corral_container_memory_limit_bytes'), [], 'before the first sample');
  assert.equal(value(p, 'corral_container_oom_kills_total'), 0);
  stats.container = { memoryLimitBytes: 8 * GIB, memoryUsageBytes: GIB, oomKills: 2, cpuLimitCores: 1.5, cpuThrottledSeconds: 3.5 };
  p = await scrape(m);
  assert.equal(p.types.get('corral_container_memory_limit_bytes'), 'gauge');
  assert.equal(value(p, 'corral_container_memory_limit_bytes'), 8 * GIB);
  assert.equal(value(p, 'corral_container_memory_usage_bytes'), GIB);
  assert.equal(value(p, 'corral_container_cpu_limit_cores'), 1.5);
  assert.equal(value(p, 'corral_container_oom_kills_total'), 2);
  assert.equal(value(p, 'corral_container_cpu_throttled_seconds_total'), 3.5);
  stats.container = { ...stats.container, memoryLimitBytes: null };
  p = await scrape(m);
  assert.deepEqual(series(p, 'corral_container_memory_limit_bytes'), [], 'no limit: no series, never +Inf');
});

