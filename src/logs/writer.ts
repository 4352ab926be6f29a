// The single writer every record goes through (worker lines and corral's own pino
// records), so no two records ever interleave. Writes are batched and asynchronous
// (libuv's thread pool), so a slow reader of corral's stderr never blocks the event
// loop: past a high-water mark the writer asks for the workers' pipes to be paused (the
// workers then block in write(2)) and releases them below a low-water mark. Memory stays
// bounded whatever the sink's speed.
//
// EAGAIN (someone made the pipe non-blocking) is retried; EPIPE and other errors mean the
// reader is gone: output is dropped from then on and the pipes are released, so workers
// never block on a reader that will not come back. Never touches process.stderr: libuv
// would make the shared pipe blocking (or non-blocking) behind corral's back.

import { write as fsWrite } from 'node:fs';
import type { Addon } from '../native/index.js';

export interface WriterOptions {
  /** Queued bytes (approximately: UTF-16 units) above which onPressure(true) is called. */
  highWaterMark?: number;
  /** Queued bytes below which onPressure(false) is called again. */
  lowWaterMark?: number;
  onPressure?: (paused: boolean) => void;
  /** Called once when the reader is gone (EPIPE or another write error). */
  onBroken?: () => void;
  /** The addon's log fast path; without it writeLines frames nothing (the JS framer takes every line). */
  frameLines?: Addon['frameLines'];
}

/** Records are encoded straight into chunks of this size (no join, no re-encoding). */
const CHUNK = 1024 * 1024;

/** frameLines' results, reused (no allocation per read). */
const res = new Uint32Array(4);

export class LineWriter {
  /** Filled chunks waiting to be written. */
  private segments: Buffer[] = [];
  /** The chunk being filled: bytes [start, off) are not handed to the kernel yet. */
  private cur = Buffer.allocUnsafe(CHUNK);
  private start = 0;
  private off = 0;
  /** Bytes queued (segments plus the unsent part of cur) and in the write in flight. */
  private queued = 0;
  private inFlight = 0;
  private writing = false;
  private broken = false;
  private paused = false;
  private idle: (() => void)[] = [];
  private readonly hwm: number;
  private readonly lwm: number;
  private readonly onPressure: (paused: boolean) => void;
  private readonly frameLines: Addon['frameLines'] | undefined;
  private readonly onBroken: (() => void) | undefined;

  constructor(
    private readonly fd: number = 2,
    opts: WriterOptions = {},
  ) {
    this.hwm = opts.highWaterMark ?? 4 * 1024 * 1024;
    this.lwm = opts.lowWaterMark ?? 1024 * 1024;
    this.frameLines = opts.frameLines;
    this.onBroken = opts.onBroken;
    this.onPressure =
      opts.onPressure ??
      (() => {
        // nobody to pause
      });
  }

  write(text: string): void {
    if (this.broken) return;
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    this.reserve(text.length * 3);
    // Buffer#utf8Write skips Buffer#write's argument checks (a third of the cost per record).
    this.added((this.cur as unknown as { utf8Write(s: string, offset: number): number }).utf8Write(text, this.off));
  }

  /** Bytes as they are (--log-format raw): src[start, end) copied into the chunk. */
  writeBytes(src: Buffer, start: number, end: number): void {
    if (this.broken || end <= start) return;
    this.reserve(end - start);
    this.added(src.copy(this.cur, this.off, start, end));
  }

  /** Room for n more bytes in the current chunk: a fresh one of at least n bytes if need be. */
  private reserve(n: number): void {
    if (CHUNK - this.off < n) {
      this.seal();
      this.cur = Buffer.allocUnsafe(Math.max(CHUNK, n));
      this.start = 0;
      this.off = 0;
    }
  }

  /** n bytes were put in the chunk: queue them. */
  private added(n: number): void {
    this.off += n;
    this.queued += n;
    this.wrote();
  }

  /** Starts a write if none is in flight; past the high-water mark, asks for the pipes to pause. */
  private wrote(): void {
    if (!this.writing) this.kick();
    if (!this.paused && this.queued + this.inFlight > this.hwm) {
      this.paused = true;
      this.onPressure(true);
    }
  }

  /** Lines written by the last writeLines call. */
  framed = 0;

  /**
   * The log fast path: writes every plain line of src[start, end) as prefix + line (as a JSON
   * string body) + suffix, framed, escaped and copied by the addon straight into the chunk (no
   * string is made of the lines). Returns where it stopped: the first line that is not plain
   * (see logfast.c) or has no newline yet; `framed` says how many lines it wrote.
   * With a broken output the lines are framed and dropped.
   */
  writeLines(prefix: Buffer, src: Buffer, start: number, end: number, suffix: Buffer, maxPart: number): number {
    const frame = this.frameLines;
    if (!frame) {
      this.framed = 0;
      return start;
    }
    // A fresh chunk must hold the largest record frameLines may write (every byte escaped as
    // \u00XX), or the loop below would never end.
    if (prefix.length + 6 * maxPart + suffix.length > CHUNK) throw new RangeError(`writeLines: maxPart ${maxPart} is too large for ${CHUNK}-byte chunks`);
    let at = start;
    let lines = 0;
    for (;;) {
      frame(src, at, end, this.cur, this.off, prefix, suffix, maxPart, res);
      at = res[0] ?? end;
      lines += res[1] ?? 0;
      const off = res[2] ?? this.off;
      if (!this.broken) this.queued += off - this.off;
      this.off = this.broken ? this.start : off;
      if (res[3] !== 1) break;
      // The chunk may be too small: a fresh one always holds the next record (checked above).
      if (!this.broken) this.seal();
      this.cur = Buffer.allocUnsafe(CHUNK);
      this.start = 0;
      this.off = 0;
    }
    this.framed = lines;
    if (lines > 0 && !this.broken) this.wrote();
    return at;
  }

  /** Moves the unsent part of the current chunk to the segments. */
  private seal(): void {
    if (this.off > this.start) {
      this.segments.push(this.cur.subarray(this.start, this.off));
      this.start = this.off;
    }
  }

  private kick(): void {
    this.seal();
    if (this.segments.length === 0) {
      this.writing = false;
      for (const f of this.idle.splice(0)) f();
      return;
    }
    this.writing = true;
    const data = this.segments.length === 1 ? (this.segments[0] ?? Buffer.alloc(0)) : Buffer.concat(this.segments);
    this.segments = [];
    this.inFlight = this.queued;
    this.queued = 0;
    this.send(data, 0);
  }

  private send(data: Buffer, offset: number): void {
    fsWrite(this.fd, data, offset, data.length - offset, null, (err, n) => {
      if (err) {
        if (err.code === 'EAGAIN' || err.code === 'EINTR') {
          setTimeout(() => {
            this.send(data, offset);
          }, 1);
          return;
        }
        this.fail();
        return;
      }
      if (offset + n < data.length) {
        this.send(data, offset + n);
        return;
      }
      this.inFlight = 0;
      if (this.paused && this.queued < this.lwm) {
        this.paused = false;
        this.onPressure(false);
      }
      this.kick();
    });
  }

  private fail(): void {
    this.broken = true;
    this.segments = [];
    this.start = this.off;
    this.queued = 0;
    this.inFlight = 0;
    this.writing = false;
    if (this.paused) {
      this.paused = false;
      this.onPressure(false);
    }
    for (const f of this.idle.splice(0)) f();
    this.onBroken?.();
  }

  /** Resolves once everything written so far has reached the kernel (or the reader is gone). */
  drain(): Promise<void> {
    if (!this.writing || this.broken) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}
