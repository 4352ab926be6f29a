// The one module that loads the native addon (src/native/*.c, registered in corral.c).
// Everything else imports the typed interface from here.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CorralError } from '../errors.js';

export interface NativeSpawnOptions {
  file: string;
  argv: readonly string[];
  env: readonly string[];
  cwd?: string;
  /** fds to install as 0, 1, 2 in the child; -1 inherits corral's. */
  stdio?: readonly [number, number, number];
  /** fd passed as 3, with LISTEN_PID=<the child's pid> appended to env. */
  listenFd?: number;
  /** setsid(): the worker leads its own session (non-interactive). */
  newSession: boolean;
  /** Own group in corral's session, made the terminal's foreground group. */
  foreground: boolean;
  uid?: number;
  gid?: number;
  groups?: readonly number[];
}

/** pid > 0 on success; else `stage` (a value of Addon.spawnStages) and `errno` say what failed. */
export interface NativeSpawnResult {
  pid: number;
  stage: number;
  errno: number;
}

/** The steps of a spawn that can fail (spawn.c's table; a unit test keeps the two in step). */
export type SpawnStageName = 'exec' | 'chdir' | 'setgroups' | 'setgid' | 'setuid' | 'dup' | 'tty' | 'setsid' | 'fork';

export interface Addon {
  /** Marks a pid that libuv or node-pty waits for: reap() never touches it. */
  own(pid: number): void;
  disown(pid: number): void;
  setSubreaper(): boolean;
  /** Reaps every waitable child not owned; flat [pid, code, signal, ...], code -1 if signalled. */
  reap(): number[];
  spawn(opts: NativeSpawnOptions): NativeSpawnResult;
  pgroupAlive(pgid: number): boolean;
  /** Gives the terminal on fd back to corral's own process group. */
  foreground(fd: number): boolean;
  /** fd is a terminal and corral's group is its foreground group. */
  ownsTerminal(fd: number): boolean;
  ignoreTtySignals(): boolean;
  /**
   * Binds the sd_notify datagram socket (a path, or abstract when it starts with '@') and
   * calls onMessages with [pid, text, pid, text, ...] whenever datagrams arrive.
   * Returns 0, or an errno when the socket cannot be bound. Once per process.
   */
  notifyOpen(address: string, onMessages: (batch: (number | string)[]) => void): number;
  /**
   * The log fast path: copies each plain line of src[start, end) to dst at dstOff as
   * prefix + line + suffix, stopping at the first line that is not plain (see logfast.c), has
   * no newline yet, or does not fit. res: [stopped at, lines, new dstOff, 1 if dst was full].
   */
  /** Sets the phrases findPhrase looks for (find.c): 1 to 32, each 2 to 256 bytes. */
  readonly setPhrases: (phrases: readonly Uint8Array[]) => void;
  /** The offset of the first phrase in src[start, end), or -1 (Wu-Manber, one pass). */
  readonly findPhrase: (src: Uint8Array, start: number, end: number) => number;
  readonly frameLines: (src: Uint8Array, start: number, end: number, dst: Uint8Array, dstOff: number, prefix: Uint8Array, suffix: Uint8Array, maxPart: number, res: Uint32Array) => void;
  /** One sd_notify datagram to address (path or '@abstract'), never blocking: 0 or an errno. */
  notifySend(address: string, message: string): number;
  /** Grows the pipe on fd to at least bytes (never shrinks it): its capacity, 0 if not a pipe, or -errno. */
  growPipe(fd: number, bytes: number): number;
  /** [read, write] of a new close-on-exec pipe; both negative (-errno) on failure. */
  pipe(): [number, number];
  /** A blocking, close-on-exec listening TCP socket: fd, or -errno. */
  listenSocket(host: string, port: number, backlog: number): number;
  /**
   * Connects to host:port, sends request, reads until the server closes, all within
   * timeoutMs (blocking): the answer, or why not as a string (`connect ECONNREFUSED 127.0.0.1:1`).
   */
  httpExchange(host: string, port: number, request: string, timeoutMs: number): Buffer | string;
  /** spawn()'s stage codes by name, as spawn.c defines them (frozen). */
  readonly spawnStages: Readonly<Record<SpawnStageName, number>>;
  /**
   * The Python traceback header lines that frameLines leaves to the framer (logfast.c,
   * frozen); src/logs/traceback.ts keeps its own copies, checked against these by a test.
   */
  readonly tracebackHeaders: Readonly<{ header: string; groupHeader: string }>;
}

let addon: Addon | undefined;

export function native(): Addon {
  if (addon) return addon;
  const here = dirname(fileURLToPath(import.meta.url));
  // Bundled as dist/corral.js, or compiled as dist/native/index.js: <root>/build/Release.
  const tried = [join(here, '..', 'build', 'Release', 'corral.node'), join(here, '..', '..', 'build', 'Release', 'corral.node')];
  const require = createRequire(import.meta.url);
  const errors: string[] = [];
  for (const path of tried) {
    if (!existsSync(path)) {
      errors.push(`${path} (missing)`);
      continue;
    }
    try {
      addon = require(path) as Addon;
      return addon;
    } catch (err) {
      errors.push(`${path} (${(err as Error).message})`);
    }
  }
  throw new CorralError('ADDON', `cannot load the native addon; tried ${errors.join(', ')}`);
}
