// Shared reading of `nvidia-smi --format=csv,noheader,nounits` output. nvidia-smi does
// not quote its CSV, so a GPU name holding a comma would shift every later column: the
// name is therefore taken as whatever lies between the leading and trailing fixed columns.

import { CorralError } from '../errors.js';

/** One data row, split around the free-text name column. */
export interface Row {
  head: string[];
  name: string;
  tail: string[];
}

/**
 * The non-empty lines of nvidia-smi's output, numbered from 1. `WARNING:` lines (an
 * infoROM warning, for one) are nvidia-smi talking to people, not data, and are skipped.
 */
export function dataLines(text: string): { n: number; line: string }[] {
  const out: { n: number; line: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line !== '' && !/^warning:/i.test(line)) out.push({ n: i + 1, line });
  });
  return out;
}

/** Splits `line` into `before` fields, the name, then `after` fields; null when too short. */
export function splitRow(line: string, before: number, after: number): Row | null {
  const parts = line.split(',');
  if (parts.length < before + 1 + after) return null;
  return {
    head: parts.slice(0, before).map((s) => s.trim()),
    // Joined with ',' so the name comes back exactly as nvidia-smi printed it.
    name: parts.slice(before, parts.length - after).join(',').trim(),
    tail: parts.slice(parts.length - after).map((s) => s.trim()),
  };
}

/**
 * A numeric field: a number, null for nvidia-smi's placeholders (`[N/A]`, `[Not Supported]`,
 * `[Unknown Error]`, ... and a bare `N/A`), undefined when it is neither (malformed output).
 */
export function numberField(s: string): number | null | undefined {
  if (/^\[.*\]$/.test(s) || s === 'N/A') return null;
  if (!/^-?\d+(\.\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/** The GPU index column: a non-negative integer, else undefined. */
export function indexField(s: string): number | undefined {
  return /^\d+$/.test(s) ? Number(s) : undefined;
}

/** The UUID column: `GPU-...` (or `MIG-...`), else undefined. */
export function uuidField(s: string): string | undefined {
  return /^(GPU|MIG)-[0-9A-Za-z-]+$/.test(s) ? s : undefined;
}

/** The index and UUID that open every query's row; throws malformed() when either is bad. */
export function indexAndUuid(row: Row, n: number, line: string): { index: number; uuid: string } {
  const [indexText = '', uuidText = ''] = row.head;
  const index = indexField(indexText);
  const uuid = uuidField(uuidText);
  if (index === undefined) throw malformed(n, line, `index ${JSON.stringify(indexText)} is not a number`);
  if (uuid === undefined) throw malformed(n, line, `uuid ${JSON.stringify(uuidText)} is not GPU-...`);
  return { index, uuid };
}

export function malformed(n: number, line: string, why: string): CorralError {
  const shown = line.length > 120 ? `${line.slice(0, 120)}...` : line;
  return new CorralError('NVIDIA_SMI', `unexpected line ${n} of nvidia-smi's output (${why}): ${JSON.stringify(shown)}`);
}

/** The first non-empty line of a program's output, trimmed and bounded, for messages. */
export function firstLine(...texts: string[]): string {
  for (const t of texts) {
    const line = t.split(/\r?\n/).map((s) => s.trim()).find((s) => s !== '');
    if (line !== undefined) return line.length > 200 ? `${line.slice(0, 200)}...` : line;
  }
  return '';
}
