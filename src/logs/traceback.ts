// A Python traceback is one record, level 50 (SPEC §4), not thirty level-30 lines: people
// search for the exception line and alert on level, and both must find the whole story.
// Format as printed by CPython's traceback.TracebackException.format():
//   Traceback (most recent call last):          header
//     File "x.py", line 3, in <module>          frames: indented (space or tab)
//   ValueError: boom                            the exception line: first non-indented line
//   <blank>                                     a chain, any number of times:
//   During handling of the above exception, another exception occurred:
//   <blank>                                     (or "The above exception was the direct cause...")
//   Traceback (most recent call last):          and the next block
// Exception groups (3.11+) print a block whose every line is indented, with no header of its
// own at top level: `  + Exception Group Traceback (most recent call last):`, then `  | ...`
// lines; the group's exception line is inside it, so such a block ends at the first
// non-indented line, which is not part of it.

/**
 * The exact header lines; compared after dropping one trailing '\r'. The addon's log fast
 * path must stop at the same lines (or a traceback goes out line by line), and exports its
 * own as tracebackHeaders: test/unit/native.test.js asserts the two are equal. They are
 * not read from the addon here so that this module stays pure and loads without it.
 */
export const HEADER = 'Traceback (most recent call last):';
export const GROUP_HEADER = '  + Exception Group Traceback (most recent call last):';
const CONTEXT = 'During handling of the above exception, another exception occurred:';
const CAUSE = 'The above exception was the direct cause of the following exception:';

function is(line: string, text: string): boolean {
  return line === text || (line.length === text.length + 1 && line.endsWith('\r') && line.startsWith(text));
}

function blank(line: string): boolean {
  return line === '' || line === '\r';
}

/** Where the grouper stands. */
const enum State {
  /** Nothing in progress: lines pass straight through. */
  Idle,
  /** In a block: header seen, reading indented lines. */
  Frames,
  /** A block ended (its exception line seen): a chain may follow, so it is held. */
  After,
  /** After + one blank line, held apart: it joins the group only if a chain marker follows. */
  Blank,
  /** A chain marker joined the group: a blank line is expected. */
  Marker,
  /** Marker + blank: the next block's header is expected. */
  Chain,
}

export interface TracebackOptions {
  /** The longest anything is held, from the first held line; then it is emitted as it is. */
  timeoutMs: number;
  /** A record holds at most this many lines... */
  maxLines: number;
  /** ...and is emitted once it reaches this many bytes of UTF-8 (joins counted). */
  maxBytes: number;
  /** Injectable for tests; setTimeout (unref'd: a held traceback keeps no process alive). */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

function defaultSetTimer(fn: () => void, ms: number): unknown {
  return setTimeout(fn, ms).unref();
}

function defaultClearTimer(t: unknown): void {
  clearTimeout(t as ReturnType<typeof setTimeout>);
}

/**
 * Per stream. push() each complete line (no trailing newline) in order; `emit(text, level)`
 * is called synchronously for every record to write, in order: plain lines pass straight
 * through with level 30, at once; a traceback (chained exceptions and exception groups
 * included) is emitted as ONE record, lines joined with '\n', level 50.
 *
 * After a block's exception line the grouper holds the group until the next line says
 * whether a chain follows, never longer than timeoutMs (then it emits what it has). A group
 * that reaches maxLines or maxBytes is emitted as it is, and a new group is not started until
 * the next header line: the rest of an oversized traceback passes as plain lines. A timeout in
 * the middle of a block (the reader was paused, or the worker stalled) is different: the rest
 * of the block, exception line included, still follows as its own level-50 record. flush()
 * emits anything held (EOF / exit). A held blank line that turns out not to introduce a chain
 * is emitted as its own plain record after the traceback.
 */
export class TracebackGrouper {
  private state = State.Idle;
  /** The current block started with GROUP_HEADER: it has no exception line after its frames. */
  private group = false;
  private readonly lines: string[] = [];
  private bytes = 0;
  private heldBlank = '';
  private timer: unknown = undefined;
  private readonly maxLines: number;
  private readonly maxBytes: number;
  private readonly timeoutMs: number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (t: unknown) => void;
  /** Bound once: no closure per group. */
  private readonly onTimeout = (): void => {
    this.timer = undefined;
    if (this.state === State.Frames) this.emitGroup();
    else this.release();
  };

  constructor(
    private readonly emit: (text: string, level: number) => void,
    opts: TracebackOptions,
  ) {
    this.maxLines = Math.max(1, opts.maxLines);
    this.maxBytes = opts.maxBytes;
    this.timeoutMs = opts.timeoutMs;
    this.setTimer = opts.setTimer ?? defaultSetTimer;
    this.clearTimer = opts.clearTimer ?? defaultClearTimer;
  }

  /** Whether lines are held back waiting for the rest of a traceback. */
  get holding(): boolean {
    return this.lines.length > 0;
  }

  /**
   * Nothing held and no traceback under way: a line that is not a header would be emitted
   * as it is. (After a timeout in the middle of a traceback nothing is held, but the lines
   * that follow still belong to it.)
   */
  get atRest(): boolean {
    return this.state === State.Idle;
  }

  push(line: string): void {
    if (this.state === State.Idle) {
      // The common path: a header starts with 'T' (HEADER) or ' ' (GROUP_HEADER).
      const c = line.charCodeAt(0);
      if (c !== 84 && c !== 32) this.emit(line, 30);
      else this.idle(line);
      return;
    }
    switch (this.state) {
      case State.Frames:
        this.frames(line);
        return;
      case State.After:
        if (blank(line)) {
          this.heldBlank = line;
          this.state = State.Blank;
        } else {
          this.release();
          this.idle(line);
        }
        return;
      case State.Blank:
        if (is(line, CONTEXT) || is(line, CAUSE)) {
          this.state = State.Marker;
          if (this.add(this.heldBlank)) this.idle(line);
          else this.add(line);
        } else {
          this.release();
          this.idle(line);
        }
        return;
      case State.Marker:
        if (blank(line)) {
          this.state = State.Chain;
          this.add(line);
        } else {
          this.release();
          this.idle(line);
        }
        return;
      case State.Chain:
        if (is(line, HEADER)) this.block(line, false);
        else if (is(line, GROUP_HEADER)) this.block(line, true);
        else {
          this.release();
          this.idle(line);
        }
        return;
    }
  }

  /** Emits anything held (EOF, exit); the grouper is then idle. */
  flush(): void {
    this.release();
  }

  private idle(line: string): void {
    if (is(line, HEADER)) this.block(line, false);
    else if (is(line, GROUP_HEADER)) this.block(line, true);
    else this.emit(line, 30);
  }

  private block(header: string, group: boolean): void {
    if (this.state !== State.Chain) this.release();
    this.state = State.Frames;
    this.group = group;
    this.add(header);
  }

  private frames(line: string): void {
    const c = line.charCodeAt(0);
    if (c === 32 || c === 9) {
      if (is(line, GROUP_HEADER)) this.block(line, true);
      else this.add(line);
      return;
    }
    if (this.group || blank(line) || is(line, HEADER)) {
      // The block ended without an exception line of its own (a group's is inside it): decide
      // again from the next state (idle when a timeout already emitted the block).
      this.state = this.lines.length === 0 ? State.Idle : State.After;
      this.push(line);
      return;
    }
    this.state = State.After;
    this.add(line);
  }

  /** Adds a line to the group; true when that made it full and it was emitted (now idle). */
  private add(line: string): boolean {
    const n = this.lines.length;
    if (n === 0) this.timer = this.setTimer(this.onTimeout, this.timeoutMs);
    this.lines.push(line);
    this.bytes += Buffer.byteLength(line, 'utf8') + (n === 0 ? 0 : 1);
    if (n + 1 < this.maxLines && this.bytes < this.maxBytes) return false;
    this.release();
    return true;
  }

  /** Emits the group as one record, and stays in the block (a timeout mid-block). */
  private emitGroup(): void {
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = undefined;
    const text = this.lines.join('\n');
    this.lines.length = 0;
    this.bytes = 0;
    this.emit(text, 50);
  }

  /** Emits the group, then a held blank line as plain; idle afterwards. */
  private release(): void {
    const held = this.state === State.Blank;
    this.state = State.Idle;
    if (this.lines.length > 0) this.emitGroup();
    if (held) this.emit(this.heldBlank, 30);
  }
}
