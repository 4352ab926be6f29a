// Signal handlers only enqueue; the supervisor's loop dispatches (gunicorn's arbiter
// habit). Having a handler at all matters for PID 1: with none, the kernel drops
// SIGTERM/SIGINT/SIGHUP sent to init, and SIGUSR1 would open Node's inspector on
// 127.0.0.1:9229 (Node 20 has no flag to turn that off).

/** Start the stop sequence; a second one escalates to SIGKILL. */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Passed on to every worker's process group. Not SIGFPE/SIGILL/SIGSEGV/SIGBUS (unsafe
 * to handle in JS), SIGPROF (V8's profiler), SIGABRT/SIGTRAP/SIGSYS (faults), SIGTTIN/SIGTTOU (ignored, as tini does,
 * so corral is never stopped for touching the terminal), SIGCHLD (the reaper's).
 */
export const FORWARDED_SIGNALS = [
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
  'SIGCONT',
  'SIGTSTP',
  'SIGALRM',
  'SIGVTALRM',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGIO',
  'SIGPWR',
] as const satisfies readonly NodeJS.Signals[];

/**
 * Forwarded, but logged at debug only: Go programs (runc, containerd's shim) send
 * themselves SIGURG to preempt goroutines and pass it on to the container's init; it
 * says nothing to an operator.
 */
export const NOISE_SIGNALS: ReadonlySet<string> = new Set(['SIGURG']);

export type HandledSignal = (typeof STOP_SIGNALS)[number] | 'SIGHUP' | (typeof FORWARDED_SIGNALS)[number];

export class SignalQueue {
  private readonly queue: HandledSignal[] = [];
  private scheduled = false;
  private readonly handlers = new Map<HandledSignal, () => void>();

  constructor(private readonly dispatch: (sig: HandledSignal) => void) {}

  install(): void {
    const all: HandledSignal[] = [...STOP_SIGNALS, 'SIGHUP', ...FORWARDED_SIGNALS];
    for (const sig of all) {
      const h = (): void => {
        this.enqueue(sig);
      };
      this.handlers.set(sig, h);
      try {
        process.on(sig, h);
      } catch {
        // A signal this platform lacks (SIGPWR on some): nothing to forward.
      }
    }
  }

  private enqueue(sig: HandledSignal): void {
    this.queue.push(sig);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (let s = this.queue.shift(); s !== undefined; s = this.queue.shift()) this.dispatch(s);
    });
  }
}
