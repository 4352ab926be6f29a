// corral's own cgroup, found the way the kernel describes it: /proc/self/cgroup names the
// cgroup of each hierarchy, /proc/self/mountinfo where (and from which root) each hierarchy
// is mounted. The directory is the mount point plus the cgroup's path below the mount's
// root, which covers the three cases met in practice: a host (root "/", full path), a
// container with a cgroup namespace (path "/"), and a container without one whose runtime
// bind-mounted its own cgroup (root "/docker/<id>", path "/docker/<id>").
// Reads are small synchronous reads of kernel files (microseconds): at start, at a worker's
// spawn and exit, never per line.

import { readFileSync } from 'node:fs';
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

function readKey(file: string, key: string): number | null {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'latin1'));
    return m?.[1] === undefined ? null : Number(m[1]);
  } catch {
    return null;
  }
}

function readNumber(file: string): number | null {
  try {
    const text = readFileSync(file, 'latin1').trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
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
