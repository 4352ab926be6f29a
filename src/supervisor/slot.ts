// One worker slot: a pool's index i across its generations of processes. The lifecycle
// state is the truth (its pid is the live process); the rest is what the shell hangs on it.

import type { WorkerOutput } from '../logs/worker-output.js';
import type { PoolSpec, StopReason } from '../model.js';
import type { Signaller } from '../process/groups.js';
import { newWorker, type Worker } from './lifecycle.js';
import type { WorkerMonitor } from './readiness.js';
import type { Usage } from './sampler.js';

export interface Slot {
  pool: PoolSpec;
  index: number;
  w: Worker;
  /** Last STATUS= text. */
  status: string | null;
  /** Last X_CORRAL_QUEUE= of the current process. */
  queue: number | null;
  usage: Usage | null;
  /** The current generation's output (earlier ones may still drain). */
  output: WorkerOutput | undefined;
  /** Process groups of this slot's generations that may still have members. */
  groups: Set<number>;
  /** corral sent the current process SIGKILL (its exit is then no OOM kill). */
  killSent: boolean;
  /** The memory cgroup's OOM-kill count at the current process's spawn. */
  oomAtSpawn: number | null;
  /** A stop corral decided for the current process but has not signalled yet (the hang dump's wait). */
  decided: StopReason | null;
  backoff?: NodeJS.Timeout;
  kill?: NodeJS.Timeout;
  monitor?: WorkerMonitor;
}

export function newSlot(pool: PoolSpec, index: number): Slot {
  return { pool, index, w: newWorker(), status: null, queue: null, usage: null, output: undefined, groups: new Set(), killSent: false, oomAtSpawn: null, decided: null };
}

/** The groups of these slots that still have members; the others are forgotten. */
export function liveGroups(slots: readonly Slot[], signaller: Signaller): number[] {
  const out: number[] = [];
  for (const slot of slots) {
    for (const pgid of slot.groups) {
      if (signaller.alive(pgid)) out.push(pgid);
      else slot.groups.delete(pgid);
    }
  }
  return out;
}
