// Lines from a pseudo-terminal (--pty). The terminal turns `\n` into `\r\n`, and progress
// bars (tqdm) redraw one line with `\r`: such a line is emitted at most once a second
// while it is being redrawn, and once when it is finished (SPEC §4). Long lines are cut
// into parts of at most MAX_PART bytes, as in framer.ts.

import { MAX_PART, type LineSink } from './framer.js';

const REDRAW_EVERY_MS = 1000;

function* parts(line: string): Generator<string> {
  if (line.length * 3 <= MAX_PART || Buffer.byteLength(line) <= MAX_PART) {
    yield line;
    return;
  }
  const buf = Buffer.from(line);
  let start = 0;
  while (start < buf.length) {
    let cut = Math.min(buf.length, start + MAX_PART);
    while (cut < buf.length && cut > start && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--;
    yield buf.toString('utf8', start, cut);
    start = cut;
  }
}

export class PtyFramer {
  private pending = '';
  private lastRedraw = 0;
  private redrawn = '';

  constructor(
    private readonly sink: LineSink,
    private readonly now: () => number = Date.now,
  ) {}

  push(text: string): void {
    let data = this.pending + text;
    let nl = data.indexOf('\n');
    while (nl !== -1) {
      let line = data.slice(0, nl);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.emit(finalRendering(line));
      this.redrawn = '';
      data = data.slice(nl + 1);
      nl = data.indexOf('\n');
    }
    this.pending = data;
    // A line still being redrawn: show its latest state, at most once a second.
    const cr = data.lastIndexOf('\r');
    if (cr !== -1) {
      const current = finalRendering(data);
      const t = this.now();
      if (current !== '' && current !== this.redrawn && t - this.lastRedraw >= REDRAW_EVERY_MS) {
        this.lastRedraw = t;
        this.redrawn = current;
        this.emit(current);
      }
      // Keep only the latest rendering: a bar redrawn for hours must not grow memory.
      this.pending = data.slice(cr);
    }
  }

  end(): void {
    const rest = this.pending;
    this.pending = '';
    if (rest === '' || rest === '\r') return;
    const last = finalRendering(rest);
    if (last !== '' && last !== this.redrawn) this.emit(last);
  }

  private emit(line: string): void {
    let n = 0;
    const ps = [...parts(line)];
    if (ps.length === 1) this.sink(line, 0);
    else for (const p of ps) this.sink(p, ++n);
  }
}

/** What a terminal shows for a line redrawn with `\r`: the text after the last one. */
function finalRendering(line: string): string {
  const cr = line.lastIndexOf('\r');
  if (cr === -1) return line;
  const after = line.slice(cr + 1);
  return after === '' ? line.slice(0, cr).slice(line.slice(0, cr).lastIndexOf('\r') + 1) : after;
}
