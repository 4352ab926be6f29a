// corral's own records: pino JSON lines, or a short coloured line for people.

import { pino, type Logger, type LevelWithSilent } from 'pino';
import type { LineWriter } from './writer.js';

/** `raw`: workers' bytes pass through unchanged (SPEC §12); corral's own records are JSON. */
export type LogFormat = 'json' | 'pretty' | 'raw';
export type { Logger };

const levelNames: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const skip = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

function two(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

export function clock(ms: number): string {
  const d = new Date(ms);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${two(d.getMilliseconds(), 3)}`;
}

/** `HH:MM:SS.mmm corral | msg key=value ...`, dimmed; warnings and errors highlighted. */
export function prettyLine(json: string, colour: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const extra = Object.entries(rec)
    .filter(([k]) => !skip.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const tag = level >= 40 ? `${levelNames[level] ?? `LEVEL${level}`} ` : '';
  const text = `${clock(typeof rec.time === 'number' ? rec.time : Date.now())} corral | ${tag}${typeof rec.msg === 'string' ? rec.msg : ''}${extra ? ' ' + extra : ''}`;
  if (!colour) return text + '\n';
  const on = level >= 50 ? '\x1b[1;31m' : level >= 40 ? '\x1b[33m' : '\x1b[2m';
  return `${on}${text}\x1b[0m\n`;
}

export function createLogger(writer: LineWriter, format: LogFormat, level: LevelWithSilent, colour: boolean): Logger {
  const dest = {
    write:
      format !== 'pretty'
        ? (s: string): void => {
            writer.write(s);
          }
        : (s: string): void => {
            writer.write(prettyLine(s, colour));
          },
  };
  // No base bindings: `pid` in a record is always a worker's.
  return pino({ level, base: null }, dest);
}
