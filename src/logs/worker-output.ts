// One worker's stdout and stderr: read from pipes, framed into lines, turned into records
// (SPEC §4) and handed to the single writer. The constant part of every record is
// serialised once, when the worker is spawned (pino's child-binding idea); the hot path is
// one JSON.stringify of the text and a string concatenation.

import { Socket } from 'node:net';
import { LineFramer } from './framer.js';
import { mergeJson, stripAnsi } from './lines.js';
import { prettyWorkerLine } from './pretty.js';
import { TracebackGrouper } from './traceback.js';
import type { LineWriter } from './writer.js';

export type Stream = 'stdout' | 'stderr' | 'pty';

export interface LogCounters {
  /** Called once per record with its stream, and the bytes of the line. */
  line(pool: string, stream: Stream, bytes: number): void;
  feedback(pool: string): void;
}

export interface OutputOptions {
  pool: string;
  worker: number;
  pid: number;
  format: 'json' | 'pretty';
  colour: boolean;
  writer: LineWriter;
  /** Where feedback records go; the log writer when null. */
  feedback: LineWriter | null;
  counters: LogCounters;
  /** Start paused (the writer is under pressure). */
  paused: boolean;
}

const LAST_LINES = 20;
const TRACEBACK = { timeoutMs: 100, maxLines: 500, maxBytes: 64 * 1024 };

class StreamReader {
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
      this.framer.push(chunk);
    });
    this.socket.once('end', () => {
      this.framer.end();
      this.grouper.flush();
    });
    this.socket.on('error', () => {
      // EIO and friends: treat as EOF
      this.framer.end();
      this.grouper.flush();
    });
  }
}

export class WorkerOutput {
  private readonly readers: StreamReader[] = [];
  /** `,"pool":"main","worker":0,"pid":123,"stream":"stdout"` per stream. */
  private readonly fields: Record<Stream, string>;
  private readonly last: string[] = [];
  readonly done: Promise<void>;

  constructor(
    private readonly o: OutputOptions,
    fds: readonly [number, Stream][],
  ) {
    const base = `,"pool":${JSON.stringify(o.pool)},"worker":${o.worker},"pid":${o.pid},"stream":`;
    this.fields = { stdout: `${base}"stdout"`, stderr: `${base}"stderr"`, pty: `${base}"pty"` };
    for (const [fd, stream] of fds) this.readers.push(new StreamReader(fd, this, stream));
    if (o.paused) this.pause();
    this.done = Promise.all(this.readers.map((r) => r.closed)).then(() => undefined);
  }

  pause(): void {
    for (const r of this.readers) r.socket.pause();
  }

  resume(): void {
    for (const r of this.readers) r.socket.resume();
  }

  /** The worker's last lines, oldest first (for its exit record). */
  lastLines(): string[] {
    return [...this.last];
  }

  record(stream: Stream, text: string, level: number, part: number): void {
    const o = this.o;
    if (this.last.length === LAST_LINES) this.last.shift();
    this.last.push(text);
    o.counters.line(o.pool, stream, Buffer.byteLength(text) + 1);
    const now = Date.now();
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
    const msg = JSON.stringify(stripAnsi(text));
    o.writer.write(part === 0 ? `{"level":${level},"time":${now}${this.fields[stream]},"msg":${msg}}\n` : `{"level":${level},"time":${now}${this.fields[stream]},"msg":${msg},"part":${part}}\n`);
  }
}
