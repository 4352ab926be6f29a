// One worker's stdout and stderr: read from pipes, framed into lines, turned into records
// (SPEC §4) and handed to the single writer. The constant part of every record is
// serialised once, when the worker is spawned (pino's child-binding idea); the hot path is
// one JSON.stringify of the text and a string concatenation.

import { Socket } from 'node:net';
import { LineFramer, MAX_PART } from './framer.js';
import { PtyFramer } from './pty-framer.js';
import { mergeJson, stripAnsi } from './lines.js';
import { prettyWorkerLine } from './pretty.js';
import { stickyIn } from './faults.js';
import { TracebackGrouper } from './traceback.js';
import type { LineWriter } from './writer.js';

export type Stream = 'stdout' | 'stderr' | 'pty';

export interface LogCounters {
  /** Called once per read with the records it produced and the bytes read. */
  lines(pool: string, stream: Stream, lines: number, bytes: number): void;
  feedback(pool: string): void;
}

// Strings that JSON.stringify would change: control characters, quote, backslash. (Lone
// surrogates cannot occur: lines come from Buffer#toString, which turns invalid UTF-8 into
// U+FFFD.) Most log lines need no escaping, and quoting them by hand after this check costs
// about half of JSON.stringify (measured here: 150 vs 335 ns for a 100-byte line).
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const NEEDS_ESCAPE = /["\\\x00-\x1f]/;

const stripCr = (s: string): string => (s.endsWith('\r') ? s.slice(0, -1) : s);

function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

export interface OutputOptions {
  pool: string;
  worker: number;
  pid: number;
  format: 'json' | 'pretty' | 'raw';
  colour: boolean;
  writer: LineWriter;
  /** raw: where the worker's stdout goes (corral's stdout); its stderr and pty output go to `writer`. */
  stdout: LineWriter | null;
  /** Where feedback records go; the log writer when null. */
  feedback: LineWriter | null;
  counters: LogCounters;
  /** Start paused (the writer is under pressure). */
  paused: boolean;
}

const LAST_LINES = 20;
/** A hang dump (SPEC §9) keeps at most this much. */
const DUMP_LINES = 200;
const DUMP_BYTES = 64 * 1024;
const SUFFIX = Buffer.from('"}\n');
const TRACEBACK = { timeoutMs: 100, maxLines: 500, maxBytes: 64 * 1024 };
/**
 * raw: the end of a read after its last newline is held until the line is complete, so one
 * worker's line is never cut by another's; a line longer than this goes out in pieces.
 */
const RAW_HOLD = 64 * 1024;

/** What a worker's output is read from: its pipes, or its pseudo-terminal. */
interface Source {
  pause(): void;
  resume(): void;
  readonly closed: Promise<void>;
}

/** The parts of node-pty's IPty that are used here. */
export interface PtyLike {
  onData(listener: (data: string) => void): unknown;
  pause(): void;
  resume(): void;
}

class PtyReader implements Source {
  private readonly framer: PtyFramer;
  private readonly grouper: TracebackGrouper;
  private part = 0;
  private finish: () => void = () => undefined;
  readonly closed: Promise<void>;

  constructor(
    private readonly term: PtyLike,
    private readonly out: WorkerOutput,
  ) {
    this.grouper = new TracebackGrouper((text, level) => {
      out.record('pty', text, level, this.part);
    }, TRACEBACK);
    this.framer = new PtyFramer((line, part) => {
      this.part = part;
      if (part > 0 && !this.grouper.holding) out.record('pty', line, 30, part);
      else this.grouper.push(line);
      this.part = 0;
    });
    this.closed = new Promise((resolve) => {
      this.finish = resolve;
    });
    term.onData((data) => {
      out.now = Date.now();
      out.scan(data);
      // raw: the terminal's output as it comes (a progress bar's \r updates included).
      if (out.raw) out.rawWriter('pty').write(data);
      else this.framer.push(data);
      out.count('pty', Buffer.byteLength(data));
    });
  }

  pause(): void {
    this.term.pause();
  }

  resume(): void {
    this.term.resume();
  }

  /** The worker has exited: emit what is held. */
  end(): void {
    this.out.now = Date.now();
    this.framer.end();
    this.grouper.flush();
    this.out.count('pty', 0);
    this.finish();
  }
}

class StreamReader implements Source {
  readonly socket: Socket;
  private readonly framer: LineFramer;
  private readonly grouper: TracebackGrouper;
  private part = 0;
  closed: Promise<void>;

  constructor(
    fd: number,
    out: WorkerOutput,
    readonly stream: Stream,
  ) {
    this.grouper = new TracebackGrouper((text, level) => {
      out.record(stream, text, level, this.part);
    }, TRACEBACK);
    this.framer = new LineFramer((line, part) => {
      this.part = part;
      // A part of a long line is never a traceback line: it goes straight out.
      if (part > 0 && !this.grouper.holding) out.record(stream, line, 30, part);
      else this.grouper.push(line);
      this.part = 0;
    });
    this.socket = new Socket({ fd, readable: true, writable: false });
    this.closed = new Promise((resolve) => {
      this.socket.once('close', () => {
        resolve();
      });
    });
    this.socket.on('data', (chunk: Buffer) => {
      // One clock reading and one counter update per read, not per line: the lines of
      // one read arrived together.
      out.now = Date.now();
      out.scan(chunk);
      if (out.raw) this.rawPath(chunk, out);
      else if (out.fast) this.fastPath(chunk, out);
      else this.framer.push(chunk);
      out.count(stream, chunk.length);
    });
    this.socket.once('end', () => {
      out.now = Date.now();
      this.flushHeld(out);
      this.framer.end();
      this.grouper.flush();
      out.count(stream, 0);
    });
    this.socket.on('error', () => {
      // EIO and friends: treat as EOF
      this.flushHeld(out);
      this.framer.end();
      this.grouper.flush();
    });
  }

  /** raw: the end of the last read that had no newline yet. */
  private held: Buffer | null = null;

  /**
   * --log-format raw: the bytes go out as read, up to the read's last newline; the rest is
   * held until its line is complete (RAW_HOLD bounds it).
   */
  private rawPath(chunk: Buffer, out: WorkerOutput): void {
    const w = out.rawWriter(this.stream);
    const nl = chunk.lastIndexOf(10);
    if (nl === -1) {
      this.held = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
      if (this.held.length >= RAW_HOLD) {
        w.writeBytes(this.held, 0, this.held.length);
        this.held = null;
      }
      return;
    }
    const held = this.held;
    this.held = nl + 1 < chunk.length ? chunk.subarray(nl + 1) : null;
    if (held !== null) {
      w.writeBytes(held, 0, held.length);
      // The held start of the first line, for last_lines.
      const first = chunk.indexOf(10);
      out.rawLines(this.stream, Buffer.concat([held, chunk.subarray(0, first + 1)]), first + held.length);
      if (first < nl) out.rawLines(this.stream, chunk.subarray(first + 1), nl - first - 1);
    } else {
      out.rawLines(this.stream, chunk, nl);
    }
    w.writeBytes(chunk, 0, nl + 1);
  }

  private flushHeld(out: WorkerOutput): void {
    const held = this.held;
    if (held === null || !out.raw) return;
    this.held = null;
    out.rawWriter(this.stream).writeBytes(held, 0, held.length);
    out.rawLines(this.stream, Buffer.concat([held, Buffer.from('\n')]), held.length);
  }

  /**
   * The common case at full speed: text lines (well-formed UTF-8 without CR or ESC; not JSON;
   * not a traceback header) are framed, JSON-escaped and copied by the addon (frameLines)
   * between a per-read record prefix and `"}\n`, straight into the writer's chunk, with no
   * string made of them.
   * Every other line, and everything while a line or a traceback is held, goes through the
   * framer, so the output is the same as the slow path's.
   */
  private fastPath(chunk: Buffer, out: WorkerOutput): void {
    let start = 0;
    if (this.framer.holding) {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        this.framer.push(chunk);
        return;
      }
      this.framer.push(chunk.subarray(0, nl + 1));
      start = nl + 1;
    }
    const prefix = out.prefix(this.stream);
    while (start < chunk.length) {
      if (!this.grouper.atRest) {
        this.framer.push(chunk.subarray(start));
        return;
      }
      const stop = out.fastLines(this.stream, prefix, chunk, start);
      if (stop >= chunk.length) return;
      // The line at `stop` is not plain, or has no newline yet: the framer takes it.
      const nl = chunk.indexOf(10, stop);
      if (nl === -1) {
        this.framer.push(chunk.subarray(stop));
        return;
      }
      this.framer.push(chunk.subarray(stop, nl + 1));
      start = nl + 1;
    }
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

export class WorkerOutput {
  private readonly readers: Source[] = [];
  private ptyReader: PtyReader | undefined;
  /** `,"pool":"main","worker":0,"pid":123,"stream":"stdout"` per stream. */
  private readonly fields: Record<Stream, string>;
  /** The last LAST_LINES texts, as a ring. */
  private readonly last: string[] = [];
  private lastAt = 0;
  /** Records not yet added to the counters, per stream; the time to stamp records with (set per read). */
  private readonly unreported: Record<Stream, number> = { stdout: 0, stderr: 0, pty: 0 };
  now = Date.now();
  /** The byte-copy fast path applies (json format, and no dump is being kept). */
  fast: boolean;
  /** --log-format raw: bytes pass through (SPEC §12). */
  readonly raw: boolean;
  /** Called once per process with the first line that shows a sticky CUDA error (faults.ts). */
  onFault: ((line: string) => void) | null = null;
  private faulted = false;
  /** Every record since startDump(), bounded. */
  private dump: string[] | null = null;
  private dumpBytes = 0;
  private prefixAt = -1;
  private readonly prefixes = new Map<Stream, Buffer>();
  readonly done: Promise<void>;

  constructor(
    private readonly o: OutputOptions,
    source: readonly [number, Stream][] | PtyLike,
  ) {
    this.fast = o.format === 'json';
    this.raw = o.format === 'raw';
    const base = `,"pool":${JSON.stringify(o.pool)},"worker":${o.worker},"pid":${o.pid},"stream":`;
    this.fields = { stdout: `${base}"stdout"`, stderr: `${base}"stderr"`, pty: `${base}"pty"` };
    if (Array.isArray(source)) {
      for (const [fd, stream] of source as readonly [number, Stream][]) this.readers.push(new StreamReader(fd, this, stream));
    } else {
      this.ptyReader = new PtyReader(source as PtyLike, this);
      this.readers.push(this.ptyReader);
    }
    if (o.paused) this.pause();
    this.done = Promise.all(this.readers.map((r) => r.closed)).then(() => undefined);
  }

  pause(): void {
    for (const r of this.readers) r.pause();
  }

  resume(): void {
    for (const r of this.readers) r.resume();
  }

  /** Closes the stdout pipe's read end: the worker's next write to it gets SIGPIPE. */
  closeStdout(): void {
    for (const r of this.readers) if (r instanceof StreamReader && r.stream === 'stdout') r.socket.destroy();
  }

  /** For a pty: the worker exited and node-pty has delivered its output. */
  endPty(): void {
    this.ptyReader?.end();
  }

  /** A read, before it is framed: looks for a sticky CUDA error line (faults.ts; one pass of the addon's search). */
  scan(chunk: Buffer | string): void {
    if (this.onFault === null || this.faulted) return;
    const line = stickyIn(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (line === null) return;
    this.faulted = true;
    this.onFault(line);
  }

  /** From now on every record is also kept for the exit record's `dump` (the slow path, so none is skipped). */
  startDump(): void {
    this.dump ??= [];
    this.fast = false;
  }

  /** The records since startDump(), or null if it was not called. */
  dumpLines(): string[] | null {
    return this.dump && [...this.dump];
  }

  /** The worker's last lines, oldest first (for its exit record). */
  lastLines(): string[] {
    return this.last.length < LAST_LINES ? [...this.last] : [...this.last.slice(this.lastAt), ...this.last.slice(0, this.lastAt)];
  }

  /** `{"level":30,"time":<now>,...,"msg":"` for the fast path, rebuilt when the clock moves. */
  prefix(stream: Stream): Buffer {
    if (this.prefixAt !== this.now) {
      this.prefixAt = this.now;
      this.prefixes.clear();
    }
    let p = this.prefixes.get(stream);
    if (!p) {
      p = Buffer.from(`{"level":30,"time":${this.now}${this.fields[stream]},"msg":"`, 'latin1');
      this.prefixes.set(stream, p);
    }
    return p;
  }

  /**
   * The plain lines of src from `start` on, written by the addon (see StreamReader.fastPath);
   * returns where it stopped. Only the last LAST_LINES of them are made into strings, for the
   * exit record.
   */
  fastLines(stream: Stream, prefix: Buffer, src: Buffer, start: number): number {
    const writer = this.o.writer;
    const stop = writer.writeLines(prefix, src, start, src.length, SUFFIX, MAX_PART);
    const n = writer.framed;
    if (n === 0) return stop;
    this.unreported[stream] += n;
    // The last k lines end at stop - 1 (their newline): walk back over k newlines.
    const k = Math.min(n, LAST_LINES);
    const ends: number[] = [];
    let e = stop - 1;
    for (let j = 0; j < k; j++) {
      ends.push(e);
      e = e > 0 ? src.lastIndexOf(10, e - 1) : -1;
    }
    // ends[j] is the newline of the j-th line from the end; the line before it ended at ends[j + 1] (or e).
    for (let j = k - 1; j >= 0; j--) {
      const begin = (j === k - 1 ? e : (ends[j + 1] ?? -1)) + 1;
      this.remember(src.toString('utf8', begin, ends[j] ?? begin));
    }
    return stop;
  }

  private remember(text: string): void {
    if (this.dump && this.dump.length < DUMP_LINES && this.dumpBytes + text.length <= DUMP_BYTES) {
      this.dump.push(text);
      this.dumpBytes += text.length;
    }
    if (this.last.length < LAST_LINES) this.last.push(text);
    else {
      this.last[this.lastAt] = text;
      this.lastAt = (this.lastAt + 1) % LAST_LINES;
    }
  }

  /** raw: stdout to corral's stdout, the rest to its stderr (the writer of corral's records). */
  rawWriter(stream: Stream): LineWriter {
    return stream === 'stdout' && this.o.stdout !== null ? this.o.stdout : this.o.writer;
  }

  /**
   * raw: the complete lines of src[0, nl] (nl is the last one's newline) counted, and the
   * last LAST_LINES of them kept for the exit record (all of them while a dump is kept).
   */
  rawLines(stream: Stream, src: Buffer, nl: number): void {
    let n = 0;
    for (let i = src.indexOf(10); i !== -1 && i <= nl; i = src.indexOf(10, i + 1)) n++;
    this.unreported[stream] += n;
    const k = this.dump !== null ? n : Math.min(n, LAST_LINES);
    let begin = nl;
    for (let j = 0; j < k; j++) begin = begin > 0 ? src.lastIndexOf(10, begin - 1) : -1;
    // begin: the newline before the first of the k lines (-1: the start of src).
    for (let j = 0; j < k; j++) {
      const end = src.indexOf(10, begin + 1);
      this.remember(stripCr(src.toString('utf8', begin + 1, end)));
      begin = end;
    }
  }

  /** Adds a read's bytes and the records since the last call to the counters. */
  count(stream: Stream, bytes: number): void {
    const lines = this.unreported[stream];
    this.unreported[stream] = 0;
    if (lines > 0 || bytes > 0) this.o.counters.lines(this.o.pool, stream, lines, bytes);
  }

  record(stream: Stream, text: string, level: number, part: number): void {
    const o = this.o;
    this.unreported[stream]++;
    this.remember(text);
    const now = this.now;
    if (part === 0 && text.charCodeAt(0) === 123 /* { */) {
      const merged = mergeJson(text);
      if (merged !== undefined) {
        const lvl = merged.level ?? level;
        const rec = `{"level":${lvl},"time":${now}${this.fields[stream]}${merged.body}}\n`;
        if (merged.kind === 'feedback') {
          o.counters.feedback(o.pool);
          if (o.feedback) {
            o.feedback.write(rec);
            return;
          }
        }
        o.writer.write(o.format === 'pretty' ? prettyWorkerLine(now, o.pool, o.worker, text, lvl, o.colour, stream) : rec);
        return;
      }
    }
    if (o.format === 'pretty') {
      o.writer.write(prettyWorkerLine(now, o.pool, o.worker, text, level, o.colour, stream));
      return;
    }
    const msg = jsonString(stripAnsi(text));
    o.writer.write(part === 0 ? `{"level":${level},"time":${now}${this.fields[stream]},"msg":${msg}}\n` : `{"level":${level},"time":${now}${this.fields[stream]},"msg":${msg},"part":${part}}\n`);
  }
}
