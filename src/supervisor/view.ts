// The snapshot /readyz, /status and /metrics read: a projection of the supervisor's slots
// onto the shared vocabulary (src/model.ts). Pure.

import type { PoolSpec, Snapshot, WorkerStateName, WorkerView } from '../model.js';
import { pidOf, type Worker, type WorkerState } from './lifecycle.js';
import type { Usage } from './sampler.js';

/** What the view needs of a slot. */
export interface SlotView {
  pool: PoolSpec;
  index: number;
  w: Worker;
  /** Last STATUS= text. */
  status: string | null;
  queue: number | null;
  usage: Usage | null;
}

/** A reaped worker whose output still drains is shown as stopping: it no longer serves. */
function stateName(s: WorkerState): WorkerStateName {
  return s.kind === 'reaped' ? 'stopping' : s.kind;
}

function workerView(s: SlotView): WorkerView {
  const st = s.w.state;
  // A reaped worker still shows its pid and start (its exit record is about to follow).
  const proc = st.kind === 'reaped' ? st : pidOf(st) === null ? null : (st as Extract<WorkerState, { spawnedAt: number }>);
  const pid = proc?.pid ?? null;
  const usage = pidOf(st) !== null && s.usage?.pid === pid ? s.usage.usage : null;
  const exit = s.w.lastExit;
  return {
    pool: s.pool.name,
    index: s.index,
    pid,
    state: stateName(st),
    gpu: s.pool.devices?.[s.index] ?? null,
    restarts: s.w.restarts,
    lastExit: exit && { code: exit.status.code, signal: exit.status.signal, reason: exit.reason, cause: exit.cause, at: exit.at },
    startedAt: proc?.spawnedAt ?? null,
    statusText: s.status,
    queueDepth: pid === null ? null : s.queue,
    cpuSeconds: usage?.cpuSeconds ?? null,
    rssBytes: usage?.rssBytes ?? null,
  };
}

export function project(pools: readonly PoolSpec[], slots: readonly SlotView[], draining: boolean, live: boolean): Snapshot {
  return {
    draining,
    live,
    pools: pools.map((pool) => ({
      name: pool.name,
      desired: pool.workers,
      minReady: pool.minReady,
      workers: slots.filter((s) => s.pool === pool).map(workerView),
    })),
  };
}
