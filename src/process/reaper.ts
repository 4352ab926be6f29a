// Reaps every zombie child of corral that libuv and node-pty do not wait for: orphans
// re-parented to corral (as PID 1 or as a child subreaper) and the workers the addon
// spawned. Runs once per event-loop turn after SIGCHLD (signals coalesce; one pass
// drains all that is waitable) plus a slow backstop timer, which also keeps the event loop alive
// while corral supervises (signal handlers alone do not).

import type { Addon } from '../native/index.js';
import { fromNative, type ExitStatus } from './status.js';

export interface ReaperEvents {
  /** A pid the reaper was told to watch (a worker) has exited. */
  onExit(pid: number, status: ExitStatus): void;
  /** A foreign zombie (an adopted orphan) was reaped. */
  onOrphan(pid: number, status: ExitStatus): void;
  /** After a pass that reaped at least one child. */
  onPass(): void;
}

const BACKSTOP_MS = 1000;

export class Reaper {
  private readonly watched = new Set<number>();
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onSigchld = (): void => {
    this.schedule();
  };

  constructor(
    private readonly addon: Pick<Addon, 'reap'>,
    private readonly events: ReaperEvents,
  ) {}

  start(): void {
    process.on('SIGCHLD', this.onSigchld);
    this.timer = setInterval(() => {
      this.pass();
    }, BACKSTOP_MS);
    this.pass();
  }

  stop(): void {
    process.off('SIGCHLD', this.onSigchld);
    if (this.timer) clearInterval(this.timer);
  }

  watch(pid: number): void {
    this.watched.add(pid);
  }

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pass();
    });
  }

  /** One reaping pass; returns how many children were reaped. */
  pass(): number {
    const r = this.addon.reap();
    for (let i = 0; i + 2 < r.length; i += 3) {
      const pid = r[i] ?? 0;
      const status = fromNative(r[i + 1] ?? 0, r[i + 2] ?? 0);
      if (this.watched.delete(pid)) {
        this.events.onExit(pid, status);
      } else {
        this.events.onOrphan(pid, status);
      }
    }
    if (r.length > 0) this.events.onPass();
    return r.length / 3;
  }
}
