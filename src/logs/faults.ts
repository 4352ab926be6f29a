// What a worker's lines say about CUDA (SPEC §9): the out-of-memory errors that explain an
// exit, and the sticky errors after which the CUDA context is unusable. Matched in plain
// text lines and traceback records; a JSON line (a structured log or a request log that
// merely quotes the words in its "msg") is never a match.

import { native } from '../native/index.js';

/** CUDA out of memory: explains an exit; the context stays usable (not sticky). */
export const CUDA_OOM = ['torch.cuda.OutOfMemoryError', 'torch.OutOfMemoryError', 'CUDA out of memory', 'CUBLAS_STATUS_ALLOC_FAILED', 'cudaErrorMemoryAllocation'] as const;

/** Sticky CUDA and NCCL errors: every later CUDA call in the process fails. */
export const CUDA_STICKY = [
  'CUDA error: an illegal memory access was encountered',
  'device-side assert triggered',
  'unspecified launch failure',
  'uncorrectable ECC error',
  'CUDA error: unknown error',
  'NCCL error',
  'Watchdog caught collective operation timeout',
] as const;

/** The same phrases as bytes, for the scan of raw reads (find.c's search; no string made). */
export const CUDA_STICKY_BYTES: readonly Buffer[] = CUDA_STICKY.map((s) => Buffer.from(s, 'latin1'));

function isJsonLine(line: string): boolean {
  return /^\s*\{/.test(line);
}

/** The last line of text (one line, or a traceback record) that contains one of the phrases; null if none. */
export function lineWith(text: string, phrases: readonly string[]): string | null {
  if (isJsonLine(text) || !phrases.some((p) => text.includes(p))) return null;
  // The last one: in a traceback that is the exception line, not the source line that raised it.
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? '';
    if (!isJsonLine(line) && phrases.some((p) => line.includes(p))) return line.trim();
  }
  return null;
}

type Finder = (src: Uint8Array, start: number, end: number) => number;

/** Without the addon: one Buffer#indexOf per phrase. */
function findByIndexOf(src: Uint8Array, start: number, end: number): number {
  const buf = Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  let first = -1;
  for (const needle of CUDA_STICKY_BYTES) {
    const at = buf.indexOf(needle, start);
    if (at !== -1 && at + needle.length <= end && (first === -1 || at < first)) first = at;
  }
  return first;
}

let finder: Finder | undefined;

/** The addon's one-pass search (find.c), set up once; indexOf where the addon cannot load. */
function find(): Finder {
  if (finder) return finder;
  try {
    const addon = native();
    addon.setPhrases(CUDA_STICKY_BYTES);
    finder = addon.findPhrase;
  } catch {
    finder = findByIndexOf;
  }
  return finder;
}

/**
 * In raw bytes src[start, end): the line holding a sticky CUDA phrase, or null. Cheap when
 * there is none: one pass of the addon's multi-phrase search over the read.
 */
export function stickyIn(src: Buffer, start = 0, end = src.length, search: Finder = find()): string | null {
  let at = search(src, start, end);
  while (at !== -1) {
    const from = Math.max(start, src.lastIndexOf(10, at) + 1);
    let to = src.indexOf(10, at);
    if (to === -1 || to > end) to = end;
    const line = src.toString('utf8', from, to);
    if (!isJsonLine(line)) return line.trim();
    if (to >= end) return null;
    at = search(src, to, end);
  }
  return null;
}

export { findByIndexOf };
