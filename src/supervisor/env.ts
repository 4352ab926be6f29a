// The environment of one worker (SPEC §3): corral's own, the pool's user and env, then
// what corral sets: CORRAL_POOL/WORKER/POOL_SIZE, PORT, CUDA_VISIBLE_DEVICES,
// NOTIFY_SOCKET, WATCHDOG_USEC and the socket-activation variables. Pure.

import type { PoolSpec } from '../model.js';

/** Worker i's PORT with --port-base, else null. */
export function workerPort(pool: PoolSpec, index: number): number | null {
  return pool.portBase === null ? null : pool.portBase + index;
}

export function workerEnv(base: NodeJS.ProcessEnv, pool: PoolSpec, index: number, notifySocket: string): NodeJS.ProcessEnv {
  // A drop-in for tini adds none of corral's names, and leaves NOTIFY_SOCKET as it found it
  // (a service manager's, or none) unless readiness or the watchdog needs corral's.
  const notify = pool.dropIn !== true || pool.ready.kind === 'notify' || pool.watchdogMs !== null;
  const env: NodeJS.ProcessEnv = {
    ...base,
    ...pool.user?.env,
    ...pool.env,
    ...(pool.dropIn !== true && { CORRAL_POOL: pool.name, CORRAL_WORKER: String(index), CORRAL_POOL_SIZE: String(pool.workers) }),
    ...(notify && { NOTIFY_SOCKET: notifySocket }),
  };
  const port = workerPort(pool, index);
  if (port !== null) env.PORT = String(port);
  const device = pool.devices?.[index];
  if (device !== undefined && device !== null) env.CUDA_VISIBLE_DEVICES = device;
  if (pool.watchdogMs !== null) env.WATCHDOG_USEC = String(pool.watchdogMs * 1000);
  else delete env.WATCHDOG_USEC;
  if (pool.listenFd === undefined) {
    // corral's own socket activation (if any) is not the workers'.
    delete env.LISTEN_FDS;
    delete env.LISTEN_PID;
    delete env.LISTEN_FDNAMES;
  } else {
    env.LISTEN_FDS = '1';
    env.LISTEN_FDNAMES = pool.name;
    delete env.LISTEN_PID; // the addon appends the worker's own pid
  }
  return env;
}
