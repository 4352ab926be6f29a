// The Grafana dashboard only queries metrics corral serves (names fixed by the contract).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { root } from '../helpers.js';
import { createMetrics } from '../../dist/metrics/metrics.js';
import { Stats } from '../../dist/metrics/stats.js';

// The names a real registry serves: every series prom-client declares (# TYPE lines), with
// the _bucket/_count/_sum of histograms.
async function served() {
  const view = { draining: false, live: true, pools: [{ name: 'main', desired: 1, minReady: 1, workers: [] }] };
  const gpu = { errors: 0, latest: () => [], up: () => [] };
  const text = await createMetrics({ snapshot: () => view, stats: new Stats(), gpu, version: '0' }).render();
  const names = new Set();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]);
    if (m[2] === 'histogram') for (const suffix of ['_bucket', '_count', '_sum']) names.add(m[1] + suffix);
  }
  return names;
}

test('every dashboard query uses served metric names; the panels the guide promises are there', async () => {
  const SERVED = await served();
  const dash = JSON.parse(readFileSync(join(root, 'examples/grafana/corral-dashboard.json'), 'utf8'));
  const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr));
  for (const e of exprs) for (const name of e.match(/corral_[a-z_]+/g) ?? []) assert.ok(SERVED.has(name), `${name} in ${e}`);
  const all = exprs.join('\n');
  for (const needed of ['corral_workers', 'corral_worker_restarts_total', 'corral_batch_size_bucket', 'corral_batch_duration_seconds_bucket', 'corral_gpu_utilization_ratio', 'corral_gpu_memory_used_bytes', 'corral_log_lines_total', 'corral_worker_exits_total', 'corral_gpu_up', 'corral_container_memory_usage_bytes', 'corral_container_memory_limit_bytes', 'corral_container_oom_kills_total', 'corral_container_cpu_throttled_seconds_total', 'corral_queue_depth']) {
    assert.ok(all.includes(needed), needed);
  }
});
