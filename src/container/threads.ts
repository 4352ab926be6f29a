// Thread sizing (SPEC §10): PyTorch, NumPy and the BLAS libraries start one thread per host
// core; N workers in a container limited to C CPUs should each start about C ÷ N. torchrun
// sets OMP_NUM_THREADS=1 per process for this reason; corral sizes it from the container's
// real limit. Pure.

export type ThreadsSetting = 'auto' | 'off' | number;

export const THREAD_VARS = ['OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'] as const;

/** Threads per worker, or null to set nothing: N as given, or max(1, floor(cpu limit ÷ workers of all pools)). */
export function threadsPerWorker(setting: ThreadsSetting, cpuLimitCores: number | null, totalWorkers: number): number | null {
  if (setting === 'off') return null;
  if (typeof setting === 'number') return setting;
  if (cpuLimitCores === null || totalWorkers <= 0) return null;
  return Math.max(1, Math.floor(cpuLimitCores / totalWorkers));
}

/** The variables to add to a pool's env: each one that neither corral's env nor the pool's sets. */
export function threadVars(n: number | null, env: NodeJS.ProcessEnv, poolEnv: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  if (n === null) return out;
  for (const k of THREAD_VARS) if (env[k] === undefined && poolEnv[k] === undefined) out[k] = String(n);
  return out;
}
