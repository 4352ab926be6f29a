// What a Supervisor is built from: the pools, the stop settings, and every dependency on the
// outside world (addon, launcher, signaller, process tree, clock-free /proc readings)
// injected, so the supervisor can be unit-tested against a fake process table.

import type { ContainerFigures } from '../container/cgroup.js';
import type { Logger } from '../logs/logger.js';
import type { Stats } from '../metrics/stats.js';
import type { PoolSpec } from '../model.js';
import type { Addon } from '../native/index.js';
import type { Signaller } from '../process/groups.js';
import type { Launcher } from './launch.js';
import type { Measure } from './sampler.js';

export interface SupervisorOptions {
  pools: readonly PoolSpec[];
  graceMs: number;
  /** After SIGTERM/SIGINT, how long /readyz is 503 before any worker is signalled. */
  drainDelayMs?: number;
  /** One worker and a TTY on stdin: the worker has the terminal's foreground. */
  interactive: boolean;
  /** A drop-in for tini (SPEC §12): SIGHUP is passed on to the worker, not a rolling restart. */
  forwardHup?: boolean;
  logger: Logger;
  addon: Pick<Addon, 'reap' | 'notifyOpen' | 'foreground'>;
  launcher: Launcher;
  signaller: Signaller;
  stats?: Stats;
  random?: () => number;
  /** SIGHUP: the pools the re-read file describes, or null without a file; throws when it no longer validates. */
  reload?: () => readonly PoolSpec[] | null;
  /** Everything left below corral; default: read from /proc. */
  descendants?: () => number[];
  /** Default: the process tree read from /proc. */
  measure?: Measure;
  env?: NodeJS.ProcessEnv;
  /** The OOM-kill count of corral's memory cgroup; default: read from the cgroup (container/cgroup.ts). */
  oomKills?: () => number | null;
  /** corral's cgroup figures, read on the sampler's timer; default: container/cgroup.ts. */
  container?: () => ContainerFigures;
}
