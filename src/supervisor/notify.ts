// The sd_notify protocol (sd_notify(3)): workers send unix datagrams of newline-separated
// KEY=VALUE to $NOTIFY_SOCKET. The sender's pid comes with each datagram (SO_PASSCRED),
// so a message from a grandchild is attributed to the worker whose process group (or
// ancestry) it belongs to.

import { statFields } from '../process/tree.js';
import type { Logger } from '../logs/logger.js';
import type { Stats } from '../metrics/stats.js';
import type { Addon } from '../native/index.js';
import type { Slot } from './slot.js';

export interface NotifyMessage {
  ready?: true;
  status?: string;
  watchdog?: true;
  /** WATCHDOG=trigger: the worker asks to be restarted (systemd's meaning). */
  trigger?: true;
  stopping?: true;
  errno?: number;
  /** X_CORRAL_BATCH=<size> <seconds>: one inference batch. */
  batch?: { size: number; seconds: number };
  /** X_CORRAL_QUEUE=<n>: requests waiting in the worker (SPEC §10). */
  queue?: number;
}

/** Parses one datagram; unknown keys are ignored, malformed values dropped. */
export function parseNotify(text: string): { msg: NotifyMessage; malformed: string[] } {
  const msg: NotifyMessage = {};
  const malformed: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      malformed.push(line);
      continue;
    }
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    switch (key) {
      case 'READY':
        if (value === '1') msg.ready = true;
        break;
      case 'STATUS':
        msg.status = value;
        break;
      case 'WATCHDOG':
        if (value === '1') msg.watchdog = true;
        else if (value === 'trigger') msg.trigger = true;
        break;
      case 'STOPPING':
        if (value === '1') msg.stopping = true;
        break;
      case 'ERRNO': {
        const n = Number(value);
        if (Number.isInteger(n) && n >= 0) msg.errno = n;
        else malformed.push(line);
        break;
      }
      case 'X_CORRAL_QUEUE':
        if (/^\d{1,15}$/.test(value)) msg.queue = Number(value);
        else malformed.push(line);
        break;
      case 'X_CORRAL_BATCH': {
        const m = /^\s*(\d+)\s+(\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/.exec(value);
        if (m) msg.batch = { size: Number(m[1]), seconds: Number(m[2]) };
        else malformed.push(line);
        break;
      }
      default:
        break; // MAINPID, RELOADING, FDSTORE, ... and custom keys: not used by corral
    }
  }
  return { msg, malformed };
}

/**
 * The worker a sender belongs to: its process group if that is a worker's, else the
 * nearest ancestor that is a worker (a grandchild that called setsid()).
 */
export function attribute(pid: number, isWorker: (pid: number) => boolean): number | undefined {
  if (isWorker(pid)) return pid;
  const first = statFields(pid);
  if (!first) return undefined;
  const pgid = Number(first[2]);
  if (isWorker(pgid)) return pgid;
  let ppid = Number(first[1]);
  for (let hops = 0; hops < 64 && ppid > 1; hops++) {
    if (isWorker(ppid)) return ppid;
    const f = statFields(ppid);
    if (!f) return undefined;
    ppid = Number(f[1]);
  }
  return undefined;
}

/**
 * Twelve hex digits that keep two corrals sharing a network namespace (two containers of a
 * pod, each its own PID 1) apart; not a secret: senders are told apart by their credentials.
 */
function uniqueSuffix(): string {
  return Math.floor(Math.random() * 2 ** 48)
    .toString(16)
    .padStart(12, '0');
}

/**
 * Opens corral's receiver on an abstract address (no file, works on a read-only root);
 * returns the address, the value of NOTIFY_SOCKET for workers.
 */
export function openNotify(addon: Pick<Addon, 'notifyOpen'>, onMessage: (pid: number, text: string) => void): string {
  for (let attempt = 0; attempt < 5; attempt++) {
    const address = `@corral/${process.pid}/${uniqueSuffix()}`;
    const err = addon.notifyOpen(address, (batch) => {
      for (let i = 0; i + 1 < batch.length; i += 2) onMessage(batch[i] as number, batch[i + 1] as string);
    });
    if (err === 0) return address;
  }
  throw new Error('cannot bind the sd_notify socket');
}

/** What one worker's message changes: batch metrics, STATUS text, records, readiness and heartbeat. */
export function applyNotify(slot: Slot, msg: NotifyMessage, stats: Stats, log: Logger): void {
  const name = `${slot.pool.name}.${slot.index}`;
  const who = { event: 'notify', pool: slot.pool.name, worker: slot.index };
  if (msg.batch) stats.onBatch(slot.pool.name, msg.batch.size, msg.batch.seconds);
  if (msg.status !== undefined) slot.status = msg.status;
  if (msg.queue !== undefined) slot.queue = msg.queue;
  if (msg.stopping) log.info(who, `${name} is stopping`);
  if (msg.errno !== undefined) log.warn({ ...who, errno: msg.errno }, `${name} reported errno ${msg.errno}`);
  slot.monitor?.notify(msg);
}

/** One datagram from senderPid: to the worker it belongs to (see attribute()), or counted as malformed. */
export function routeNotify(byPid: ReadonlyMap<number, Slot>, senderPid: number, text: string, stats: Stats, log: Logger): void {
  const workerPid = attribute(senderPid, (p) => byPid.has(p));
  const slot = workerPid === undefined ? undefined : byPid.get(workerPid);
  const { msg, malformed } = parseNotify(text);
  if (!slot || malformed.length > 0) {
    stats.notifyMalformed++;
    log.debug({ event: 'notify', sender: senderPid, malformed, attributed: slot !== undefined }, 'ignored part of an sd_notify message');
  }
  if (slot) applyNotify(slot, msg, stats, log);
}
