// The single writer every record goes through, so no two records ever interleave.
// It writes synchronously to fd 2 (corral's stderr): nothing is buffered, so nothing
// needs flushing at exit. EAGAIN (a non-blocking pipe that is full) waits and retries;
// EPIPE (the reader went away) drops output instead of crashing PID 1.
// Never touches process.stderr: libuv would turn the shared pipe non-blocking for
// every worker that inherits it.

import { writeSync } from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

export class LineWriter {
  private broken = false;
  constructor(private readonly fd: number = 2) {}

  write(text: string): void {
    if (this.broken) return;
    let buf = Buffer.from(text, 'utf8');
    while (buf.length > 0) {
      try {
        const n = writeSync(this.fd, buf);
        buf = buf.subarray(n);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          Atomics.wait(pause, 0, 0, 1);
          continue;
        }
        if (code === 'EINTR') continue;
        this.broken = true; // EPIPE, EBADF, ...: keep running without logs
        return;
      }
    }
  }
}
