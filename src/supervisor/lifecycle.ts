// The worker lifecycle as a pure function, next(worker, event, policy) -> (worker, effects),
// written as one table of state × event (Horust's service_handler habit). Every cell is a
// transition, an explicit no-op (a late timer or probe result that no longer matters), or
// invalid (an event that cannot happen in that state: a bug in the shell). The shell
// (supervisor.ts) feeds it events and carries out the effects; nothing here touches a
// process, a timer or a clock.

import type { ExitCause, RestartPolicy, RestartReason, StopReason } from '../model.js';
import type { ExitStatus } from '../process/status.js';
import { exitCause, type ExitFacts, type Verdict } from './cause.js';

/** Why a process ended, as exit records and /status say it. */
export type ExitReason = StopReason | 'exit' | 'signal' | 'spawn_failed';

export type WorkerState =
  /** Spawned, not yet judged ready. */
  | { kind: 'starting'; pid: number; spawnedAt: number }
  /** Serving. */
  | { kind: 'ready'; pid: number; spawnedAt: number; readyAt: number }
  /** Stop signal sent; waiting for the process to go. */
  | { kind: 'stopping'; pid: number; spawnedAt: number; readyAt: number | null; reason: StopReason }
  /** The process was reaped; its last output is still being read (the exit record comes after it). */
  | { kind: 'reaped'; pid: number; spawnedAt: number; readyAt: number | null; reason: StopReason | null; status: ExitStatus; at: number }
  /** Waiting out the restart delay. */
  | { kind: 'backoff'; until: number; reason: RestartReason }
  /** Gone and not coming back (before the first spawn, and between a rolling stop and its successor, too). */
  | { kind: 'exited' };

export type StateKind = WorkerState['kind'];
export const STATE_KINDS: readonly StateKind[] = ['exited', 'starting', 'ready', 'stopping', 'reaped', 'backoff'];

export interface LastExit {
  status: ExitStatus;
  reason: ExitReason;
  cause: ExitCause;
  at: number;
}

/**
 * What the shell saw of a process besides its status, for its exit cause (cause.ts).
 * `decided`: a stop corral had decided but not yet signalled (the hang dump's wait before a
 * watchdog stop); a process that dies meanwhile ends as that stop.
 */
export type Seen = Pick<ExitFacts, 'killSent' | 'oomRose' | 'lastLines'> & { decided?: StopReason | null };
const NOTHING_SEEN: Seen = { killSent: false, oomRose: false, lastLines: [] };

export interface Worker {
  state: WorkerState;
  /** Restarts so far, for /status and metrics. */
  restarts: number;
  /** Consecutive restarts, n in the backoff formula; reset after 60 s ready. */
  streak: number;
  /** Consecutive failed starts; 5 make the pool give up. */
  failedStarts: number;
  lastExit: LastExit | null;
}

export type WorkerEvent =
  | { type: 'start'; at: number }
  | { type: 'spawned'; pid: number; at: number }
  | { type: 'spawn_failed'; status: ExitStatus; at: number }
  | { type: 'ready'; at: number }
  | { type: 'stop'; reason: StopReason; at: number }
  /** The grace period of a stop that is not the shutdown ran out. */
  | { type: 'kill_due'; at: number }
  /** The process was reaped. */
  | { type: 'reaped'; status: ExitStatus; at: number }
  /** Its output pipes closed (or the wait for them ran out): the exit is complete. */
  | { type: 'output_done'; at: number; seen?: Seen }
  | { type: 'backoff_done'; at: number };

export type EventType = WorkerEvent['type'];
export const EVENT_TYPES: readonly EventType[] = ['start', 'spawned', 'spawn_failed', 'ready', 'stop', 'kill_due', 'reaped', 'output_done', 'backoff_done'];

export type Effect =
  | { type: 'spawn' }
  | { type: 'signal'; signal: 'stop' | 'SIGKILL' }
  /** SIGKILL after grace, for a stop that is not the shutdown (which has one deadline for all). */
  | { type: 'arm_kill' }
  | { type: 'cancel_kill' }
  | { type: 'schedule'; at: number }
  | { type: 'cancel_schedule' }
  | { type: 'restart'; reason: RestartReason; delayMs: number }
  /** The exit record: once per process, after its last lines. */
  | { type: 'exit'; pid: number; status: ExitStatus; reason: ExitReason; cause: ExitCause; detail: string; durationMs: number }
  /** The worker will not run again. */
  | { type: 'final' }
  | { type: 'give_up'; why: string };

export interface Policy {
  restart: RestartPolicy;
  /** Random number in [0, 1) for the jitter; injected so tests are exact. */
  random: () => number;
}

export const FAILED_START_WINDOW_MS = 10_000;
export const STREAK_RESET_MS = 60_000;
export const GIVE_UP_AFTER = 5;
const MAX_DELAY_MS = 60_000;

/** min(60 s, 2^(n-1) s) plus up to 10 % jitter, for the n-th consecutive restart. */
export function backoffDelay(n: number, random: () => number): number {
  const base = Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.max(0, n - 1));
  return Math.round(base * (1 + 0.1 * random()));
}

export function newWorker(): Worker {
  return { state: { kind: 'exited' }, restarts: 0, streak: 0, failedStarts: 0, lastExit: null };
}

/** The live process of a worker, or null. */
export function pidOf(s: WorkerState): number | null {
  return s.kind === 'starting' || s.kind === 'ready' || s.kind === 'stopping' ? s.pid : null;
}

export class InvalidTransition extends Error {
  constructor(state: StateKind, event: EventType) {
    super(`invalid transition: ${event} while ${state}`);
    this.name = 'InvalidTransition';
  }
}

type Result = [Worker, Effect[]];
type Cell<K extends StateKind, T extends EventType> =
  | 'noop'
  | 'invalid'
  | ((w: Worker, s: Extract<WorkerState, { kind: K }>, e: Extract<WorkerEvent, { type: T }>, p: Policy) => Result);
type Row<K extends StateKind> = { [T in EventType]: Cell<K, T> };

function failed(status: ExitStatus): boolean {
  return status.signal !== null || status.code !== 0;
}

/** One backoff step: the streak grows, the restart waits. */
function backOff(w: Worker, reason: RestartReason, at: number, p: Policy): Result {
  const streak = w.streak + 1;
  const delayMs = backoffDelay(streak, p.random);
  return [
    { ...w, streak, state: { kind: 'backoff', until: at + delayMs, reason } },
    [{ type: 'restart', reason, delayMs }, { type: 'schedule', at: at + delayMs }],
  ];
}

/** What an exit (or a failed spawn) means when corral did not ask for it: the restart policy decides. */
function onItsOwn(w: Worker, status: ExitStatus, verdict: Verdict, at: number, failedStart: boolean, p: Policy): Result {
  const base: Worker = { ...w, failedStarts: failedStart ? w.failedStarts + 1 : 0 };
  const wanted = p.restart === 'always' || (p.restart === 'on-failure' && failed(status));
  if (!wanted) return [{ ...base, state: { kind: 'exited' } }, [{ type: 'final' }]];
  if (base.failedStarts >= GIVE_UP_AFTER) {
    const why = `${base.failedStarts} failed starts in a row (each exited within ${FAILED_START_WINDOW_MS / 1000} s of its spawn or before it was ready); the last: ${verdict.cause} (${verdict.detail})`;
    return [{ ...base, state: { kind: 'exited' } }, [{ type: 'final' }, { type: 'give_up', why }]];
  }
  return backOff(base, status.signal !== null ? 'signal' : 'exit', at, p);
}

function spawnFailed(w: Worker, _s: WorkerState, e: Extract<WorkerEvent, { type: 'spawn_failed' }>, p: Policy): Result {
  const verdict: Verdict = { cause: 'error', detail: `spawn failed, ${e.status.signal ?? `exit code ${e.status.code ?? '?'}`}` };
  return onItsOwn({ ...w, lastExit: { status: e.status, reason: 'spawn_failed', cause: 'error', at: e.at } }, e.status, verdict, e.at, true, p);
}

function spawned(w: Worker, _s: WorkerState, e: Extract<WorkerEvent, { type: 'spawned' }>): Result {
  return [{ ...w, state: { kind: 'starting', pid: e.pid, spawnedAt: e.at } }, []];
}

function stopLive(w: Worker, s: Extract<WorkerState, { kind: 'starting' | 'ready' }>, e: Extract<WorkerEvent, { type: 'stop' }>): Result {
  const readyAt = s.kind === 'ready' ? s.readyAt : null;
  const effects: Effect[] = [{ type: 'signal', signal: 'stop' }];
  if (e.reason !== 'shutdown') effects.push({ type: 'arm_kill' });
  return [{ ...w, state: { kind: 'stopping', pid: s.pid, spawnedAt: s.spawnedAt, readyAt, reason: e.reason } }, effects];
}

function reapedLive(w: Worker, s: Extract<WorkerState, { kind: 'starting' | 'ready' }>, e: Extract<WorkerEvent, { type: 'reaped' }>): Result {
  const readyAt = s.kind === 'ready' ? s.readyAt : null;
  return [{ ...w, state: { kind: 'reaped', pid: s.pid, spawnedAt: s.spawnedAt, readyAt, reason: null, status: e.status, at: e.at } }, []];
}

/** A stop while one is under way (or its output drains): shutdown wins over a restart that was under way. */
function stopAgain(w: Worker, s: Extract<WorkerState, { kind: 'stopping' | 'reaped' }>, e: Extract<WorkerEvent, { type: 'stop' }>): Result {
  return e.reason === 'shutdown' && s.reason !== 'shutdown' ? [{ ...w, state: { ...s, reason: 'shutdown' } }, []] : [w, []];
}

/** The exit is complete: report it, then restart or not. */
function exitDone(w: Worker, s: Extract<WorkerState, { kind: 'reaped' }>, e: Extract<WorkerEvent, { type: 'output_done' }>, p: Policy): Result {
  const { status, at } = s;
  const seen = e.seen ?? NOTHING_SEEN;
  const stopReason = s.reason ?? seen.decided ?? null;
  const reason: ExitReason = stopReason ?? (status.signal !== null ? 'signal' : 'exit');
  const verdict = exitCause({ status, stopReason, killSent: seen.killSent, oomRose: seen.oomRose, lastLines: seen.lastLines });
  const report: Effect = { type: 'exit', pid: s.pid, status, reason, cause: verdict.cause, detail: verdict.detail, durationMs: at - s.spawnedAt };
  const stayedReady = s.readyAt !== null && at - s.readyAt >= STREAK_RESET_MS;
  const base: Worker = { ...w, streak: stayedReady ? 0 : w.streak, lastExit: { status, reason, cause: verdict.cause, at } };
  const prepend = ([next, effects]: Result): Result => [next, [report, ...effects]];
  switch (stopReason) {
    case null:
      return prepend(onItsOwn(base, status, verdict, at, s.readyAt === null || at - s.spawnedAt < FAILED_START_WINDOW_MS, p));
    case 'shutdown':
      return [{ ...base, state: { kind: 'exited' } }, [report, { type: 'final' }]];
    case 'rolling':
      // corral's own decision: the successor starts at once, whatever the policy.
      return [
        { ...base, restarts: w.restarts + 1, state: { kind: 'exited' } },
        [report, { type: 'restart', reason: 'rolling', delayMs: 0 }, { type: 'spawn' }],
      ];
    default:
      // watchdog, startup_timeout, max_rss, cuda_error: corral's own decision, with the backoff.
      return prepend(backOff(base, stopReason, at, p));
  }
}

const TABLE: { [K in StateKind]: Row<K> } = {
  exited: {
    start: (w) => [w, [{ type: 'spawn' }]],
    spawned,
    spawn_failed: spawnFailed,
    ready: 'invalid',
    stop: 'noop',
    kill_due: 'noop',
    reaped: 'invalid',
    output_done: 'invalid',
    backoff_done: 'invalid',
  },
  starting: {
    start: 'invalid',
    spawned: 'invalid',
    spawn_failed: 'invalid',
    ready: (w, s, e) => [{ ...w, state: { kind: 'ready', pid: s.pid, spawnedAt: s.spawnedAt, readyAt: e.at } }, []],
    stop: stopLive,
    kill_due: 'noop',
    reaped: reapedLive,
    output_done: 'invalid',
    backoff_done: 'invalid',
  },
  ready: {
    start: 'invalid',
    spawned: 'invalid',
    spawn_failed: 'invalid',
    ready: 'invalid',
    stop: stopLive,
    kill_due: 'noop',
    reaped: reapedLive,
    output_done: 'invalid',
    backoff_done: 'invalid',
  },
  stopping: {
    start: 'invalid',
    spawned: 'invalid',
    spawn_failed: 'invalid',
    // A probe or READY=1 that was in flight when the stop began.
    ready: 'noop',
    stop: stopAgain,
    kill_due: (w) => [w, [{ type: 'signal', signal: 'SIGKILL' }]],
    reaped: (w, s, e) => [{ ...w, state: { ...s, kind: 'reaped', status: e.status, at: e.at } }, [{ type: 'cancel_kill' }]],
    output_done: 'invalid',
    backoff_done: 'invalid',
  },
  reaped: {
    start: 'invalid',
    spawned: 'invalid',
    spawn_failed: 'invalid',
    ready: 'noop',
    stop: stopAgain,
    kill_due: 'noop',
    reaped: 'invalid',
    output_done: exitDone,
    backoff_done: 'invalid',
  },
  backoff: {
    start: 'invalid',
    spawned,
    spawn_failed: spawnFailed,
    ready: 'invalid',
    stop: (w, _s, e) => (e.reason === 'shutdown' ? [{ ...w, state: { kind: 'exited' } }, [{ type: 'cancel_schedule' }, { type: 'final' }]] : [w, []]),
    kill_due: 'noop',
    reaped: 'invalid',
    output_done: 'invalid',
    backoff_done: (w) => [{ ...w, restarts: w.restarts + 1 }, [{ type: 'spawn' }]],
  },
};

/** 'noop', 'invalid' or 'transition': what the table says of a cell (for tests and docs). */
export function cellKind(state: StateKind, event: EventType): 'noop' | 'invalid' | 'transition' {
  const cell = TABLE[state][event];
  return typeof cell === 'function' ? 'transition' : cell;
}

export function next(w: Worker, e: WorkerEvent, policy: Policy): Result {
  const cell = TABLE[w.state.kind][e.type] as Cell<StateKind, EventType>;
  if (cell === 'invalid') throw new InvalidTransition(w.state.kind, e.type);
  if (cell === 'noop') return [w, []];
  return (cell)(w, w.state, e, policy);
}
