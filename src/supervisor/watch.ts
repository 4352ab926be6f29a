// What watches a running worker for the supervisor: its readiness and heartbeat
// (readiness.ts), the hang dump before a watchdog stop, and sticky CUDA errors in its
// output (SPEC §3, §9). It reports to the lifecycle through the host's dispatch; a report
// about a process that is no longer the slot's current one is dropped.

import type { Logger } from '../logs/logger.js';
import type { Stats } from '../metrics/stats.js';
import type { Signaller } from '../process/groups.js';
import { workerPort } from './env.js';
import { pidOf, type WorkerEvent } from './lifecycle.js';
import { WorkerMonitor } from './readiness.js';
import type { Slot } from './slot.js';

/** How long a hang dump may take (SPEC §9), and the quiet that ends it sooner. */
export const DUMP_WAIT_MS = 2000;
const DUMP_QUIET_MS = 300;
const DUMP_POLL_MS = 50;

export interface WatchHost {
  log: Logger;
  stats: Stats;
  signaller: Signaller;
  dispatch(slot: Slot, event: WorkerEvent): void;
}

/** Starts watching the slot's new process `pid`, spawned at `at`. */
export function watchWorker(host: WatchHost, slot: Slot, pid: number, at: number): void {
  const { pool, index } = slot;
  const name = `${pool.name}.${index}`;
  const who = { pool: pool.name, worker: index, pid };
  const current = (): boolean => pidOf(slot.w.state) === pid;
  const live = (): boolean => current() && (slot.w.state.kind === 'starting' || slot.w.state.kind === 'ready');
  const stop = (reason: 'startup_timeout' | 'watchdog' | 'cuda_error'): void => {
    host.dispatch(slot, { type: 'stop', reason, at: Date.now() });
  };

  slot.monitor = new WorkerMonitor(
    { ready: pool.ready, readyTimeoutMs: pool.readyTimeoutMs, watchdogMs: pool.watchdogMs, port: workerPort(pool, index), index },
    {
      ready: () => {
        if (!current() || slot.w.state.kind !== 'starting') return;
        host.dispatch(slot, { type: 'ready', at: Date.now() });
        host.stats.onStartup(pool.name, (Date.now() - at) / 1000);
        host.log.info({ event: 'ready', ...who, startup_ms: Date.now() - at }, `${name} ready`);
      },
      fail: (reason, detail, trigger) => {
        if (!current()) return;
        const sig = pool.watchdogSignal;
        if (reason === 'watchdog' && trigger !== true && sig !== null && slot.output) {
          host.log.warn({ event: 'restart', ...who, reason, dump_signal: sig }, `${name}: ${detail}; sending ${sig} for a stack dump, then restarting`);
          dumpThenStop(host, slot, pid, sig, live, () => {
            stop('watchdog');
          });
          return;
        }
        host.log.warn({ event: 'restart', ...who, reason }, `${name}: ${detail}; restarting`);
        stop(reason);
      },
    },
  );
  slot.monitor.start();

  if (slot.output) {
    slot.output.onFault = (line) => {
      if (!live()) return;
      if (pool.onCudaError === 'ignore') {
        host.log.warn({ event: 'cuda_error', ...who, line, action: 'ignore' }, `${name}: sticky CUDA error (kept running: on_cuda_error is ignore): ${line}`);
        return;
      }
      host.log.warn({ event: 'restart', ...who, reason: 'cuda_error', line }, `${name}: sticky CUDA error, the worker is no longer ready; restarting: ${line}`);
      slot.monitor?.stop();
      stop('cuda_error');
    };
  }
}

/**
 * Sends the dump signal to the worker's group and keeps its output (output.startDump), then
 * stops it after DUMP_WAIT_MS, or once it has written something and been quiet for
 * DUMP_QUIET_MS. The poll lives in slot.kill, so a stop or corral's exit clears it.
 */
function dumpThenStop(host: WatchHost, slot: Slot, pid: number, sig: NodeJS.Signals, live: () => boolean, stop: () => void): void {
  const output = slot.output;
  output?.startDump();
  // A worker without a handler for the signal dies of it: that is still the watchdog's stop.
  slot.decided = 'watchdog';
  host.signaller.group(pid, sig);
  const started = Date.now();
  let seen = 0;
  let changedAt = started;
  clearTimeout(slot.kill);
  const poll = setInterval(() => {
    if (!live()) {
      clearInterval(poll);
      return;
    }
    const n = output?.dumpLines()?.length ?? 0;
    const now = Date.now();
    if (n !== seen) {
      seen = n;
      changedAt = now;
    }
    if (now - started >= DUMP_WAIT_MS || (seen > 0 && now - changedAt >= DUMP_QUIET_MS)) {
      clearInterval(poll);
      stop();
    }
  }, DUMP_POLL_MS);
  slot.kill = poll;
}
