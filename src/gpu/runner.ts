// nvidia-smi through a small resident shell, a fork server: corral forks the shell once, and
// the shell forks nvidia-smi for every run. A fork of corral itself (a Node process of ~50 MB:
// its page tables and mappings copied) costs it 4-6 ms of CPU per run here, half of what an
// idle corral may spend; asking the shell is a line on a pipe. Each run is still judged on its
// own: its stdout, its stderr and its exit status come back separately, and a run that
// outlives its timeout is SIGKILLed with the shell (a new shell serves the next run).
//
// The shell is in a process group of its own, which corral's stop sequence leaves alone (it is
// corral's helper, not a worker's leftover: see helperPids); its stdin is a pipe from corral,
// so it ends when corral does. A stuck nvidia-smi (state D, deaf to SIGKILL) keeps its run
// pending, so that no second one starts beside it, as with a direct spawn.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { constants } from 'node:os';
import { resolveCommand } from '../process/spawn.js';
import type { Exec, ExecOptions, ExecResult } from './collect.js';

const SCRIPT = `while read -r _; do "$@" </dev/null; s=$?; printf '\\n\\036corral %s\\n' "$s"; printf '\\n\\036corral\\n' >&2; done`;
// eslint-disable-next-line no-control-regex -- the marker's RS byte is what it looks for
const OUT_END = /\n\x1ecorral (\d+)\n$/;
const ERR_END = '\n\x1ecorral\n';
const MAX_OUTPUT = 2 * 1024 * 1024;
const GONE_POLL_MS = 100;

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

interface Helper {
  child: ChildProcess;
  key: string;
  stdout: string;
  stderr: string;
  /** The run in flight: called when both markers are in, or when the shell is gone. */
  settle: ((how: 'done' | 'gone') => void) | null;
  exited: boolean;
}

/**
 * An idle shell keeps nothing alive: between runs corral (or a test) may end at any time, and
 * the shell then reads EOF and ends too. During a run it does, until the run is settled.
 */
function hold(h: Helper, on: boolean): void {
  for (const x of [h.child, h.child.stdin, h.child.stdout, h.child.stderr] as ({ ref?: () => void; unref?: () => void } | null)[]) {
    if (on) x?.ref?.();
    else x?.unref?.();
  }
}

/** Whether any process of group pgid is left. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class ForkServer {
  private helper: Helper | null = null;
  /** No shell here (a distroless image): every run is spawned directly, as before. */
  private noShell = false;

  private shellMissing(): boolean {
    return this.noShell;
  }

  /** `direct`: how to run nvidia-smi where there is no shell to keep (`shell`, /bin/sh). */
  constructor(
    private readonly direct: Exec,
    private readonly shellPath = '/bin/sh',
  ) {}

  /** The shell's pid (while there is one): corral's, never a stray of a worker's. */
  helperPids(): number[] {
    const pid = this.helper?.child.pid;
    return pid === undefined ? [] : [pid];
  }

  /** Ends the shell and whatever it runs (corral is stopping). */
  stop(): void {
    const h = this.helper;
    this.helper = null;
    if (h?.child.pid !== undefined && !h.exited) {
      try {
        process.kill(-h.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  readonly exec: Exec = async (file, args, options) => {
    if (this.noShell) return this.direct(file, args, options);
    let path: string;
    try {
      path = resolveCommand(file, options.env);
      accessSync(path, fsConstants.X_OK);
    } catch (err) {
      const code = (err as { code?: string }).code === 'NOT_EXECUTABLE' || (err as { code?: string }).code === 'EACCES' ? 'EACCES' : 'ENOENT';
      return { stdout: '', stderr: '', code: null, signal: null, timedOut: false, error: Object.assign(new Error(`spawn ${file} ${code}`), { code }) };
    }
    const r = await this.run(this.shell(path, args, options.env), options);
    // The shell was found missing during this run: it is retried directly, not counted.
    return this.shellMissing() ? this.direct(file, args, options) : r;
  };

  private shell(path: string, args: readonly string[], env: NodeJS.ProcessEnv): Helper {
    const key = JSON.stringify([path, args]);
    if (this.helper !== null && this.helper.key === key && !this.helper.exited) return this.helper;
    this.stop();
    const child = spawn(this.shellPath, ['-c', SCRIPT, 'corral-nvidia-smi', path, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const h: Helper = { child, key, stdout: '', stderr: '', settle: null, exited: false };
    const check = (): void => {
      if (OUT_END.test(h.stdout) && h.stderr.endsWith(ERR_END)) h.settle?.('done');
      else if (h.stdout.length + h.stderr.length > MAX_OUTPUT) this.stop();
    };
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      h.stdout += s;
      check();
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      h.stderr += s;
      check();
    });
    child.stdin.on('error', () => undefined); // a shell gone under a write: 'close' says so
    const gone = (): void => {
      h.exited = true;
      if (this.helper === h) this.helper = null;
      h.settle?.('gone');
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') this.noShell = true; // no sh: this run and the next go direct
      gone();
    });
    child.on('close', gone);
    this.helper = h;
    hold(h, false);
    return h;
  }

  private run(h: Helper, { timeoutMs }: ExecOptions): Promise<ExecResult> {
    return new Promise((resolve) => {
      h.stdout = '';
      h.stderr = '';
      hold(h, true);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        this.stop();
      }, timeoutMs);
      h.settle = (how) => {
        h.settle = null;
        clearTimeout(timer);
        hold(h, false);
        const m = OUT_END.exec(h.stdout);
        if (how === 'done' && m !== null) {
          const status = Number(m[1]);
          const signal = status > 128 ? (SIGNAL_NAMES.get(status - 128) ?? null) : null;
          const stdout = h.stdout.slice(0, m.index);
          const stderr = h.stderr.slice(0, -ERR_END.length);
          resolve({ stdout, stderr, code: signal === null ? status : null, signal, timedOut: false });
          return;
        }
        // The shell is gone: killed at the timeout (its group with it), or on its own.
        const result: ExecResult = timedOut
          ? { stdout: h.stdout, stderr: h.stderr, code: null, signal: 'SIGKILL', timedOut: true }
          : { stdout: h.stdout, stderr: h.stderr, code: null, signal: null, timedOut: false, error: new Error('the shell that runs nvidia-smi exited') };
        const pgid = h.child.pid;
        // Settled only once the whole group is gone: a nvidia-smi deaf to SIGKILL holds the run.
        const wait = (): void => {
          if (pgid !== undefined && groupAlive(pgid)) setTimeout(wait, GONE_POLL_MS);
          else resolve(result);
        };
        wait();
      };
      if (h.exited) h.settle('gone');
      else h.child.stdin?.write('\n');
    });
  }
}
