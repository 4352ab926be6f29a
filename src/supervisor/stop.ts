// Carries out the shutdown machine's effects (shutdown.ts) and feeds it what it observes
// while corral stops: time, the stopping pool's groups gone, the tree empty, the last exit
// records out. Polled every few ms and after every reaping pass, because members of a
// worker's group that are not corral's children send it no SIGCHLD.

import type { Logger } from '../logs/logger.js';
import type { PoolSpec } from '../model.js';
import type { Signaller } from '../process/groups.js';
import { pidOf } from './lifecycle.js';
import { initialShutdown, nextShutdown, type Shutdown, type ShutdownEffect, type ShutdownEvent } from './shutdown.js';
import { liveGroups, type Slot } from './slot.js';

/** What the stop needs of the supervisor. */
export interface StopHost {
  slots: readonly Slot[];
  pools(): readonly PoolSpec[];
  /** Stops (reason shutdown) every worker of the pool, or of every pool. */
  stopWorkers(pool: PoolSpec | null): void;
  /** Some exit is not reported yet (a live process, or output still draining). */
  exitsPending(): boolean;
  reap(): void;
  finish(): void;
}

export interface StopOptions {
  graceMs: number;
  drainDelayMs: number;
  killWaitMs: number;
  signaller: Signaller;
  descendants: () => number[];
  log: Logger;
}

const POLL_MS = 10;

export class Stopper {
  state: Shutdown = initialShutdown();
  private poller: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: StopHost,
    private readonly o: StopOptions,
  ) {}

  get running(): boolean {
    return this.state.phase.kind === 'running';
  }

  send(e: ShutdownEvent): void {
    const { graceMs, drainDelayMs, killWaitMs } = this.o;
    const [state, effects] = nextShutdown(this.state, e, { pools: this.host.pools().length, graceMs, drainDelayMs, killWaitMs });
    this.state = state;
    for (const fx of effects) this.apply(fx);
    // An effect may have sent an event of its own (a worker's final exit): look at the latest phase.
    const active = this.state.phase.kind !== 'running' && this.state.phase.kind !== 'done';
    if (active && !this.poller) this.poller = setInterval(() => { this.poll(true); }, POLL_MS);
    if (!active) clearInterval(this.poller);
  }

  /** Turns what is observed into events; `reap` first runs a reaping pass. */
  poll(reap: boolean): void {
    if (this.state.phase.kind === 'running' || this.state.phase.kind === 'done') return;
    if (reap) this.host.reap();
    for (let phase = this.state.phase; ; phase = this.state.phase) {
      const at = Date.now();
      if (phase.kind === 'stopping') {
        const pool = this.host.pools()[phase.pool];
        if (liveGroups(this.host.slots.filter((s) => s.pool === pool), this.o.signaller).length === 0) this.send({ type: 'pool_empty', at });
      } else if (phase.kind === 'sweeping' && this.treeEmpty()) {
        this.send({ type: 'tree_empty', at });
      } else if (phase.kind === 'settling' && this.treeEmpty() && !this.host.exitsPending()) {
        this.send({ type: 'settled', at });
      }
      if (this.state.phase === phase) break;
    }
    this.send({ type: 'tick', at: Date.now() });
  }

  private treeEmpty(): boolean {
    return liveGroups(this.host.slots, this.o.signaller).length === 0 && this.o.descendants().length === 0;
  }

  private apply(fx: ShutdownEffect): void {
    const { log, signaller, graceMs } = this.o;
    const reason = this.state.cause;
    switch (fx.type) {
      case 'drain':
        log.info({ event: 'stop', reason, drain_delay_ms: fx.ms }, `draining: readiness is 503; workers are signalled in ${fx.ms} ms`);
        return;
      case 'stop_pool':
        if (fx.first) log.info({ event: 'stop', reason, grace_ms: graceMs }, 'stopping');
        this.host.stopWorkers(this.host.pools()[fx.pool] ?? null);
        return;
      case 'term_strays': {
        const strays = this.o.descendants();
        if (strays.length > 0) log.info({ event: 'stop', strays: strays.length }, `stopping ${strays.length} leftover process(es)`);
        for (const pid of strays) signaller.pid(pid, 'SIGTERM');
        return;
      }
      case 'kill_all': {
        // Every worker is marked stopped first, so that none is restarted once killed.
        this.host.stopWorkers(null);
        const groups = liveGroups(this.host.slots, signaller);
        const strays = this.o.descendants();
        if (fx.why === 'second_signal') log.warn({ event: 'stop', action: 'kill' }, 'second stop signal: killing every worker group now');
        else log.warn({ event: 'stop', groups: groups.length, strays: strays.length, grace_ms: graceMs }, 'grace period over: sending SIGKILL');
        for (const s of this.host.slots) s.killSent = true;
        for (const g of groups) signaller.group(g, 'SIGKILL');
        for (const pid of strays) signaller.pid(pid, 'SIGKILL');
        return;
      }
      case 'progress': {
        const pool = fx.pool === null ? null : this.host.pools()[fx.pool];
        const running = this.host.slots
          .filter((s) => (pool === null || s.pool === pool) && s.groups.size > 0)
          .map((s) => ({ pool: s.pool.name, worker: s.index, pid: pidOf(s.w.state) }));
        log.info({ event: 'stop', elapsed_ms: fx.elapsedMs, running }, `still running: ${running.length} worker group(s)`);
        return;
      }
      case 'finish':
        this.host.finish();
        return;
    }
  }
}
