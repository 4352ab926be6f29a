// Exit statuses and signal names, as the shell and tini report them.

import { constants } from 'node:os';

export interface ExitStatus {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  /** Signal name (e.g. 'SIGTERM'), or null when it exited. */
  signal: NodeJS.Signals | null;
}

/** glibc's SIGRTMIN (the kernel's 32 and 33 are NPTL's own). */
const RTMIN = 34;
const byNumber = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(constants.signals)) {
  // SIGIOT/SIGABRT and SIGPOLL/SIGIO share numbers; the first listed is the usual name.
  if (!byNumber.has(num)) byNumber.set(num, name as NodeJS.Signals);
}

export function signalName(num: number): NodeJS.Signals | null {
  return byNumber.get(num) ?? null;
}

export function signalNumber(name: string): number | undefined {
  const n = (constants.signals as Record<string, number | undefined>)[name];
  if (n !== undefined) return n;
  const rt = /^SIGRTMIN\+(\d+)$/.exec(name);
  return rt ? RTMIN + Number(rt[1]) : undefined;
}

/** Accepts 'SIGTERM', 'TERM', 'term' or '15'; returns the canonical name or undefined. */
export function parseSignal(input: string): NodeJS.Signals | undefined {
  const s = input.trim();
  if (/^\d+$/.test(s)) return signalName(Number(s)) ?? undefined;
  const up = s.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  return (constants.signals as Record<string, number | undefined>)[name] === undefined ? undefined : (name as NodeJS.Signals);
}

/** The shell's convention: the code, or 128 + the signal's number. */
export function shellCode(status: ExitStatus): number {
  if (status.signal !== null) return 128 + (signalNumber(status.signal) ?? 0);
  return status.code ?? 0;
}

export function fromNative(code: number, signal: number): ExitStatus {
  return code >= 0 ? { code, signal: null } : { code: null, signal: signalName(signal) ?? rtName(signal) };
}

/**
 * A signal Node has no name for (the real-time ones, 34..64 on Linux): `SIGRTMIN+k` as
 * procps and the shell's `kill -l` write it, so 128 + its number is still the exit code.
 */
function rtName(num: number): NodeJS.Signals {
  return `SIGRTMIN+${num - RTMIN}` as NodeJS.Signals;
}

/** The errno's name (ENOENT, EADDRINUSE, ...), for messages. */
export function errnoName(errno: number): string {
  for (const [name, num] of Object.entries(constants.errno)) if (num === errno) return name;
  return `errno ${errno}`;
}
