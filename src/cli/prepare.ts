// From a validated Config to what the supervisor runs: GPUs planned, users looked up,
// commands found on PATH, the supervisor-held sockets bound. Everything that can fail
// because of the user's input fails here, before any worker is spawned (exit 2).

import type { Config, PoolConfig } from '../config/types.js';
import { MAX_WORKERS } from '../config/values.js';
import { CorralError } from '../errors.js';
import { planGpus } from '../gpu/assign.js';
import { discoverGpus, type Gpu } from '../gpu/discover.js';
import type { Addon } from '../native/index.js';
import { resolveCommand } from '../process/spawn.js';
import { resolveUser } from '../process/user.js';
import { errnoName } from '../process/status.js';
import { processRoom } from '../process/limits.js';
import { ownContainer } from '../container/cgroup.js';
import { threadsPerWorker, threadVars } from '../container/threads.js';
import type { PoolSpec } from '../model.js';

/**
 * Whether a pool asks for GPU placement. With `gpus` left at its default and a fixed
 * worker count of 1 (the tini-style `corral -- python serve.py`), corral leaves
 * CUDA_VISIBLE_DEVICES alone: a single tensor-parallel server must keep seeing every GPU.
 */
export function wantsGpus(pool: PoolConfig): boolean {
  if (pool.gpus === 'none') return false;
  if (pool.workers === 'gpu' || pool.gpus !== 'auto') return true;
  return pool.workers > 1;
}

export interface Prepared {
  pools: PoolSpec[];
  gpus: Gpu[];
  /** `host:port` -> fd of every listening socket the pools use. */
  sockets: Map<string, number>;
  /** Threads per worker of each pool, in order (null: none set). */
  threads: (number | null)[];
}

/**
 * With `addon` null (check-config), no socket is bound and no GPU is looked for: a config
 * is often checked where it is built, on a machine without the GPUs it will run on.
 * `held` maps `host:port` to the sockets corral already holds: they are reused (the socket
 * lives as long as the container) and, when given (SIGHUP), no new address is bound.
 */
export function preparePools(config: Config, addon: Addon | null, env: NodeJS.ProcessEnv, held?: Map<string, number>): Prepared {
  const checkOnly = addon === null;
  const gpus = !checkOnly && config.pools.some(wantsGpus) ? discoverGpus(env) : [];
  const heldOut = new Map<string, number>();
  let total = 0;
  const pools = config.pools.map((pool): PoolSpec => {
    const poolEnv: Record<string, string> = { ...pool.env };
    let workers: number;
    let devices: (string | null)[] | undefined;
    if (checkOnly) {
      workers = pool.workers === 'gpu' ? 0 : pool.workers;
    } else if (wantsGpus(pool)) {
      const plan = planGpus(pool, gpus, env.CUDA_VISIBLE_DEVICES);
      workers = plan.workers;
      devices = plan.devices;
      // nvidia-smi numbers GPUs in PCI bus order; CUDA, by default, fastest first.
      if (devices.some((d) => d !== null && /^\d+$/.test(d)) && env.CUDA_DEVICE_ORDER === undefined && poolEnv.CUDA_DEVICE_ORDER === undefined) {
        poolEnv.CUDA_DEVICE_ORDER = 'PCI_BUS_ID';
      }
    } else {
      if (pool.workers === 'gpu') throw new CorralError('GPU', `pool ${pool.name}: --workers gpu needs GPUs, but --gpus is none`);
      workers = pool.workers;
    }
    // The fixed-count case is checked with the config; a count from the GPUs found only now.
    if (!checkOnly && pool.minReady > workers) {
      throw new CorralError('BAD_VALUE', `pool ${pool.name}: min_ready ${pool.minReady} is more than its ${workers} worker${workers === 1 ? '' : 's'} (one per GPU found × workers_per_gpu)`, {
        hint: 'lower min_ready, or run more workers per GPU',
      });
    }
    total += workers;
    if (total > MAX_WORKERS) {
      throw new CorralError('BAD_VALUE', `${total} workers in all is more than the ${MAX_WORKERS} corral runs`, { hint: 'run fewer workers, or split them over several containers' });
    }
    const [name] = pool.command;
    if (name !== undefined) resolveCommand(name, { ...env, ...poolEnv });
    let user = pool.user === null ? undefined : resolveUser(pool.user);
    // Without root, corral cannot switch users. The user it already is (an image that sets
    // CORRAL_USER=serve, run as serve's uid under runAsNonRoot) needs no switch.
    const euid = process.geteuid?.() ?? 0;
    if (user && euid !== 0 && !checkOnly) {
      if (user.uid !== euid) {
        throw new CorralError('BAD_VALUE', `pool ${pool.name}: --user ${pool.user}: corral runs as uid ${euid}, not root, so it cannot run workers as another user`, {
          hint: `drop --user (the workers run as uid ${euid} already), or start corral as root`,
        });
      }
      user = undefined;
    }
    if (pool.pty && pool.listen !== null) {
      throw new CorralError('BAD_VALUE', `pool ${pool.name}: pty and listen cannot be combined (a pseudo-terminal worker cannot be handed fd 3)`, {
        hint: 'drop pty, or use port_base and let each worker bind its own port',
      });
    }
    let listenFd: number | undefined;
    if (pool.listen !== null && addon !== null) {
      const host = pool.listen.host === '' ? '0.0.0.0' : pool.listen.host;
      const key = `${host}:${pool.listen.port}`;
      const kept = held?.get(key);
      if (held && kept === undefined) {
        throw new CorralError('BAD_VALUE', `pool ${pool.name}: listen changed to ${key}; a new listening address needs a restart of corral`);
      }
      const fd = kept ?? addon.listenSocket(host, pool.listen.port, 1024);
      if (fd < 0) {
        throw new CorralError('BAD_VALUE', `pool ${pool.name}: cannot listen on ${host}:${pool.listen.port} (${errnoName(-fd)})`, {
          hint: 'pick a free port, or a local address of this container',
        });
      }
      listenFd = fd;
      heldOut.set(key, fd);
    }
    return {
      name: pool.name,
      command: pool.command,
      workers,
      restart: pool.restart,
      stopSignal: pool.stopSignal,
      ready: pool.ready,
      readyTimeoutMs: pool.readyTimeoutMs,
      watchdogMs: pool.watchdogMs,
      watchdogSignal: pool.watchdogSignal,
      onCudaError: pool.onCudaError,
      watch: pool.watch,
      watchIgnore: pool.watchIgnore,
      portBase: pool.portBase,
      minReady: pool.minReady,
      maxRssBytes: pool.maxRssBytes,
      pty: pool.pty,
      env: poolEnv,
      ...(config.dropIn && { dropIn: true as const }),
      ...(pool.cwd !== null && { cwd: pool.cwd }),
      ...(devices !== undefined && { devices }),
      ...(listenFd !== undefined && { listenFd }),
      ...(user !== undefined && { user }),
    };
  });
  if (!checkOnly) checkProcessRoom(total);
  const threads = planThreads(config, pools, total, checkOnly);
  return { pools: pools.map((p, i) => ({ ...p, env: { ...p.env, ...threadVars(threads[i] ?? null, env, p.env ?? {}) } })), gpus, sockets: heldOut, threads };
}

/**
 * Threads per worker of each pool (null: none set). `auto` divides the container's CPU limit
 * by the workers of all pools; in check-config, where a pool of `workers = "gpu"` has no count
 * yet, `auto` is then unknown (null).
 */
function planThreads(config: Config, pools: readonly PoolSpec[], total: number, checkOnly: boolean): (number | null)[] {
  const unknown = checkOnly && config.pools.some((p) => p.workers === 'gpu');
  const cpuLimit = config.pools.some((p) => p.threads === 'auto') && !unknown ? ownContainer().cpuLimitCores : null;
  return config.pools.map((p, i) => (pools[i] === undefined ? null : threadsPerWorker(p.threads, cpuLimit, total)));
}

/** Workers that cannot all exist would fail their starts one by one with EAGAIN: say so now. */
function checkProcessRoom(workers: number): void {
  const room = processRoom();
  if (room === null || workers + room.used <= room.limit) return;
  throw new CorralError('BAD_VALUE', `${workers} worker${workers === 1 ? '' : 's'} cannot start: ${room.what} is ${room.limit} and corral itself uses ${room.used}`, { hint: room.hint });
}
