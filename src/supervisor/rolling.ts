// The rolling restart of SIGHUP and --watch (SPEC §3, §11) as a cursor over worker slots:
// one worker at a time is stopped (reason rolling); the next one is stopped once its
// successor is ready, or has failed into backoff or for good. Driven by the supervisor after
// every state change.

import { pidOf, type WorkerState } from './lifecycle.js';

export class RollingRestart {
  private at = -1;
  /** The pid being replaced at slot `slots[at]`. */
  private old: number | null = null;

  /** `slots`: the slot indexes to restart, in order. */
  constructor(private readonly slots: readonly number[]) {}

  /**
   * Advances the cursor; returns the slot to stop now, null while waiting, or 'done'.
   * `state(i)` is slot i's current state.
   */
  step(state: (i: number) => WorkerState): number | null | 'done' {
    const current = this.slots[this.at];
    if (current !== undefined) {
      const s = state(current);
      const replaced = pidOf(s) !== this.old && (s.kind === 'ready' || s.kind === 'backoff' || s.kind === 'exited');
      if (!replaced) return null;
    }
    for (this.at++; this.at < this.slots.length; this.at++) {
      const i = this.slots[this.at] ?? -1;
      const s = state(i);
      if (s.kind === 'starting' || s.kind === 'ready') {
        this.old = s.pid;
        return i;
      }
    }
    return 'done';
  }
}

export interface RollHost {
  state(i: number): WorkerState;
  /** Stop slot i for the rolling restart. */
  stop(i: number): void;
  /** False once corral stops: a restart under way ends. */
  running(): boolean;
}

/** The restart under way, and what was asked meanwhile (a file saved during a roll restarts its pool again after it). */
export class Rolls {
  private current: RollingRestart | null = null;
  private queued: number[] = [];

  constructor(private readonly h: RollHost) {}

  get active(): boolean {
    return this.current !== null;
  }

  /** Restarts these slots one by one, now or after the restart under way. */
  start(slots: readonly number[]): void {
    if (!this.h.running()) return;
    if (this.current) {
      for (const i of slots) if (!this.queued.includes(i)) this.queued.push(i);
      return;
    }
    this.current = new RollingRestart(slots);
    this.step();
  }

  /** Moves the restart on, if one is under way. */
  step(): void {
    if (!this.current) return;
    const r = this.h.running() ? this.current.step((i) => this.h.state(i)) : 'done';
    if (r === 'done') {
      this.current = null;
      const next = this.queued;
      this.queued = [];
      if (next.length > 0) this.start(next);
      return;
    }
    if (r !== null) this.h.stop(r);
  }
}
