// The worker lifecycle as a pure function: next(worker, event, policy) -> (worker, effects).
// The shell (supervisor.ts) feeds it events and carries out the effects; nothing here
// touches a process, a timer or a clock.

import type { ExitStatus } from '../process/status.js';

import type { RestartPolicy, RestartReason, StopReason } from '../model.js';

export type WorkerState =
  /** Spawned, not yet judged ready. */
  | { kind: 'starting'; pid: number; spawnedAt: number }
  /** Serving. */
  | { kind: 'ready'; pid: number; spawnedAt: number; readyAt: number }
  /** Stop signal sent; waiting for the process group to go. */
  | { kind: 'stopping'; pid: number; spawnedAt: number; readyAt: number | null; reason: StopReason }
  /** Waiting out the restart delay. */
  | { kind: 'backoff'; until: number; reason: RestartReason }
  /** Gone and not coming back (before the first spawn, too). */
  | { kind: 'exited'; status: ExitStatus | null };

export interface Worker {
  state: WorkerState;
  /** Restarts so far, for /status and metrics. */
  restarts: number;
  /** Consecutive restarts, n in the backoff formula; reset after 60 s ready. */
  streak: number;
  /** Consecutive failed starts; 5 make the pool give up. */
  failedStarts: number;
  lastExit: ExitStatus | null;
}

export type WorkerEvent =
  | { type: 'start'; at: number }
  | { type: 'spawned'; pid: number; at: number }
  | { type: 'spawn_failed'; status: ExitStatus; at: number }
  | { type: 'ready'; at: number }
  | { type: 'exit'; status: ExitStatus; at: number }
  | { type: 'stop'; reason: StopReason; at: number }
  | { type: 'backoff_done'; at: number };

export type Effect =
  | { type: 'spawn' }
  | { type: 'signal'; signal: 'stop' | 'SIGKILL' }
  | { type: 'schedule'; at: number }
  | { type: 'cancel_schedule' }
  | { type: 'restart'; reason: RestartReason; delayMs: number }
  | { type: 'final'; status: ExitStatus | null }
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
  return { state: { kind: 'exited', status: null }, restarts: 0, streak: 0, failedStarts: 0, lastExit: null };
}

export class InvalidTransition extends Error {
  constructor(state: WorkerState['kind'], event: WorkerEvent['type']) {
    super(`invalid transition: ${event} while ${state}`);
    this.name = 'InvalidTransition';
  }
}

function failed(status: ExitStatus): boolean {
  return status.signal !== null || status.code !== 0;
}

/** What an exit means once the worker is not being stopped on purpose. */
function afterExit(w: Worker, status: ExitStatus, at: number, wasFailedStart: boolean, policy: Policy): [Worker, Effect[]] {
  const failedStarts = wasFailedStart ? w.failedStarts + 1 : 0;
  const base: Worker = { ...w, lastExit: status, failedStarts };
  const wanted = policy.restart === 'always' || (policy.restart === 'on-failure' && failed(status));
  if (!wanted) return [{ ...base, state: { kind: 'exited', status } }, [{ type: 'final', status }]];
  if (failedStarts >= GIVE_UP_AFTER) {
    const why = `${failedStarts} failed starts in a row (each exited within ${FAILED_START_WINDOW_MS / 1000} s of its spawn or before it was ready); last ${status.signal ?? `exit code ${status.code ?? '?'}`}`;
    return [{ ...base, state: { kind: 'exited', status } }, [{ type: 'final', status }, { type: 'give_up', why }]];
  }
  const reason: RestartReason = status.signal !== null ? 'signal' : 'exit';
  const streak = w.streak + 1;
  const delayMs = backoffDelay(streak, policy.random);
  return [
    { ...base, streak, state: { kind: 'backoff', until: at + delayMs, reason } },
    [{ type: 'restart', reason, delayMs }, { type: 'schedule', at: at + delayMs }],
  ];
}

export function next(w: Worker, e: WorkerEvent, policy: Policy): [Worker, Effect[]] {
  const s = w.state;
  switch (e.type) {
    case 'start':
      if (s.kind !== 'exited') throw new InvalidTransition(s.kind, e.type);
      return [w, [{ type: 'spawn' }]];

    case 'backoff_done':
      if (s.kind !== 'backoff') throw new InvalidTransition(s.kind, e.type);
      return [{ ...w, restarts: w.restarts + 1 }, [{ type: 'spawn' }]];

    case 'spawned':
      if (s.kind !== 'exited' && s.kind !== 'backoff') throw new InvalidTransition(s.kind, e.type);
      return [{ ...w, state: { kind: 'starting', pid: e.pid, spawnedAt: e.at } }, []];

    case 'spawn_failed':
      if (s.kind !== 'exited' && s.kind !== 'backoff') throw new InvalidTransition(s.kind, e.type);
      return afterExit(w, e.status, e.at, true, policy);

    case 'ready': {
      if (s.kind !== 'starting') throw new InvalidTransition(s.kind, e.type);
      return [{ ...w, state: { kind: 'ready', pid: s.pid, spawnedAt: s.spawnedAt, readyAt: e.at } }, []];
    }

    case 'stop': {
      if (s.kind === 'starting' || s.kind === 'ready') {
        const readyAt = s.kind === 'ready' ? s.readyAt : null;
        return [
          { ...w, state: { kind: 'stopping', pid: s.pid, spawnedAt: s.spawnedAt, readyAt, reason: e.reason } },
          [{ type: 'signal', signal: 'stop' }],
        ];
      }
      if (s.kind === 'stopping') {
        // A stop while stopping: shutdown wins over a restart that was under way.
        return e.reason === 'shutdown' ? [{ ...w, state: { ...s, reason: 'shutdown' } }, []] : [w, []];
      }
      if (s.kind === 'backoff') {
        if (e.reason !== 'shutdown') return [w, []];
        return [{ ...w, state: { kind: 'exited', status: w.lastExit } }, [{ type: 'cancel_schedule' }, { type: 'final', status: w.lastExit }]];
      }
      return [w, []];
    }

    case 'exit': {
      if (s.kind !== 'starting' && s.kind !== 'ready' && s.kind !== 'stopping') throw new InvalidTransition(s.kind, e.type);
      const readyAt = s.kind === 'starting' ? null : s.readyAt;
      const wasFailedStart = readyAt === null || e.at - s.spawnedAt < FAILED_START_WINDOW_MS;
      const stayedReady = readyAt !== null && e.at - readyAt >= STREAK_RESET_MS;
      const cleared: Worker = stayedReady ? { ...w, streak: 0 } : w;
      if (s.kind === 'stopping') {
        if (s.reason === 'shutdown') {
          return [{ ...cleared, lastExit: e.status, state: { kind: 'exited', status: e.status } }, [{ type: 'final', status: e.status }]];
        }
        // corral's own decision (rolling, watchdog, ...): restart whatever the policy.
        const base: Worker = { ...cleared, lastExit: e.status };
        if (s.reason === 'rolling') {
          return [
            { ...base, restarts: w.restarts + 1, state: { kind: 'exited', status: e.status } },
            [{ type: 'restart', reason: 'rolling', delayMs: 0 }, { type: 'spawn' }],
          ];
        }
        const streak = cleared.streak + 1;
        const delayMs = backoffDelay(streak, policy.random);
        const reason = s.reason;
        return [
          { ...base, streak, state: { kind: 'backoff', until: e.at + delayMs, reason } },
          [{ type: 'restart', reason, delayMs }, { type: 'schedule', at: e.at + delayMs }],
        ];
      }
      return afterExit(cleared, e.status, e.at, wasFailedStart, policy);
    }
  }
}
