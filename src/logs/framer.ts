// Splits a worker's byte stream into lines (SPEC §4): on bytes, so a multi-byte character
// split across reads is kept whole; `\n` and `\r\n` end a line; a line longer than
// MAX_PART bytes becomes consecutive parts cut at character boundaries (nothing dropped);
// the last line without a newline comes out at EOF. Invalid UTF-8 becomes U+FFFD when a
// line is decoded (Buffer#toString does that).

export const MAX_PART = 16 * 1024;

/** part is 0 for a whole line, else 1, 2, ... for the pieces of a long one. */
export type LineSink = (line: string, part: number) => void;

/** The largest cut <= max that does not fall inside a UTF-8 character of buf[start..]. */
function cutAt(buf: Buffer, start: number, max: number): number {
  let cut = start + max;
  // Back up over continuation bytes (10xxxxxx) to the start of the character.
  for (let i = 0; i < 4 && cut > start && ((buf[cut] ?? 0) & 0xc0) === 0x80; i++) cut--;
  return cut === start ? start + max : cut;
}

export class LineFramer {
  private pending: Buffer | null = null;
  private part = 0;

  constructor(private readonly sink: LineSink) {}

  /** Whether part of an unterminated line is held (the next bytes continue it). */
  get holding(): boolean {
    return this.pending !== null || this.part > 0;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl === -1) break;
      let end = nl;
      if (end > start && buf[end - 1] === 13) end--;
      this.emitLine(buf, start, end);
      start = nl + 1;
    }
    // The unterminated rest: emit full parts now, keep the remainder for the next read.
    while (buf.length - start > MAX_PART) {
      const cut = cutAt(buf, start, MAX_PART);
      this.sink(buf.toString('utf8', start, cut), ++this.part);
      start = cut;
    }
    if (start < buf.length) this.pending = buf.subarray(start);
  }

  /** EOF: the last line, even without a newline. */
  end(): void {
    const rest = this.pending;
    this.pending = null;
    if (rest === null || rest.length === 0) {
      if (this.part > 0) this.part = 0;
      return;
    }
    let end = rest.length;
    if (rest[end - 1] === 13) end--;
    this.emitLine(rest, 0, end);
  }

  private emitLine(buf: Buffer, start: number, end: number): void {
    let s = start;
    while (end - s > MAX_PART) {
      const cut = cutAt(buf, s, MAX_PART);
      this.sink(buf.toString('utf8', s, cut), ++this.part);
      s = cut;
    }
    if (this.part > 0) {
      this.sink(buf.toString('utf8', s, end), ++this.part);
      this.part = 0;
    } else {
      this.sink(buf.toString('utf8', s, end), 0);
    }
  }
}
