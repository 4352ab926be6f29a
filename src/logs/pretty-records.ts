// corral's own records for people (--log-format pretty): `HH:MM:SS.mmm corral | text`, one
// short line per event with what matters said in words, not as key=value:
//   - a clean exit (or one corral decided: shutdown, rolling restart) is one line;
//   - a failed exit says its cause, and the worker's last lines follow, indented, one per line
//     (then the stack dump of a hung worker, if one was asked for);
//   - backoff and restart say when the next try is, ready how long the start took;
//   - a line names its worker (`main.0: restarting in 1.5s`) when the message does not.
// Other events keep their fields as key=value after the message.

import { clock } from './clock.js';
import { stripAnsi } from './lines.js';

const LEVEL_TAGS: Record<number, string> = { 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields never shown as key=value: the line says them already. */
const SAID = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'event', 'pool', 'worker']);
/** Events rendered in words: their fields are not repeated as key=value. */
const IN_WORDS = new Set(['exit', 'backoff', 'restart', 'ready', 'spawn', 'watch', 'give_up']);
/** Exit causes that are no failure: one short line. */
const QUIET_CAUSES = new Set(['clean', 'shutdown', 'rolling']);
/** `HH:MM:SS.mmm corral | `: where continuation lines start. */
const TEXT_COLUMN = 22;
const INDENT = ' '.repeat(TEXT_COLUMN + 2);

const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const ERROR = '\x1b[1;31m';
const WARN = '\x1b[33m';

type Rec = Record<string, unknown>;

/** 850ms, 1.5s, 42s, 2m05s, 1h02m. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function strings(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((x) => (typeof x === 'string' ? stripAnsi(x).split('\n') : []));
}

function keyValues(rec: Rec): string {
  return Object.entries(rec)
    .filter(([k]) => !SAID.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/** The words after the message, and the lines below it, for the events said in words. */
function details(rec: Rec, time: number): { after: string; below: string[]; failed: boolean; say?: string } {
  const none = { after: '', below: [], failed: false };
  switch (rec.event) {
    case 'exit': {
      const ran = num(rec.duration_ms);
      const after = ran === undefined ? '' : ` after ${duration(ran)}`;
      if (rec.pool === undefined) return { ...none, after };
      if (typeof rec.cause === 'string' && QUIET_CAUSES.has(rec.cause)) return { ...none, after };
      const last = strings(rec.last_lines);
      const dump = strings(rec.dump);
      const below = [...(last.length > 0 ? ['last lines:', ...last.map((l) => `  ${l}`)] : []), ...(dump.length > 0 ? ['stack dump:', ...dump.map((l) => `  ${l}`)] : [])];
      return { after, below, failed: true };
    }
    case 'backoff': {
      const delay = num(rec.delay_ms);
      return delay === undefined ? none : { ...none, say: `restarting in ${duration(delay)}`, after: `, at ${clock(time + delay)}` };
    }
    case 'restart': {
      const delay = num(rec.delay_ms);
      if (delay === undefined) return none;
      return { ...none, after: delay > 0 ? ` at ${clock(time + delay)}` : ' now' };
    }
    case 'ready': {
      const took = num(rec.startup_ms);
      return took === undefined ? none : { ...none, after: ` in ${duration(took)}` };
    }
    case 'spawn': {
      const pid = num(rec.pid);
      return pid === undefined ? none : { ...none, after: ` (pid ${pid})` };
    }
    default:
      return none;
  }
}

/** A worker's name in front of a message that does not say it. */
function named(rec: Rec, msg: string): string {
  if (typeof rec.pool !== 'string' || typeof rec.worker !== 'number') return msg;
  const name = `${rec.pool}.${rec.worker}`;
  return msg.includes(name) ? msg : `${name}: ${msg}`;
}

/** One of corral's JSON records as text for people (one or more lines, each ending in \n). */
export function prettyRecord(rec: Rec, colour: boolean): string {
  const level = num(rec.level) ?? 30;
  const time = num(rec.time) ?? Date.now();
  const msg = typeof rec.msg === 'string' ? rec.msg : '';
  const tag = level >= 40 ? `${LEVEL_TAGS[level] ?? `LEVEL${level}`} ` : '';
  const known = typeof rec.event === 'string' && IN_WORDS.has(rec.event);
  const { after, below, failed, say } = details(rec, time);
  const extra = known ? '' : keyValues(rec);
  const head = `${clock(time)} corral | ${tag}${named(rec, say ?? msg)}${after}${extra ? ' ' + extra : ''}`;
  const lines = [head, ...below.map((l) => INDENT + l)];
  if (!colour) return lines.join('\n') + '\n';
  const on = level >= 50 || failed ? ERROR : level >= 40 ? WARN : DIM;
  return lines.map((l, i) => `${i === 0 ? on : DIM}${l}${RESET}`).join('\n') + '\n';
}
