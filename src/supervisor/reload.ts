// SIGHUP with a config file (SPEC §3, §6): which re-read pools may replace the running ones.
// Settings of a pool take effect as its workers roll; adding or removing pools, or changing
// a worker count, needs a restart of corral, so such a file is rejected and everything
// stays as it is. Pure.

import type { Logger } from '../logs/logger.js';
import type { PoolSpec } from '../model.js';

export type ReloadPlan =
  | { ok: true; pools: readonly PoolSpec[] }
  | { ok: false; message: string; fields: Record<string, string> };

const shape = (ps: readonly PoolSpec[]): string => ps.map((p) => `${p.name}×${p.workers}`).join(', ');

/** `next` null: no file to re-read, the running pools roll as they are. */
export function planReload(running: readonly PoolSpec[], next: readonly PoolSpec[] | null): ReloadPlan {
  if (next === null) return { ok: true, pools: running };
  if (shape(next) !== shape(running)) {
    return {
      ok: false,
      message: 'SIGHUP: the pools or their worker counts changed; that needs a restart of corral, nothing changed',
      fields: { running: shape(running), file: shape(next) },
    };
  }
  return { ok: true, pools: next };
}

/**
 * Re-reads the config (`reload` returns the pools the file now describes, null without a
 * file, or throws when it no longer validates) and logs what came of it: the pools to roll
 * onto, or null when nothing changes.
 */
export function reloadPools(running: readonly PoolSpec[], reload: (() => readonly PoolSpec[] | null) | undefined, log: Logger): readonly PoolSpec[] | null {
  let plan: ReloadPlan;
  try {
    plan = planReload(running, reload?.() ?? null);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error({ event: 'config', action: 'rejected' }, `SIGHUP: the config no longer validates, nothing changed: ${message}`);
    return null;
  }
  if (!plan.ok) {
    log.error({ event: 'config', action: 'rejected', ...plan.fields }, plan.message);
    return null;
  }
  if (plan.pools !== running) log.info({ event: 'config', action: 'applied' }, 'SIGHUP: config re-read; workers roll onto it');
  return plan.pools;
}
