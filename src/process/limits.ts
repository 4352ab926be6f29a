// The process limits a pool can run into before any worker starts: RLIMIT_NPROC (`ulimit -u`,
// `docker run --ulimit nproc=`), which counts every process and thread of the real user and
// does not apply to root, and the cgroup's pids.max (`docker run --pids-limit`, a pod's
// pid limit), which counts every task in the container.

import { readFileSync } from 'node:fs';
import { pidsLimit } from '../container/cgroup.js';

/** The soft "Max processes" of /proc/self/limits; null when unlimited or unreadable. */
export function nprocLimit(limits: string): number | null {
  const m = /^Max processes\s+(\S+)/m.exec(limits);
  return m?.[1] === undefined || !/^\d+$/.test(m[1]) ? null : Number(m[1]);
}

/** corral's own tasks (Node's threads): they count against both limits too. */
function ownTasks(status: string): number {
  const m = /^Threads:\s+(\d+)/m.exec(status);
  return m?.[1] === undefined ? 1 : Number(m[1]);
}

export interface ProcessRoom {
  limit: number;
  what: string;
  hint: string;
  /** corral's own share of it. */
  used: number;
}

/** What the limits are made of, as read from /proc and the cgroup. */
export interface LimitReadings {
  uid: number;
  /** /proc/self/limits, or null when unreadable. */
  limits: string | null;
  /** /proc/self/status, or null. */
  status: string | null;
  /** The cgroup's pids.max, or null for none. */
  pidsMax: number | null;
}

/** Pure: the tightest process limit that applies, or null. RLIMIT_NPROC does not bind root. */
export function roomFrom(r: LimitReadings): ProcessRoom | null {
  const used = r.status === null ? 1 : ownTasks(r.status);
  const nproc = r.uid === 0 || r.limits === null ? null : nprocLimit(r.limits);
  const pids = r.pidsMax;
  if (nproc !== null && (pids === null || nproc <= pids)) {
    return { limit: nproc, what: 'the process limit of this user (RLIMIT_NPROC)', hint: 'raise it (`ulimit -u`, `docker run --ulimit nproc=N`) or run fewer workers', used };
  }
  if (pids !== null) {
    return { limit: pids, what: "the container's pids limit (cgroup pids.max)", hint: "raise it (`docker run --pids-limit`, the pod's pid limit) or run fewer workers", used };
  }
  return null;
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return null; // not Linux, or /proc hidden: no check
  }
}

/**
 * The tightest process limit that applies to corral, or null. A worker needs at least one
 * task; one that cannot have it fails every start with EAGAIN.
 */
export function processRoom(): ProcessRoom | null {
  return roomFrom({ uid: process.getuid?.() ?? 0, limits: readOrNull('/proc/self/limits'), status: readOrNull('/proc/self/status'), pidsMax: pidsLimit() });
}
