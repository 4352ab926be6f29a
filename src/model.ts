// The vocabulary every part of corral shares: what a pool is once resolved, the names of
// worker states and of stop and restart reasons, how readiness is judged, and the
// snapshot that /readyz, /status and /metrics read. Declared once here; config, cli,
// supervisor, http and metrics import from this module and never from each other's
// internals (config and cli never import the supervisor).

/** SPEC §3 restart policy. */
export type RestartPolicy = 'always' | 'on-failure' | 'never';

/** How a worker is judged ready (SPEC §3). `port`/`url` keep their {port}/{worker} placeholders. */
export type ReadySpec = { kind: 'started' } | { kind: 'notify' } | { kind: 'tcp'; port: string } | { kind: 'http'; url: string };

/** Worker states as /status and `corral_workers{state}` name them (SPEC §3). */
export const WORKER_STATES = ['starting', 'ready', 'stopping', 'exited', 'backoff'] as const;
export type WorkerStateName = (typeof WORKER_STATES)[number];

/** Why corral itself stops a worker. */
export const STOP_REASONS = ['shutdown', 'rolling', 'watchdog', 'startup_timeout', 'max_rss', 'cuda_error'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/** The `reason` label of corral_worker_restarts_total (SPEC §5). */
export const RESTART_REASONS = ['exit', 'signal', 'watchdog', 'startup_timeout', 'max_rss', 'rolling', 'cuda_error'] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

/** Why a worker ended (SPEC §9): what corral saw, or the reason of a stop it decided. */
export const EXIT_CAUSES = ['oom_kill', 'cuda_oom', 'cuda_error', 'crash', 'killed', 'exception', 'error', 'clean', 'shutdown', 'rolling', 'watchdog', 'startup_timeout', 'max_rss'] as const;
export type ExitCause = (typeof EXIT_CAUSES)[number];

/** What the supervisor runs: a pool, resolved (GPUs planned, user looked up, socket bound). */
export interface PoolSpec {
  name: string;
  command: readonly string[];
  workers: number;
  restart: RestartPolicy;
  stopSignal: NodeJS.Signals;
  ready: ReadySpec;
  readyTimeoutMs: number;
  watchdogMs: number | null;
  /** Sent before a watchdog stop for a stack dump; null: none. */
  watchdogSignal: NodeJS.Signals | null;
  onCudaError: 'restart' | 'ignore';
  /** --watch paths (absolute) and --watch-ignore globs (SPEC §11). */
  watch: readonly string[];
  watchIgnore: readonly string[];
  portBase: number | null;
  minReady: number;
  cwd?: string;
  env?: Readonly<Record<string, string>>;
  /** CUDA_VISIBLE_DEVICES per worker index; null leaves it as corral's. */
  devices?: readonly (string | null)[];
  /** The supervisor-held listening socket, passed as fd 3. */
  listenFd?: number;
  user?: { uid: number; gid: number; groups: readonly number[]; env: Readonly<Record<string, string>> };
  /** Recycle a worker whose process tree RSS exceeds this; null: never. */
  maxRssBytes: number | null;
  /** Run under a pseudo-terminal (node-pty). */
  pty: boolean;
  /**
   * A drop-in for tini (SPEC §12): the worker's environment gains nothing of corral's, no
   * CORRAL_* names, and NOTIFY_SOCKET only when --ready notify or --watchdog needs it.
   */
  dropIn?: true;
}

export interface WorkerView {
  pool: string;
  index: number;
  pid: number | null;
  state: WorkerStateName;
  /** CUDA_VISIBLE_DEVICES of this worker, or null. */
  gpu: string | null;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; reason: string; cause: ExitCause; at: number } | null;
  /** When the current process was spawned (epoch ms), or null. */
  startedAt: number | null;
  /** Last STATUS= text. */
  statusText: string | null;
  /** Last X_CORRAL_QUEUE= of the live process, or null. */
  queueDepth: number | null;
  /** Whole process tree, from the last sample; null before the first. */
  cpuSeconds: number | null;
  rssBytes: number | null;
  /** A GPU it is placed on is lost (SPEC §9): it does not count as ready. */
  gpuLost?: boolean;
}

export interface PoolView {
  name: string;
  desired: number;
  minReady: number;
  workers: WorkerView[];
}

export interface Snapshot {
  draining: boolean;
  /** False once a pool gave up. */
  live: boolean;
  pools: PoolView[];
}

/** Ready and serving: state ready, and no GPU of it lost. */
export function workerReady(w: WorkerView): boolean {
  return w.state === 'ready' && w.gpuLost !== true;
}

export function readyCount(pool: PoolView): number {
  let n = 0;
  for (const w of pool.workers) if (workerReady(w)) n++;
  return n;
}

/** The snapshot with the workers placed on a lost GPU (by index or UUID in their CUDA_VISIBLE_DEVICES) marked. */
export function withLostGpus(snap: Snapshot, lost: ReadonlySet<string>): Snapshot {
  if (lost.size === 0) return snap;
  const marked = (w: WorkerView): WorkerView => (w.gpu !== null && w.gpu.split(',').some((d) => lost.has(d.trim())) ? { ...w, gpuLost: true } : w);
  return { ...snap, pools: snap.pools.map((p) => ({ ...p, workers: p.workers.map(marked) })) };
}

/** SPEC §5 /readyz and corral_ready: not draining, and every pool has at least min_ready ready workers. */
export function isReady(snap: Snapshot): boolean {
  return !snap.draining && snap.pools.every((p) => readyCount(p) >= p.minReady);
}
