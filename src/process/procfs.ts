// Small kernel files (/proc, /sys/fs/cgroup) read the cheap way: open, read into one shared
// buffer, close. fs.readFileSync also fstat()s and allocates a buffer per call, which the
// sampler paid dozens of times every 2 s for files of a few hundred bytes.

import { closeSync, openSync, readSync } from 'node:fs';

const buf = Buffer.allocUnsafe(64 * 1024);

/** The file's text (latin1; at most 64 KiB), or null when it cannot be read. */
export function readSmall(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    let n = 0;
    while (n < buf.length) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r <= 0) break;
      n += r;
    }
    return buf.toString('latin1', 0, n);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
