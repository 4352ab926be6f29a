// corral's own records: pino JSON lines, or a short coloured line for people.

import { pino, type Logger, type LevelWithSilent } from 'pino';
import type { LineWriter } from './writer.js';
import { prettyRecord } from './pretty-records.js';

export { clock } from './clock.js';

/** `raw`: workers' bytes pass through unchanged (SPEC §12); corral's own records are JSON. */
export type LogFormat = 'json' | 'pretty' | 'raw';
export type { Logger };

/** One of corral's JSON records for people (pretty-records.ts); what is not JSON is kept. */
export function prettyLine(json: string, colour: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  return prettyRecord(rec, colour);
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
