// Why a worker ended (SPEC §9), from what corral saw: its exit status, whether corral had
// decided to stop it or had sent SIGKILL itself, whether the OOM-kill count of corral's
// memory cgroup rose while it ran, and its last records. Pure; first match wins.

import { CUDA_OOM, CUDA_STICKY, lineWith } from '../logs/faults.js';
import { HEADER, GROUP_HEADER } from '../logs/traceback.js';
import type { ExitCause, StopReason } from '../model.js';
import type { ExitStatus } from '../process/status.js';

export interface ExitFacts {
  status: ExitStatus;
  /** The stop corral decided, if any. */
  stopReason: StopReason | null;
  /** corral sent this process SIGKILL (grace over, second signal, --stop-signal SIGKILL). */
  killSent: boolean;
  /** The OOM-kill count of corral's memory cgroup rose between the spawn and the exit. */
  oomRose: boolean;
  /** The worker's last records, oldest first (a traceback is one record). */
  lastLines: readonly string[];
}

export interface Verdict {
  cause: ExitCause;
  /** A few words for a person: the line that decided it, or the status. */
  detail: string;
}

const CRASH_SIGNALS: ReadonlySet<string> = new Set(['SIGSEGV', 'SIGBUS', 'SIGABRT', 'SIGILL', 'SIGFPE']);
const MAX_DETAIL = 200;

function short(s: string): string {
  return s.length <= MAX_DETAIL ? s : `${s.slice(0, MAX_DETAIL - 3)}...`;
}

function statusWords(s: ExitStatus): string {
  return s.signal ?? `exit code ${s.code ?? '?'}`;
}

function isTraceback(record: string): boolean {
  return record.startsWith(HEADER) || record.startsWith(GROUP_HEADER);
}

/** The last non-blank record, if it is a traceback: its final line (the exception). */
function lastTraceback(records: readonly string[]): string | null {
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i] ?? '';
    if (r.trim() === '') continue;
    if (!isTraceback(r)) return null;
    const lines = r.trimEnd().split('\n');
    return (lines[lines.length - 1] ?? '').trim();
  }
  return null;
}

function found(records: readonly string[], phrases: readonly string[]): string | null {
  for (let i = records.length - 1; i >= 0; i--) {
    const line = lineWith(records[i] ?? '', phrases);
    if (line !== null) return line;
  }
  return null;
}

export function exitCause(f: ExitFacts): Verdict {
  const { status } = f;
  const sigkill = status.signal === 'SIGKILL';
  if (sigkill && !f.killSent && f.oomRose) return { cause: 'oom_kill', detail: "the memory cgroup's oom_kill count rose while it ran" };
  if (f.stopReason !== null) return { cause: f.stopReason, detail: statusWords(status) };
  const oom = found(f.lastLines, CUDA_OOM);
  if (oom !== null) return { cause: 'cuda_oom', detail: short(oom) };
  const sticky = found(f.lastLines, CUDA_STICKY);
  if (sticky !== null) return { cause: 'cuda_error', detail: short(sticky) };
  if (status.signal !== null && CRASH_SIGNALS.has(status.signal)) return { cause: 'crash', detail: status.signal };
  if (sigkill) return { cause: 'killed', detail: 'SIGKILL, not sent by corral' };
  const tb = lastTraceback(f.lastLines);
  if (tb !== null) return { cause: 'exception', detail: short(tb) };
  if (status.signal !== null || status.code !== 0) return { cause: 'error', detail: statusWords(status) };
  return { cause: 'clean', detail: 'exit code 0' };
}

/** The cause in words, for the pretty format and the give_up record. */
export const CAUSE_WORDS: Readonly<Record<ExitCause, string>> = {
  oom_kill: 'killed by the kernel (out of memory)',
  cuda_oom: 'CUDA out of memory',
  cuda_error: 'CUDA error',
  crash: 'crashed',
  killed: 'killed by another process',
  exception: 'uncaught exception',
  error: 'failed',
  clean: 'exited cleanly',
  shutdown: 'stopped (shutdown)',
  rolling: 'stopped (rolling restart)',
  watchdog: 'stopped by the watchdog',
  startup_timeout: 'stopped: not ready in time',
  max_rss: 'stopped: over --max-rss',
};
