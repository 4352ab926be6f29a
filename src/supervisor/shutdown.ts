// corral's own phase as a pure machine: running → draining → stopping(pool) → sweeping
// (strays) → settling → done (SPEC §7), and the exit code of SPEC §1. Shutdown is an input
// like any other, and so is a second SIGTERM: what happens then is decided here, in one
// place, not in the shell. The shell (supervisor.ts) feeds it what it observes (signals,
// time passing, process groups gone) and carries out the effects.

import { shellCode, type ExitStatus } from '../process/status.js';

/** Why corral stops: a stop signal, a pool that gave up, or a bug in corral. */
export type StopCause = 'SIGTERM' | 'SIGINT' | 'give_up' | 'internal_error';

export type Phase =
  /** Supervising. */
  | { kind: 'running' }
  /** /readyz is 503; the workers are signalled at `until` (SPEC §7 step 2). */
  | { kind: 'draining'; until: number }
  /** The stop signal went to pool `pool`'s groups; pools stop last to first. */
  | { kind: 'stopping'; pool: number; deadline: number; started: number; lastProgress: number }
  /** Every pool is gone; what is left of the tree (adopted orphans, escaped children) got SIGTERM. */
  | { kind: 'sweeping'; deadline: number; started: number; lastProgress: number }
  /** Nothing should be left; waiting for the last exits to be reported (bounded: a process in D state may never go). */
  | { kind: 'settling'; until: number }
  | { kind: 'done' };

export interface Shutdown {
  phase: Phase;
  /** Why the stop began; null while running, and when every worker ended on its own. */
  cause: StopCause | null;
  /** Something had to be SIGKILLed (pool mode then exits 1). */
  killedAny: boolean;
}

export type ShutdownEvent =
  /** A stop signal, a pool that gave up, an internal error. While stopping, a signal escalates. */
  | { type: 'stop'; cause: StopCause; at: number }
  /** Every worker has exited on its own and none will be restarted. */
  | { type: 'all_final'; at: number }
  /** Time passes (the shell polls every few ms while stopping). */
  | { type: 'tick'; at: number }
  /** The pool being stopped has no live process group left. */
  | { type: 'pool_empty'; at: number }
  /** No worker group and no stray process is left. */
  | { type: 'tree_empty'; at: number }
  /** The tree is empty and every exit record is out. */
  | { type: 'settled'; at: number };

export type ShutdownEffect =
  | { type: 'drain'; ms: number }
  /** Stop every worker of this pool (`first`: the first stop signal, grace starts now). */
  | { type: 'stop_pool'; pool: number; first: boolean }
  | { type: 'term_strays' }
  /** Mark every worker stopped for good, then SIGKILL every group and stray. */
  | { type: 'kill_all'; why: 'grace' | 'second_signal' }
  /** Once a second: who is still running (`pool` null: the whole tree). */
  | { type: 'progress'; pool: number | null; elapsedMs: number }
  | { type: 'finish' };

export interface ShutdownConfig {
  pools: number;
  graceMs: number;
  drainDelayMs: number;
  /** How long to wait for SIGKILLed processes to vanish. */
  killWaitMs: number;
}

export const initialShutdown = (): Shutdown => ({ phase: { kind: 'running' }, cause: null, killedAny: false });

type Result = [Shutdown, ShutdownEffect[]];

const isSignal = (cause: StopCause): boolean => cause === 'SIGTERM' || cause === 'SIGINT';

function stopPool(s: Shutdown, pool: number, at: number, deadline: number, first: boolean): Result {
  if (pool < 0) return sweep(s, at, deadline);
  return [{ ...s, phase: { kind: 'stopping', pool, deadline, started: first ? at : deadlineStart(s, at), lastProgress: at } }, [{ type: 'stop_pool', pool, first }]];
}

/** When the stop signals began (the grace period counts from the first). */
function deadlineStart(s: Shutdown, at: number): number {
  return s.phase.kind === 'stopping' || s.phase.kind === 'sweeping' ? s.phase.started : at;
}

function sweep(s: Shutdown, at: number, deadline: number): Result {
  return [{ ...s, phase: { kind: 'sweeping', deadline, started: deadlineStart(s, at), lastProgress: at } }, [{ type: 'term_strays' }]];
}

function settle(s: Shutdown, at: number, c: ShutdownConfig, kill: 'grace' | 'second_signal' | null): Result {
  const phase: Phase = { kind: 'settling', until: at + c.killWaitMs };
  if (kill === null) return [{ ...s, phase }, []];
  return [{ ...s, phase, killedAny: true }, [{ type: 'kill_all', why: kill }]];
}

/** Once a second while stopping or sweeping: a progress record. */
function progress(s: Shutdown, at: number): Result {
  const p = s.phase;
  if ((p.kind !== 'stopping' && p.kind !== 'sweeping') || at - p.lastProgress < 1000) return [s, []];
  return [{ ...s, phase: { ...p, lastProgress: at } }, [{ type: 'progress', pool: p.kind === 'stopping' ? p.pool : null, elapsedMs: at - p.started }]];
}

export function nextShutdown(s: Shutdown, e: ShutdownEvent, c: ShutdownConfig): Result {
  const p = s.phase;
  switch (e.type) {
    case 'stop': {
      if (p.kind === 'running') {
        const started: Shutdown = { ...s, cause: e.cause };
        const drainMs = isSignal(e.cause) ? c.drainDelayMs : 0;
        if (drainMs > 0) return [{ ...started, phase: { kind: 'draining', until: e.at + drainMs } }, [{ type: 'drain', ms: drainMs }]];
        return stopPool(started, c.pools - 1, e.at, e.at + c.graceMs, true);
      }
      // During a stop: a second stop signal kills everything at once; a pool giving up or
      // an internal error is remembered (for /livez and the exit code) and changes nothing else.
      if (!isSignal(e.cause)) return [s.cause === null ? { ...s, cause: e.cause } : s, []];
      if (p.kind === 'draining' || p.kind === 'stopping' || p.kind === 'sweeping') return settle(s, e.at, c, 'second_signal');
      return [s, []];
    }
    case 'all_final':
      return p.kind === 'running' ? sweep(s, e.at, e.at + c.graceMs) : [s, []];
    case 'pool_empty':
      return p.kind === 'stopping' ? stopPool(s, p.pool - 1, e.at, p.deadline, false) : [s, []];
    case 'tree_empty':
      return p.kind === 'sweeping' ? settle(s, e.at, c, null) : [s, []];
    case 'settled':
      return p.kind === 'settling' ? [{ ...s, phase: { kind: 'done' } }, [{ type: 'finish' }]] : [s, []];
    case 'tick':
      switch (p.kind) {
        case 'draining':
          return e.at >= p.until ? stopPool(s, c.pools - 1, e.at, e.at + c.graceMs, true) : [s, []];
        case 'stopping':
        case 'sweeping':
          return e.at >= p.deadline ? settle(s, e.at, c, 'grace') : progress(s, e.at);
        case 'settling':
          return e.at >= p.until ? [{ ...s, phase: { kind: 'done' } }, [{ type: 'finish' }]] : [s, []];
        default:
          return [s, []];
      }
  }
}

/** What corral's exit code depends on (SPEC §1). */
export interface Outcome {
  /** Exactly one pool with one worker and restart `never`. */
  initMode: boolean;
  cause: StopCause | null;
  killedAny: boolean;
  /** Each worker's last exit status, in pool and index order; null: it never ran. */
  exits: readonly (ExitStatus | null)[];
}

/**
 * SPEC §1: init mode exits as tini (the worker's code, or 128+signal); pool mode exits 0 or 1
 * on a requested stop (1 if something was SIGKILLed), 1 when a pool gave up, else the first
 * failing worker's status. An internal error is always 1.
 */
export function exitCode(o: Outcome): number {
  if (o.cause === 'give_up' || o.cause === 'internal_error') return 1;
  if (o.initMode) {
    const last = o.exits[0];
    return last ? shellCode(last) : 0;
  }
  if (o.cause !== null) return o.killedAny ? 1 : 0;
  const failing = o.exits.find((st) => st !== null && shellCode(st) !== 0);
  return failing ? shellCode(failing) : 0;
}
