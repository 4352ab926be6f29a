// Exit statuses and signal names, as the shell and tini report them.

import { constants } from 'node:os';

export interface ExitStatus {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  /** Signal name (e.g. 'SIGTERM'), or null when it exited. */
  signal: NodeJS.Signals | null;
}

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
  return n;
}

/** Accepts 'SIGTERM', 'TERM', 'term' or '15'; returns the canonical name or undefined. */
export function parseSignal(input: string): NodeJS.Signals | undefined {
  const s = input.trim();
  if (/^\d+$/.test(s)) return signalName(Number(s)) ?? undefined;
  const up = s.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  return signalNumber(name) === undefined ? undefined : (name as NodeJS.Signals);
}

/** The shell's convention: the code, or 128 + the signal's number. */
export function shellCode(status: ExitStatus): number {
  if (status.signal !== null) return 128 + (signalNumber(status.signal) ?? 0);
  return status.code ?? 0;
}

export function fromNative(code: number, signal: number): ExitStatus {
  return code >= 0 ? { code, signal: null } : { code: null, signal: signalName(signal) ?? 'SIGKILL' };
}

/** The errno's name (ENOENT, EADDRINUSE, ...), for messages. */
export function errnoName(errno: number): string {
  for (const [name, num] of Object.entries(constants.errno)) if (num === errno) return name;
  return `errno ${errno}`;
}
