// corral/worker: the worker's side of corral's protocol, for Node.js workers.
//
//   import { ready, heartbeat, batch, queue, status, stopping, listenHandle } from 'corral/worker';
//
// corral (like systemd) gives each worker NOTIFY_SOCKET, a unix datagram socket, and the
// worker sends newline-separated KEY=VALUE messages: READY=1, WATCHDOG=1, STATUS=text,
// STOPPING=1, WATCHDOG=trigger, X_CORRAL_BATCH=<size> <seconds> and X_CORRAL_QUEUE=<n>. Node
// has no unix datagram sockets, so the datagram goes out through corral's native addon, which
// the package already builds.
//
// Every function is a no-op returning false when NOTIFY_SOCKET is unset (running without
// corral), sends exactly one datagram, never blocks the event loop (a full receiver drops the
// message) and never throws: each kind of failure is reported once on stderr and the worker
// carries on.
//
// Hang dumps: under corral (NOTIFY_SOCKET set), importing this module turns on Node's
// diagnostic report on SIGQUIT, written to stderr: corral sends SIGQUIT (--watchdog-signal)
// to a worker whose heartbeat stopped, and the report's JavaScript stack lands in the exit
// record's `dump`. The report is taken from a V8 interrupt, so a busy loop is caught too.
import { errnoName } from '../process/status.js';
import { native } from '../native/index.js';

/** Failures already reported (each kind once, not once per message). */
const warned = new Set<string>();

function warn(text: string): void {
  if (warned.has(text)) return;
  warned.add(text);
  process.stderr.write(`corral/worker: ${text}\n`);
}

/** Sends one sd_notify datagram of raw `KEY=VALUE` lines (a NUL would end it there). */
export function notify(message: string): boolean {
  const address = process.env.NOTIFY_SOCKET;
  if (!address) return false;
  let errno: number;
  try {
    errno = native().notifySend(address, message);
  } catch (err) {
    warn(`cannot send to NOTIFY_SOCKET=${address}: ${(err as Error).message}`);
    return false;
  }
  if (errno !== 0) warn(`cannot send to NOTIFY_SOCKET=${address}: ${errnoName(errno)}`);
  return errno === 0;
}

/** Status text on one line (a newline would start a new KEY=VALUE; a NUL would end the datagram). */
const oneLine = (text: string): string => text.replace(/[\r\n\0]+/g, ' ');

/** The worker can serve: READY=1, optionally with a STATUS= line in the same datagram. */
export function ready(statusText?: string): boolean {
  return notify(statusText === undefined ? 'READY=1' : `READY=1\nSTATUS=${oneLine(statusText)}`);
}

const QUEUE_EVERY_MS = 50; // at most 20 X_CORRAL_QUEUE datagrams a second
let queueSentAt = 0;
let queuePending: number | undefined;
let queueTimer: NodeJS.Timeout | undefined;

function flushQueue(): boolean {
  queueTimer = undefined;
  const n = queuePending;
  queuePending = undefined;
  if (n === undefined) return false;
  queueSentAt = performance.now();
  return notify(`X_CORRAL_QUEUE=${n}`);
}

/**
 * Requests waiting in the worker now (corral_queue_depth, the metric to autoscale on). Call it
 * on every change: at most 20 datagrams a second go out, and the latest value always does.
 */
export function queue(n: number): boolean {
  if (!process.env.NOTIFY_SOCKET || !Number.isFinite(n)) return false;
  queuePending = Math.max(0, Math.trunc(n));
  const wait = queueSentAt + QUEUE_EVERY_MS - performance.now();
  if (wait <= 0) return flushQueue();
  queueTimer ??= setTimeout(flushQueue, wait).unref();
  return true;
}

/** WATCHDOG=trigger: the worker knows it is broken; corral restarts it at once (reason watchdog). */
export function trigger(): boolean {
  return notify('WATCHDOG=trigger');
}

/** WATCHDOG=1. Send it from the loop that does the work, so that a hung model stops it. */
export function heartbeat(): boolean {
  return notify('WATCHDOG=1');
}

/** One inference batch of `size` items that took `seconds` (corral_batch_size, corral_batch_duration_seconds). */
export function batch(size: number, seconds: number): boolean {
  if (!(size >= 1) || !Number.isFinite(seconds) || seconds < 0) return false; // corral would drop it
  return notify(`X_CORRAL_BATCH=${Math.trunc(size)} ${seconds.toFixed(6)}`);
}

/** Free text shown in corral's /status. */
export function status(text: string): boolean {
  return notify(`STATUS=${oneLine(text)}`);
}

/** The worker is shutting down on purpose. */
export function stopping(): boolean {
  return notify('STOPPING=1');
}

/**
 * The listening socket corral holds for this pool (`--listen`), passed as fd 3 with
 * LISTEN_FDS=1 and LISTEN_PID=<this pid>: a handle for `server.listen(handle)`. Undefined
 * when there is none (then bind a port of your own, e.g. from PORT).
 */
export function listenHandle(): { fd: number } | undefined {
  if (process.env.LISTEN_FDS !== '1' || process.env.LISTEN_PID !== String(process.pid)) return undefined;
  return { fd: 3 };
}

/** The heartbeat period corral expects (`--watchdog`, WATCHDOG_USEC) in milliseconds, if any. */
export function watchdogMs(): number | undefined {
  const usec = Number(process.env.WATCHDOG_USEC);
  return Number.isFinite(usec) && usec > 0 ? usec / 1000 : undefined;
}

if (process.env.NOTIFY_SOCKET && process.listenerCount('SIGQUIT') === 0) {
  try {
    process.report.signal = 'SIGQUIT';
    process.report.filename = 'stderr';
    process.report.reportOnSignal = true;
  } catch {
    // no diagnostic report in this runtime: no dump, nothing else changes
  }
}
