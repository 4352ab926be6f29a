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

/**
 * The tightest process limit that applies to corral, or null. A worker needs at least one
 * task; one that cannot have it fails every start with EAGAIN.
 */
export function processRoom(uid: number = process.getuid?.() ?? 0): ProcessRoom | null {
  let used = 1;
  let nproc: number | null = null;
  try {
    used = ownTasks(readFileSync('/proc/self/status', 'latin1'));
    if (uid !== 0) nproc = nprocLimit(readFileSync('/proc/self/limits', 'latin1'));
  } catch {
    // not Linux, or /proc hidden: no check
  }
  const pids = pidsLimit();
  if (nproc !== null && (pids === null || nproc <= pids)) {
    return { limit: nproc, what: 'the process limit of this user (RLIMIT_NPROC)', hint: 'raise it (`ulimit -u`, `docker run --ulimit nproc=N`) or run fewer workers', used };
  }
  if (pids !== null) {
    return { limit: pids, what: "the container's pids limit (cgroup pids.max)", hint: 'raise it (`docker run --pids-limit`, the pod\'s pid limit) or run fewer workers', used };
  }
  return null;
}
