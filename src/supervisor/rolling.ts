// The rolling restart of SIGHUP (SPEC §3) as a cursor over the worker slots: one worker at
// a time is stopped (reason rolling); the next one is stopped once its successor is ready,
// or has failed into backoff or for good. Driven by the supervisor after every state change.

import { pidOf, type WorkerState } from './lifecycle.js';

export class RollingRestart {
  private at = -1;
  /** The pid being replaced at slot `at`. */
  private old: number | null = null;

  constructor(private readonly slots: number) {}

  /**
   * Advances the cursor; returns the slot to stop now, null while waiting, or 'done'.
   * `state(i)` is slot i's current state.
   */
  step(state: (i: number) => WorkerState): number | null | 'done' {
    if (this.at >= 0) {
      const s = state(this.at);
      const replaced = pidOf(s) !== this.old && (s.kind === 'ready' || s.kind === 'backoff' || s.kind === 'exited');
      if (!replaced) return null;
    }
    for (this.at++; this.at < this.slots; this.at++) {
      const s = state(this.at);
      if (s.kind === 'starting' || s.kind === 'ready') {
        this.old = s.pid;
        return this.at;
      }
    }
    return 'done';
  }
}
