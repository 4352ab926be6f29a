// What is left of corral's process tree: the descendants it must stop before it exits
// (orphans it adopted as subreaper included). Read from /proc/<pid>/task/*/children
// (CONFIG_PROC_CHILDREN), with a scan of /proc/*/stat as the fallback.

import { readdirSync } from 'node:fs';
import { readSmall } from './procfs.js';

/** Children of pid (every thread's list); undefined when /proc lacks the children files. */
export function childrenOf(pid: number | 'self'): number[] | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tasks) {
    const text = readSmall(`/proc/${pid}/task/${tid}/children`);
    if (text === null) {
      // No children file for corral itself: this kernel lacks CONFIG_PROC_CHILDREN.
      if (pid === 'self') return undefined;
      continue;
    }
    for (const p of text.split(' ')) {
      const n = Number(p);
      if (n > 0) out.push(n);
    }
  }
  return out;
}

/**
 * The fields of /proc/<pid>/stat after the command name (which may contain spaces and ')'):
 * [0] state, [1] ppid, [2] pgrp, ... [11] utime, [12] stime. Undefined when pid is gone.
 */
export function statFields(pid: number): string[] | undefined {
  return statFieldsOf(readSmall(`/proc/${pid}/stat`));
}

/** statFields of a stat's text already read (null: the process is gone). */
export function statFieldsOf(stat: string | null): string[] | undefined {
  return stat === null ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function parentOf(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? Number(f[1]) : undefined;
}

function descendantsByScan(root: number): number[] {
  const parent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!(pid > 0)) continue;
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    const list = parent.get(ppid);
    if (list) list.push(pid);
    else parent.set(ppid, [pid]);
  }
  const out: number[] = [];
  const queue = [root];
  for (let q = queue.shift(); q !== undefined; q = queue.shift()) {
    for (const c of parent.get(q) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Every live descendant of this process, nearest first. */
export function descendants(): number[] {
  const direct = childrenOf('self');
  if (direct === undefined) return descendantsByScan(process.pid);
  const out: number[] = [];
  const queue = [...direct];
  for (let q = queue.shift(); q !== undefined; q = queue.shift()) {
    out.push(q);
    queue.push(...(childrenOf(q) ?? []));
  }
  return out;
}
