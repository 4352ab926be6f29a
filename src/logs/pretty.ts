// Worker lines for people (SPEC §4, --log-format pretty): `HH:MM:SS.mmm pool.N | text`, the
// prefix in one colour per worker so interleaved workers can be told apart at a glance.
// In colour mode the worker's own escape sequences are kept (people want their colours) and
// corral adds:
//   - errors (level >= 50, tracebacks included) in bold red, warnings (40) in yellow, as in
//     corral's own lines;
//   - stderr marked subtly: its `|` is dimmed. Not louder, because stderr is not an error
//     stream (Python's logging writes everything there by default).
// Without colour the line is plain text: no escape sequence at all, the worker's stripped, and
// stdout and stderr look the same (the format other tools parse).

import { clock } from './clock.js';
import { stripAnsi } from './lines.js';

const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const ERROR = '\x1b[1;31m';
const WARN = '\x1b[33m';

// Readable on dark and light backgrounds: no black, white, dim, plain blue (too dark on
// black) or red (errors are red). Ordered so that neighbours contrast: consecutive workers
// get consecutive entries.
const palette = [36, 35, 32, 33, 94, 95, 92, 96, 93].map((c) => `\x1b[${c}m`);

/** A stable colour (an SGR sequence, `\x1b[36m`) for (pool, worker); consecutive workers differ. */
export function workerColour(pool: string, worker: number): string {
  const n = palette.length;
  return palette[(poolHash(pool) + (Math.trunc(worker) % n) + n) % n] ?? '';
}

// Lines come in runs from one pool: its hash is kept.
let hashedPool = '';
let hashed = 0;

/** FNV-1a of the pool name modulo the palette, so that two pools' worker 0 need not share a colour. */
function poolHash(pool: string): number {
  if (pool === hashedPool && pool !== '') return hashed;
  let h = 0x811c9dc5;
  for (let i = 0; i < pool.length; i++) h = Math.imul(h ^ pool.charCodeAt(i), 0x01000193);
  hashedPool = pool;
  hashed = (h >>> 0) % palette.length; // a small integer: the modulo per line stays cheap
  return hashed;
}

// `HH:MM:SS.` changes once a second: clock() is called once a second, not once a line.
const millis = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let second = NaN;
let hms = '';

function stamp(time: number): string {
  if (!Number.isFinite(time)) return clock(time);
  const t = Math.floor(time);
  const ms = ((t % 1000) + 1000) % 1000;
  const s = t - ms;
  if (s !== second) {
    second = s;
    hms = clock(s).slice(0, 9);
  }
  return hms + (millis[ms] ?? '');
}

// The prefix of the last line, kept: at a high rate many lines of a worker share a millisecond.
let lastTime = NaN;
let lastPool = '';
let lastWorker = NaN;
let lastStyle = -1;
let lastPrefix = '';
/** The prefix's width on screen: where continuation lines start. */
let lastWidth = 0;

const PLAIN = 0;
const COLOUR = 1;
const COLOUR_STDERR = 2;

function prefix(time: number, pool: string, worker: number, style: number): string {
  if (time === lastTime && worker === lastWorker && style === lastStyle && pool === lastPool) return lastPrefix;
  const head = `${stamp(time)} ${pool}.${worker}`;
  lastPrefix = style === PLAIN ? `${head} | ` : `${workerColour(pool, worker)}${head} ${style === COLOUR_STDERR ? DIM : ''}|${RESET} `;
  lastWidth = head.length + 3;
  lastTime = time;
  lastPool = pool;
  lastWorker = worker;
  lastStyle = style;
  return lastPrefix;
}

/**
 * `HH:MM:SS.mmm pool.N | text\n`. Lines after the first of a multi-line text (a traceback)
 * are indented under the text column.
 */
export function prettyWorkerLine(time: number, pool: string, worker: number, text: string, level: number, colour: boolean, stream: string): string {
  if (!colour) {
    const head = prefix(time, pool, worker, PLAIN);
    const plain = stripAnsi(text);
    return plain.indexOf('\n') === -1 ? `${head}${plain}\n` : `${head}${indent(plain, lastWidth, '', '')}\n`;
  }
  const head = prefix(time, pool, worker, stream === 'stderr' ? COLOUR_STDERR : COLOUR);
  const on = level >= 50 ? ERROR : level >= 40 ? WARN : '';
  // A worker's colour left on must not bleed into the next line's prefix.
  const off = on !== '' || text.indexOf('\x1b') !== -1 ? RESET : '';
  if (text.indexOf('\n') === -1) return `${head}${on}${text}${off}\n`;
  return `${head}${on}${indent(text, lastWidth, on, off)}${off}\n`;
}

/** Continuation lines start at column `width`; each line closes and reopens the highlight (less -R). */
function indent(text: string, width: number, on: string, off: string): string {
  return text.split('\n').join(`${off}\n${' '.repeat(width)}${on}`);
}
