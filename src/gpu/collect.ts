// Samples GPU figures for /metrics on a timer (SPEC §5), never on scrape: a scrape must not
// wait on nvidia-smi, which can take seconds or hang outright when a GPU falls off the bus.
//
// - One run at a time. A run lasts until its nvidia-smi has exited; one that outlives its
//   timeout is SIGKILLed. A nvidia-smi stuck in the driver can outlive SIGKILL (state D):
//   no second one is started beside it (they would pile up, one per interval), and each
//   tick that finds it still there counts as an error, since no sample was taken.
// - A failed run (not found, non-zero exit, killed, malformed output) counts one error and
//   empties latest(): stale figures would hide a dead driver, and Prometheus reads a
//   missing series as "unknown", which it is.
// - The child goes through child_process.spawn, whose children corral's reaper leaves to
//   libuv (see src/native/owned.ts), so the exit status is never stolen.
// Runs whenever nvidia-smi can be found and --http is on (SPEC §10), whether or not a pool
// asked for placement: a single worker that uses every GPU is the common case.

import { spawn } from 'node:child_process';
import { resolveCommand } from '../process/spawn.js';
import { nvidiaSmiPath } from './discover.js';
import { dataLines, firstLine, indexAndUuid, malformed, numberField, splitRow } from './csv.js';
import { ForkServer } from './runner.js';

export interface GpuSample {
  index: number;
  uuid: string;
  name: string;
  /** 0..1; null where nvidia-smi says `[N/A]`, as for every field below. */
  utilizationRatio: number | null;
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
  powerWatts: number | null;
  temperatureCelsius: number | null;
  /** The row says `[GPU is lost]` or `Unknown Error` (SPEC §9): the GPU fell off the bus or its driver state is gone. */
  lost: boolean;
}

/** A GPU corral knows of (discovered, or seen in a sample) and whether the last answer had it alive. */
export interface GpuUp {
  index: number;
  uuid: string;
  up: boolean;
}

const LOST = /GPU is lost|Unknown Error/i;

export const SAMPLE_QUERY = [
  '--query-gpu=index,uuid,name,utilization.gpu,memory.used,memory.total,power.draw,temperature.gpu',
  '--format=csv,noheader,nounits',
] as const;

const MIB = 1024 * 1024;
const MAX_OUTPUT = MIB;

/** A run's samples, or why it gave none. */
function judge(file: string, timeoutMs: number, r: ExecResult): GpuSample[] | string {
  const said = firstLine(r.stderr, r.stdout);
  const saying = said === '' ? '' : `: ${said}`;
  if (r.error) return `${file} could not be run: ${r.error.message}`;
  if (r.timedOut) return `${file} did not answer within ${timeoutMs} ms and was killed`;
  if (r.signal !== null) return `${file} was killed by ${r.signal}${saying}`;
  // A driver without a device (or every GPU taken away) is no GPU, not a failing one.
  if (/^No devices were found/im.test(r.stdout)) return [];
  if (r.code !== 0) {
    // With one GPU gone nvidia-smi still prints the others' rows (and a line about the lost
    // one) and exits non-zero: those rows are the answer.
    const rows = parseSampleCsv(r.stdout, true);
    return rows.length > 0 ? rows : `${file} exited with code ${r.code ?? '?'}${saying}`;
  }
  try {
    return parseSampleCsv(r.stdout);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Parses the sampling query's output; throws a CorralError (NVIDIA_SMI) on a malformed line, or skips it when `lenient`. */
export function parseSampleCsv(text: string, lenient = false): GpuSample[] {
  const samples: GpuSample[] = [];
  for (const { n, line } of dataLines(text)) {
    try {
      samples.push(sampleRow(n, line));
    } catch (err) {
      if (!lenient) throw err;
    }
  }
  return samples;
}

function sampleRow(n: number, line: string): GpuSample {
  const row = splitRow(line, 2, 5);
  if (!row) throw malformed(n, line, 'expected 8 columns');
  const { index, uuid } = indexAndUuid(row, n, line);
  const lost = LOST.test(line);
  const columns = ['utilization.gpu', 'memory.used', 'memory.total', 'power.draw', 'temperature.gpu'];
  const values = row.tail.map((s, i) => {
    const v = numberField(s);
    if (v === undefined && !lost) throw malformed(n, line, `${columns[i] ?? 'a column'} is not a number`);
    return v ?? null;
  });
  const [util = null, used = null, total = null, power = null, temp = null] = values;
  return {
    index,
    uuid,
    name: row.name,
    utilizationRatio: util === null ? null : util / 100,
    memoryUsedBytes: used === null ? null : Math.round(used * MIB),
    memoryTotalBytes: total === null ? null : Math.round(total * MIB),
    powerWatts: power,
    temperatureCelsius: temp,
    lost,
  };
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Set when the program could not be started (ENOENT, EACCES...). */
  error?: NodeJS.ErrnoException;
}

export interface ExecOptions {
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
}

/** Runs a program; settles (never rejects) once it has exited, killing it after timeoutMs. */
export type Exec = (file: string, args: readonly string[], options: ExecOptions) => Promise<ExecResult>;

export const execBounded: Exec = (file, args, { timeoutMs, env }) =>
  new Promise((resolve) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let error: NodeJS.ErrnoException | undefined;
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += s;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      // A grandchild holding the pipes must not keep the run open after the kill.
      child.stdout.destroy();
      child.stderr.destroy();
    }, timeoutMs);
    child.on('error', (err) => {
      error = err;
    });
    // 'close' follows 'exit' (or a spawn 'error') once the pipes are closed.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: ExecResult = { stdout, stderr, code, signal, timedOut };
      if (error) result.error = error;
      resolve(result);
    });
  });

export interface CollectorOptions {
  /** corral's environment: CORRAL_NVIDIA_SMI and PATH. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Default 10 s. */
  intervalMs?: number;
  /** Per run; default 5 s, and never more than intervalMs. */
  timeoutMs?: number;
  now?: () => number;
  exec?: Exec;
  /** The GPUs discovered at start: one missing from the first answer is lost too. */
  known?: readonly { index: number; uuid: string }[];
  /** Once per GPU that goes from up to lost (absent from the answer, or its row says so). */
  onLost?: (gpu: { index: number; uuid: string; why: string }) => void;
}

/**
 * A collector for corral's GPU metrics, or null when there is nothing to collect: no GPU
 * was discovered and nvidia-smi is nowhere to be found (looked up on PATH with stat(2), not
 * by running it: start-up pays for no fork on a CPU node).
 */
export function gpuCollectorFor(discovered: readonly { index: number; uuid: string }[], env: NodeJS.ProcessEnv, onLost?: CollectorOptions['onLost']): GpuCollector | null {
  if (discovered.length === 0) {
    try {
      resolveCommand(nvidiaSmiPath(env), env);
    } catch {
      return null;
    }
  }
  return new GpuCollector({ env, known: discovered, ...(onLost && { onLost }) });
}

export class GpuCollector {
  /** Runs that gave no sample (and ticks skipped behind a run that would not die). */
  errors = 0;
  /** Why the last run failed; null after a good one. */
  lastError: string | null = null;
  /** `now()` when the latest sample was taken; null before the first. */
  sampledAt: number | null = null;

  readonly intervalMs: number;
  readonly timeoutMs: number;
  private readonly file: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly now: () => number;
  private readonly exec: Exec;
  /** The resident shell that runs nvidia-smi (runner.ts), unless an exec was given. */
  private readonly server: ForkServer | null;
  private samples: GpuSample[] = [];
  private running: Promise<void> | null = null;
  private runningSince = 0;
  private timer: NodeJS.Timeout | undefined;
  /** uuid -> index and whether the last answer had it alive. */
  private readonly known = new Map<string, GpuUp>();
  private readonly onLost: CollectorOptions['onLost'];

  constructor(options: CollectorOptions = {}) {
    for (const g of options.known ?? []) this.known.set(g.uuid, { index: g.index, uuid: g.uuid, up: true });
    this.onLost = options.onLost;
    this.intervalMs = options.intervalMs ?? 10_000;
    // A run may not outlast its interval, or every tick would find the last one still going.
    this.timeoutMs = Math.min(options.timeoutMs ?? 5000, this.intervalMs);
    this.env = options.env ?? process.env;
    this.file = nvidiaSmiPath(this.env);
    this.now = options.now ?? Date.now;
    this.server = options.exec ? null : new ForkServer(execBounded);
    this.exec = options.exec ?? this.server?.exec ?? execBounded;
  }

  /** Samples at once, then every intervalMs; the timer does not keep corral alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.collect();
    }, this.intervalMs);
    this.timer.unref();
    void this.collect();
  }

  /** Stops the timer and the shell that runs nvidia-smi (a run in flight ends with it). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.server?.stop();
  }

  /** corral's own helper processes (the nvidia-smi shell): not a worker's leftovers. */
  helperPids(): number[] {
    return this.server?.helperPids() ?? [];
  }

  latest(): GpuSample[] {
    return this.samples;
  }

  /** Every GPU known, up or not, by index (corral_gpu_up). A failed run changes nothing: it is no answer. */
  up(): GpuUp[] {
    return [...this.known.values()].sort((a, b) => a.index - b.index);
  }

  /** Indexes and UUIDs of the GPUs that are lost now (for the readiness of the workers placed on them). */
  lost(): Set<string> {
    const out = new Set<string>();
    for (const g of this.known.values()) {
      if (!g.up) out.add(String(g.index)).add(g.uuid);
    }
    return out;
  }

  private judgeUp(samples: readonly GpuSample[]): void {
    const seen = new Map(samples.map((s) => [s.uuid, s]));
    for (const s of samples) if (!this.known.has(s.uuid)) this.known.set(s.uuid, { index: s.index, uuid: s.uuid, up: true });
    for (const g of this.known.values()) {
      const s = seen.get(g.uuid);
      const up = s !== undefined && !s.lost;
      if (g.up && !up) this.onLost?.({ index: g.index, uuid: g.uuid, why: s ? 'nvidia-smi reports it lost ([GPU is lost] / Unknown Error)' : "absent from nvidia-smi's answer" });
      g.up = up;
    }
  }

  /**
   * One run; never rejects. While a run is in flight it starts none and returns that run,
   * counting an error when the run is already past its timeout (its nvidia-smi ignored SIGKILL).
   */
  collect(): Promise<void> {
    if (this.running) {
      if (this.now() - this.runningSince > this.timeoutMs) {
        this.fail(`${this.file} is still running ${this.now() - this.runningSince} ms after it was started, despite SIGKILL at ${this.timeoutMs} ms`);
      }
      return this.running;
    }
    this.runningSince = this.now();
    this.running = this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<void> {
    let outcome: GpuSample[] | string;
    try {
      outcome = judge(this.file, this.timeoutMs, await this.exec(this.file, SAMPLE_QUERY, { timeoutMs: this.timeoutMs, env: this.env }));
    } catch (err) {
      outcome = `${this.file} could not be run: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (typeof outcome === 'string') {
      this.fail(outcome);
    } else {
      this.samples = outcome;
      this.judgeUp(outcome);
      this.sampledAt = this.now();
      this.lastError = null;
    }
  }

  private fail(why: string): void {
    this.errors++;
    this.lastError = why;
    this.samples = [];
  }
}
