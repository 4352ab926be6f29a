// Local wall-clock time of a record, `HH:MM:SS.mmm`, as both pretty formats print it.

function two(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

export function clock(ms: number): string {
  const d = new Date(ms);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${two(d.getMilliseconds(), 3)}`;
}
