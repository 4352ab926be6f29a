// What a worker's lines say about CUDA (SPEC §9): the out-of-memory errors that explain an
// exit, and the sticky errors after which the CUDA context is unusable. Matched in plain
// text lines and traceback records; a JSON line (a structured log or a request log that
// merely quotes the words in its "msg") is never a match.

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

/** The same phrases as bytes, for a scan of raw reads (Buffer#indexOf, no string made). */
export const CUDA_STICKY_BYTES: readonly Buffer[] = CUDA_STICKY.map((s) => Buffer.from(s, 'latin1'));

function isJsonLine(line: string): boolean {
  return /^\s*\{/.test(line);
}

/** The last line of text (one line, or a traceback record) that contains one of the phrases; null if none. */
export function lineWith(text: string, phrases: readonly string[]): string | null {
  if (isJsonLine(text)) return null;
  let hit = false;
  for (const p of phrases) {
    if (text.includes(p)) {
      hit = true;
      break;
    }
  }
  if (!hit) return null;
  // The last one: in a traceback that is the exception line, not the source line that raised it.
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? '';
    if (!isJsonLine(line) && phrases.some((p) => line.includes(p))) return line.trim();
  }
  return null;
}

/**
 * In raw bytes src[start, end): the line holding a sticky CUDA phrase, or null. Cheap when
 * there is none (one Buffer#indexOf per phrase over the read).
 */
export function stickyIn(src: Buffer, start = 0, end = src.length): string | null {
  for (const needle of CUDA_STICKY_BYTES) {
    let at = src.indexOf(needle, start);
    while (at !== -1 && at < end) {
      const from = src.lastIndexOf(10, at) + 1;
      let to = src.indexOf(10, at);
      if (to === -1 || to > end) to = end;
      const line = src.toString('utf8', Math.max(from, start), to);
      if (!isJsonLine(line)) return line.trim();
      at = src.indexOf(needle, to);
    }
  }
  return null;
}
