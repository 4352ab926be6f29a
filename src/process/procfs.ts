// Small kernel files (/proc, /sys/fs/cgroup) read the cheap way: open, read into one shared
// buffer, close. fs.readFileSync also fstat()s and allocates a buffer per call, which the
// sampler paid dozens of times every 2 s for files of a few hundred bytes.

import { closeSync, existsSync, openSync, readSync } from 'node:fs';

const buf = Buffer.allocUnsafe(64 * 1024);

/** What fd holds (latin1, at most 64 KiB): from its offset, or from 0 (`fromStart`, a pread). */
function readAll(fd: number, fromStart: boolean): string {
  let n = 0;
  while (n < buf.length) {
    const r = readSync(fd, buf, n, buf.length - n, fromStart ? n : null);
    if (r <= 0) break;
    n += r;
  }
  return buf.toString('latin1', 0, n);
}

/** The file's text (latin1; at most 64 KiB), or null when it cannot be read. */
export function readSmall(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    return readAll(fd, false);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Files read every round, kept open: path -> fd. */
const held = new Map<string, number>();

/**
 * Like readSmall, for a file read again and again (a worker's stat, the cgroup's figures):
 * it stays open and each read is one pread from offset 0, which /proc and cgroupfs answer
 * with fresh content; an open is most of what a read of such a file costs. A read that fails
 * (the process is gone: ESRCH) closes it; the next read opens the path again.
 */
export function readHeld(path: string): string | null {
  let fd = held.get(path);
  if (fd === undefined) {
    // A file that is not there (a v2 name in a v1 hierarchy) is asked for without the
    // exception a failed open costs, every round.
    if (!existsSync(path)) return null;
    try {
      fd = openSync(path, 'r');
    } catch {
      return null;
    }
    held.set(path, fd);
  }
  try {
    return readAll(fd, true);
  } catch {
    release(path);
    return null;
  }
}

/** Closes a held file (a process that is gone or no longer sampled). */
export function release(path: string): void {
  const fd = held.get(path);
  if (fd === undefined) return;
  held.delete(path);
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** How many files are held open (for tests). */
export function heldCount(): number {
  return held.size;
}
