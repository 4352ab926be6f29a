// The shell's side of exit causes (SPEC §9): what it records of each process while it runs
// (whether corral sent it SIGKILL, the cgroup's OOM-kill count at its spawn), what it hands
// the lifecycle when the exit is complete, and the exit record itself with its counter.

import type { Logger } from '../logs/logger.js';
import { Stats } from '../metrics/stats.js';
import { STOP_REASONS } from '../model.js';
import type { ExitStatus } from '../process/status.js';
import { CAUSE_WORDS } from './cause.js';
import type { Effect, Seen } from './lifecycle.js';
import type { Slot } from './slot.js';

/** A new process in the slot: nothing sent to it yet; the OOM-kill count to compare with. */
export function startWatching(slot: Slot, oomKills: () => number | null): void {
  slot.killSent = false;
  slot.decided = null;
  slot.oomAtSpawn = oomKills();
}

/** What the shell saw of the slot's process that just ended. The cgroup is read only for a SIGKILL corral did not send. */
export function seenAtExit(slot: Slot, status: ExitStatus, oomKills: () => number | null): Seen {
  let oomRose = false;
  if (status.signal === 'SIGKILL' && !slot.killSent) {
    const now = oomKills();
    oomRose = now !== null && now > (slot.oomAtSpawn ?? 0);
  }
  return { killSent: slot.killSent, oomRose, lastLines: slot.output?.lastLines() ?? [], decided: slot.decided };
}

/** The exit record (level 30, SPEC §4) and corral_worker_exits_total{pool,cause}. */
export function recordExit(log: Logger, stats: Stats, slot: Slot, e: Extract<Effect, { type: 'exit' }>): void {
  const { code, signal } = e.status;
  const lastLines = slot.output?.lastLines();
  const dump = slot.output?.dumpLines();
  const name = `${slot.pool.name}.${slot.index}`;
  Stats.inc(stats.exits, `${slot.pool.name}\0${e.cause}`);
  const fields = {
    event: 'exit',
    pool: slot.pool.name,
    worker: slot.index,
    pid: e.pid,
    code,
    signal,
    reason: e.reason,
    cause: e.cause,
    detail: e.detail,
    duration_ms: e.durationMs,
    ...(lastLines && { last_lines: lastLines }),
    ...(dump && { dump }),
  };
  const how = signal ?? `code ${code ?? '?'}`;
  // A stop corral decided needs no detail beyond its reason: the status is already in `how`.
  const decided = (STOP_REASONS as readonly string[]).includes(e.cause);
  const words = e.cause === 'clean' ? '' : `: ${CAUSE_WORDS[e.cause]}${decided || e.detail === how ? '' : ` (${e.detail})`}`;
  log.info(fields, `${name} exited with ${how}${words}`);
}

/** A spawn that failed is an exit too (cause error), with the spawn's message. */
export function recordSpawnFailure(log: Logger, stats: Stats, slot: Slot, code: number, message: string): void {
  Stats.inc(stats.exits, `${slot.pool.name}\0error`);
  log.error({ event: 'exit', pool: slot.pool.name, worker: slot.index, code, signal: null, reason: 'spawn_failed', cause: 'error', detail: message }, message);
}
