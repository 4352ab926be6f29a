// The Grafana dashboard only queries metrics corral serves (names fixed by the contract).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { root } from '../helpers.js';

const SERVED = new Set([
  'corral_workers', 'corral_workers_desired', 'corral_worker_ready', 'corral_worker_restarts_total',
  'corral_worker_startup_duration_seconds_bucket', 'corral_worker_cpu_seconds_total', 'corral_worker_resident_memory_bytes',
  'corral_zombies_reaped_total', 'corral_signals_forwarded_total', 'corral_log_lines_total', 'corral_log_bytes_total',
  'corral_feedback_records_total', 'corral_ready', 'corral_draining', 'corral_batch_size_bucket', 'corral_batch_size_count',
  'corral_batch_duration_seconds_bucket', 'corral_gpu_utilization_ratio', 'corral_gpu_memory_used_bytes',
  'corral_gpu_memory_total_bytes', 'corral_gpu_power_watts', 'corral_gpu_temperature_celsius', 'corral_gpu_info',
  'corral_gpu_collect_errors_total', 'corral_build_info',
]);

test('every dashboard query uses served metric names; the panels the guide promises are there', () => {
  const dash = JSON.parse(readFileSync(join(root, 'examples/grafana/corral-dashboard.json'), 'utf8'));
  const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr));
  for (const e of exprs) for (const name of e.match(/corral_[a-z_]+/g) ?? []) assert.ok(SERVED.has(name), `${name} in ${e}`);
  const all = exprs.join('\n');
  for (const needed of ['corral_workers', 'corral_worker_restarts_total', 'corral_batch_size_bucket', 'corral_batch_duration_seconds_bucket', 'corral_gpu_utilization_ratio', 'corral_gpu_memory_used_bytes', 'corral_log_lines_total']) {
    assert.ok(all.includes(needed), needed);
  }
});
