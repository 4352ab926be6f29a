// corral's own cgroup, found the way the kernel describes it: /proc/self/cgroup names the
// cgroup of each hierarchy, /proc/self/mountinfo where (and from which root) each hierarchy
// is mounted. The directory is the mount point plus the cgroup's path below the mount's
// root, which covers the three cases met in practice: a host (root "/", full path), a
// container with a cgroup namespace (path "/"), and a container without one whose runtime
// bind-mounted its own cgroup (root "/docker/<id>", path "/docker/<id>").
// Reads are small synchronous reads of kernel files (microseconds): at start, at a worker's
// spawn and exit, never per line.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { readHeld } from '../process/procfs.js';
import { join } from 'node:path';

export interface CgroupDirs {
  /** The unified (v2) cgroup directory, when a cgroup2 hierarchy is mounted. */
  v2: string | null;
  /** v1 hierarchies by controller. */
  memory: string | null;
  cpu: string | null;
  cpuset: string | null;
  pids: string | null;
}

const NONE: CgroupDirs = { v2: null, memory: null, cpu: null, cpuset: null, pids: null };

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function under(mountpoint: string, root: string, path: string): string {
  if (root === '/') return path === '/' ? mountpoint : join(mountpoint, path);
  if (path === root) return mountpoint;
  if (path.startsWith(`${root}/`)) return join(mountpoint, path.slice(root.length));
  // The cgroup is outside what is mounted (a namespace shows "/.." paths): the mount is the best view.
  return mountpoint;
}

/** Pure: the cgroup directories from the text of /proc/self/cgroup and /proc/self/mountinfo. */
export function locateCgroups(selfCgroup: string, mountinfo: string): CgroupDirs {
  const paths = new Map<string, string>();
  for (const line of selfCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, , controllers = '', path = '/'] = m;
    if (controllers === '') paths.set('', path);
    for (const c of controllers.split(',')) if (c !== '') paths.set(c, path);
  }
  const dirs: CgroupDirs = { ...NONE };
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep === -1) continue;
    const left = line.slice(0, sep).split(' ');
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    const root = unescape(left[3] ?? '/');
    const mountpoint = unescape(left[4] ?? '');
    if (fstype === 'cgroup2') {
      const path = paths.get('');
      if (path !== undefined && dirs.v2 === null) dirs.v2 = under(mountpoint, root, path);
    } else if (fstype === 'cgroup') {
      const opts = superOptions.split(',');
      for (const c of ['memory', 'cpu', 'cpuset', 'pids'] as const) {
        const path = paths.get(c);
        if (opts.includes(c) && path !== undefined && dirs[c] === null) dirs[c] = under(mountpoint, root, path);
      }
    }
  }
  return dirs;
}

let found: CgroupDirs | undefined;

/** corral's cgroups (read once; corral never moves itself). */
export function ownCgroups(): CgroupDirs {
  if (found) return found;
  try {
    found = locateCgroups(readFileSync('/proc/self/cgroup', 'utf8'), readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    found = { ...NONE };
  }
  return found;
}

/** A cgroup file, kept open between reads (the sampler reads the same few every round). */
function readText(file: string): string | null {
  return file === '' ? null : (readHeld(file)?.trim() ?? null);
}

function readKey(file: string, key: string): number | null {
  const text = readText(file);
  const m = text === null ? null : new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m?.[1] === undefined ? null : Number(m[1]);
}

function readNumber(file: string): number | null {
  const text = readText(file);
  return text !== null && /^\d+$/.test(text) ? Number(text) : null;
}

/**
 * How many processes the kernel's OOM killer has killed in corral's memory cgroup: v2
 * `memory.events` (this cgroup and below), v1 `memory.oom_control` (this cgroup's own
 * processes). null when neither can be read.
 */
export function oomKills(dirs: CgroupDirs = ownCgroups()): number | null {
  const v2 = dirs.v2 === null ? null : readKey(join(dirs.v2, 'memory.events'), 'oom_kill');
  if (v2 !== null) return v2;
  return dirs.memory === null ? null : readKey(join(dirs.memory, 'memory.oom_control'), 'oom_kill');
}

/** The cgroup's pids.max, or null when there is none ("max", or no pids controller). */
export function pidsLimit(dirs: CgroupDirs = ownCgroups()): number | null {
  for (const dir of [dirs.v2, dirs.pids]) {
    if (dir === null) continue;
    const n = readNumber(join(dir, 'pids.max'));
    if (n !== null) return n;
  }
  return null;
}

/** corral's container as its cgroup describes it (SPEC §10); null where there is no limit or no file. */
export interface ContainerFigures {
  memoryLimitBytes: number | null;
  memoryUsageBytes: number | null;
  oomKills: number | null;
  /** min(quota ÷ period, cpuset size, online CPUs). */
  cpuLimitCores: number | null;
  cpuThrottledSeconds: number | null;
}

/** v1 reports "no limit" as a huge page-rounded number (9223372036854771712); anything past 2^60 bytes is none. */
const NO_V1_LIMIT = 2 ** 60;

/** `0-3,8,10-11` -> 7; null when malformed or empty. */
export function cpusetSize(list: string): number | null {
  let n = 0;
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return null;
    n += b - a + 1;
  }
  return n > 0 ? n : null;
}


/** The first of the files (in the first directory that has it) that can be read. */
function first(...files: (string | null)[]): string | null {
  for (const f of files) {
    if (f === null) continue;
    const t = readText(f);
    if (t !== null) return t;
  }
  return null;
}

const at = (dir: string | null, name: string): string | null => (dir === null ? null : join(dir, name));

function memoryLimit(d: CgroupDirs): number | null {
  const v2 = readText(at(d.v2, 'memory.max') ?? '');
  if (v2 !== null) return /^\d+$/.test(v2) ? Number(v2) : null; // "max": none
  const v1 = readText(at(d.memory, 'memory.limit_in_bytes') ?? '');
  if (v1 === null || !/^\d+$/.test(v1)) return null;
  const n = Number(v1);
  return n >= NO_V1_LIMIT ? null : n;
}

function cpuQuotaCores(d: CgroupDirs): number | null {
  const v2 = readText(at(d.v2, 'cpu.max') ?? '');
  if (v2 !== null) {
    const [quota, period] = v2.split(/\s+/);
    return quota === undefined || period === undefined || quota === 'max' || !(Number(period) > 0) ? null : Number(quota) / Number(period);
  }
  const quota = Number(readText(at(d.cpu, 'cpu.cfs_quota_us') ?? '') ?? NaN);
  const period = Number(readText(at(d.cpu, 'cpu.cfs_period_us') ?? '') ?? NaN);
  return Number.isFinite(quota) && quota > 0 && period > 0 ? quota / period : null;
}

function throttledSeconds(d: CgroupDirs): number | null {
  const v2 = readKey(at(d.v2, 'cpu.stat') ?? '', 'throttled_usec');
  if (v2 !== null) return v2 / 1e6;
  const v1 = readKey(at(d.cpu, 'cpu.stat') ?? '', 'throttled_time');
  return v1 === null ? null : v1 / 1e9;
}

let usableCpus: number | undefined;

/**
 * corral's own container, bounded by the CPUs it may run on (sched_getaffinity: the CPUs
 * online, less any taskset; asked once, since os.cpus() parses /proc/cpuinfo on every call).
 */
export function ownContainer(): ContainerFigures {
  usableCpus ??= availableParallelism();
  return readContainer(usableCpus);
}

/**
 * Reads the figures: a handful of small files, synchronously (microseconds each); called on
 * the sampler's timer, never on a scrape. `onlineCpus` bounds the CPU limit (a container
 * without a quota or cpuset gets the machine).
 */
export function readContainer(onlineCpus: number, d: CgroupDirs = ownCgroups()): ContainerFigures {
  const usageText = first(at(d.v2, 'memory.current'), at(d.memory, 'memory.usage_in_bytes'));
  const cpus = first(at(d.v2, 'cpuset.cpus.effective'), at(d.cpuset, 'cpuset.effective_cpus'), at(d.cpuset, 'cpuset.cpus'));
  const limits = [cpuQuotaCores(d), cpus === null ? null : cpusetSize(cpus), onlineCpus > 0 ? onlineCpus : null].filter((x): x is number => x !== null);
  return {
    memoryLimitBytes: memoryLimit(d),
    memoryUsageBytes: usageText !== null && /^\d+$/.test(usageText) ? Number(usageText) : null,
    oomKills: oomKills(d),
    cpuLimitCores: limits.length > 0 ? Math.min(...limits) : null,
    cpuThrottledSeconds: throttledSeconds(d),
  };
}
