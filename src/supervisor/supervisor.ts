// The imperative shell around two pure machines: each worker's lifecycle (lifecycle.ts)
// and corral's own phase (shutdown.ts, run by stop.ts). It turns what happens (spawns,
// reaped exits, probe results, notify messages, signals) into their events and carries
// out the lifecycle's effects; the units beside it do the rest (env, launch, sampler,
// reload, rolling, view). What a second SIGTERM does is decided in shutdown.ts.

import { CorralError } from '../errors.js';
import type { Logger } from '../logs/logger.js';
import { Stats } from '../metrics/stats.js';
import type { PoolSpec, Snapshot } from '../model.js';
import { Reaper } from '../process/reaper.js';
import type { ExitStatus } from '../process/status.js';
import { descendants as procDescendants } from '../process/tree.js';
import { oomKills, ownContainer } from '../container/cgroup.js';
import { NOISE_SIGNALS, type HandledSignal } from '../signals/handlers.js';
import { workerEnv } from './env.js';
import { recordExit, recordSpawnFailure, seenAtExit, startWatching } from './exits.js';
import type { Launched } from './launch.js';
import { next, pidOf, type Effect, type WorkerEvent } from './lifecycle.js';
import { openNotify, routeNotify } from './notify.js';
import { reloadPools } from './reload.js';
import { Rolls } from './rolling.js';
import { Sampler } from './sampler.js';
import { exitCode, type StopCause } from './shutdown.js';
import { newSlot, type Slot } from './slot.js';
import { Stopper } from './stop.js';
import type { SupervisorOptions } from './options.js';
import { project } from './view.js';
import { watchWorker, type WatchHost } from './watch.js';
import { watchFiles } from './watchfiles.js';

/** How long to wait for SIGKILLed processes to vanish (a process in D state may never). */
const KILL_WAIT_MS = 2000;
/** How long an exit record waits for the worker's pipes to close. */
const EXIT_OUTPUT_WAIT_MS = 500;

export class Supervisor {
  readonly stats: Stats;
  private readonly slots: Slot[] = [];
  private readonly byPid = new Map<number, Slot>();
  private readonly reaper: Reaper;
  private readonly log: Logger;
  private readonly stopper: Stopper;
  private pools: readonly PoolSpec[];
  private readonly rolls: Rolls;
  private unwatch: (() => void) | undefined;
  private watching = '';
  /** Nesting of dispatch(): the rolling restart moves on once the outermost has finished. */
  private depth = 0;
  private notifyAddress = '';
  private readonly sampler: Sampler;
  private resolveDone: ((code: number) => void) | undefined;
  private readonly oomKills: () => number | null;
  private readonly watchHost: WatchHost;

  constructor(private readonly o: SupervisorOptions) {
    this.log = o.logger;
    this.stats = o.stats ?? new Stats();
    this.pools = o.pools;
    this.oomKills = o.oomKills ?? oomKills;
    this.watchHost = { log: this.log, stats: this.stats, signaller: o.signaller, dispatch: (slot, e) => { this.dispatch(slot, e); } };
    for (const pool of this.pools) for (let i = 0; i < pool.workers; i++) this.slots.push(newSlot(pool, i));
    this.rolls = new Rolls({
      state: (i) => this.slots[i]?.w.state ?? { kind: 'exited' },
      stop: (i) => {
        const slot = this.slots[i];
        if (slot) this.dispatch(slot, { type: 'stop', reason: 'rolling', at: Date.now() });
      },
      running: () => this.stopper.running,
    });
    this.reaper = new Reaper(o.addon, {
      onExit: (pid, status) => {
        this.onReaped(pid, status);
      },
      onOrphan: (pid, status) => {
        this.stats.zombiesReaped++;
        this.log.debug({ event: 'reaped', pid, code: status.code, signal: status.signal }, 'reaped an orphan');
      },
      onPass: () => {
        this.stopper.poll(false);
      },
    });
    const opts = { graceMs: o.graceMs, drainDelayMs: o.drainDelayMs ?? 0, killWaitMs: KILL_WAIT_MS, signaller: o.signaller, log: this.log };
    this.stopper = new Stopper(
      {
        slots: this.slots,
        pools: () => this.pools,
        stopWorkers: (pool) => {
          for (const s of this.slots) if (pool === null || s.pool === pool) this.dispatch(s, { type: 'stop', reason: 'shutdown', at: Date.now() });
        },
        exitsPending: () => this.byPid.size > 0 || this.slots.some((s) => s.w.state.kind === 'reaped'),
        reap: () => this.reaper.pass(),
        finish: () => {
          this.finish();
        },
      },
      { ...opts, descendants: o.descendants ?? procDescendants },
    );
    // --max-rss: recycled gracefully, reason max_rss (never while corral stops).
    this.sampler = new Sampler({
      slots: this.slots,
      stats: this.stats,
      log: this.log,
      recycle: () => this.stopper.running,
      overLimit: (slot) => {
        this.dispatch(slot, { type: 'stop', reason: 'max_rss', at: Date.now() });
      },
      ...(o.measure && { measure: o.measure }),
      container: () => { this.stats.container = (o.container ?? ownContainer)(); },
    });
  }

  /** What /readyz, /status and /metrics show. */
  snapshot(): Snapshot {
    const { cause } = this.stopper.state;
    return project(this.pools, this.slots, cause !== null, cause !== 'give_up');
  }

  /** Exactly one pool with one worker and restart `never`: exit like tini. */
  get initMode(): boolean {
    const [pool, more] = this.pools;
    return pool !== undefined && more === undefined && pool.workers === 1 && pool.restart === 'never';
  }

  /** Starts every pool in order; resolves with corral's exit code when all is over. */
  run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.resolveDone = resolve));
    this.reaper.start();
    this.notifyAddress = openNotify(this.o.addon, (pid, text) => {
      routeNotify(this.byPid, pid, text, this.stats, this.log);
    });
    for (const slot of this.slots) this.dispatch(slot, { type: 'start', at: Date.now() });
    this.sampler.start();
    this.watch();
    return done;
  }

  /** --watch (SPEC §11): a change restarts that pool's workers one at a time. Set again when a reload changes it. */
  private watch(): void {
    this.unwatch?.();
    this.watching = JSON.stringify(this.pools.map((p) => [p.name, p.watch, p.watchIgnore]));
    this.unwatch = watchFiles(this.pools, this.log, (pool) => { this.rolls.start(this.slots.flatMap((s, i) => (s.pool.name === pool ? [i] : []))); });
  }

  private dispatch(slot: Slot, event: WorkerEvent): void {
    this.depth++;
    try {
      const [w, effects] = next(slot.w, event, { restart: slot.pool.restart, random: this.o.random ?? Math.random });
      slot.w = w;
      for (const e of effects) this.apply(slot, e);
      if (slot.monitor && slot.w.state.kind !== 'starting' && slot.w.state.kind !== 'ready') {
        slot.monitor.stop();
        delete slot.monitor;
      }
    } finally {
      this.depth--;
    }
    if (this.depth === 0) this.rolls.step();
  }

  private apply(slot: Slot, e: Effect): void {
    const who = { pool: slot.pool.name, worker: slot.index };
    const later = (ms: number, event: () => WorkerEvent): NodeJS.Timeout => setTimeout(() => { this.dispatch(slot, event()); }, ms);
    switch (e.type) {
      case 'spawn':
        this.spawn(slot);
        break;
      case 'signal': {
        const sig = e.signal === 'stop' ? slot.pool.stopSignal : 'SIGKILL';
        if (sig === 'SIGKILL') slot.killSent = true;
        for (const pgid of slot.groups) this.o.signaller.group(pgid, sig);
        break;
      }
      case 'arm_kill':
        clearTimeout(slot.kill);
        slot.kill = later(this.o.graceMs, () => {
          this.log.warn({ event: 'stop', ...who, pid: pidOf(slot.w.state), grace_ms: this.o.graceMs }, 'grace period over: sending SIGKILL');
          return { type: 'kill_due', at: Date.now() };
        });
        break;
      case 'cancel_kill':
        clearTimeout(slot.kill);
        break;
      case 'schedule':
        clearTimeout(slot.backoff);
        slot.backoff = later(Math.max(0, e.at - Date.now()), () => ({ type: 'backoff_done', at: Date.now() }));
        break;
      case 'cancel_schedule':
        clearTimeout(slot.backoff);
        break;
      case 'restart':
        Stats.inc(this.stats.restarts, `${slot.pool.name}\0${slot.index}\0${e.reason}`);
        if (e.delayMs > 0) this.log.warn({ event: 'backoff', ...who, reason: e.reason, delay_ms: e.delayMs }, `restarting in ${e.delayMs} ms`);
        this.log.info({ event: 'restart', ...who, reason: e.reason, restarts: slot.w.restarts, delay_ms: e.delayMs }, `restart (${e.reason})`);
        break;
      case 'exit':
        recordExit(this.log, this.stats, slot, e);
        break;
      case 'final':
        if (this.slots.every((s) => s.w.state.kind === 'exited')) this.stopper.send({ type: 'all_final', at: Date.now() });
        break;
      case 'give_up':
        this.log.error({ event: 'give_up', ...who, why: e.why }, `pool ${slot.pool.name} gave up: ${e.why}`);
        this.stopper.send({ type: 'stop', cause: 'give_up', at: Date.now() });
        break;
    }
  }

  private spawn(slot: Slot): void {
    const at = Date.now();
    const { pool, index } = slot;
    const env = workerEnv(this.o.env ?? process.env, pool, index, this.notifyAddress);
    let launched: Launched;
    try {
      launched = this.o.launcher.launch({ pool, index, env, onExit: (pid, status) => { this.onReaped(pid, status); } });
    } catch (err) {
      const code = err instanceof CorralError ? err.exitCode : 1;
      recordSpawnFailure(this.log, this.stats, slot, code, err instanceof Error ? err.message : String(err));
      this.dispatch(slot, { type: 'spawn_failed', status: { code, signal: null }, at });
      return;
    }
    const { pid } = launched;
    if (!launched.waited) this.reaper.watch(pid);
    slot.output = launched.output;
    slot.status = null;
    slot.queue = null;
    startWatching(slot, this.oomKills);
    slot.groups.add(pid);
    this.byPid.set(pid, slot);
    this.log.info({ event: 'spawn', pool: pool.name, worker: index, pid, command: pool.command }, `spawned ${pool.name}.${index}`);
    this.dispatch(slot, { type: 'spawned', pid, at });
    watchWorker(this.watchHost, slot, pid, at);
  }

  /** The process is gone; its exit is complete once its output has drained (bounded: a grandchild may hold the pipes). */
  private onReaped(pid: number, status: ExitStatus): void {
    const slot = this.byPid.get(pid);
    if (!slot) return;
    this.byPid.delete(pid);
    if (this.o.interactive) this.o.addon.foreground(0);
    this.dispatch(slot, { type: 'reaped', status, at: Date.now() });
    const output = slot.output;
    const done = (): void => {
      clearTimeout(timer);
      const s = slot.w.state;
      if (s.kind === 'reaped' && s.pid === pid) this.dispatch(slot, { type: 'output_done', at: Date.now(), seen: seenAtExit(slot, s.status, this.oomKills) });
      this.stopper.poll(false);
    };
    const timer = output ? setTimeout(done, EXIT_OUTPUT_WAIT_MS) : undefined;
    if (output) void output.done.then(done);
    else done();
  }

  handleSignal(sig: HandledSignal): void {
    const running = this.stopper.running;
    if (sig === 'SIGTERM' || sig === 'SIGINT') {
      this.log.info({ event: 'signal', signal: sig, action: running ? 'stop' : 'escalate' }, `received ${sig}`);
      this.stopper.send({ type: 'stop', cause: sig, at: Date.now() });
    } else if (sig === 'SIGHUP' && this.o.forwardHup !== true) {
      this.log.info({ event: 'signal', signal: sig, action: 'restart' }, 'received SIGHUP: restarting workers one by one');
      if (!running || this.rolls.active || !this.reloadConfig()) return;
      this.rolls.start(this.slots.map((_, i) => i));
    } else {
      let n = 0;
      for (const slot of this.slots) {
        const pid = pidOf(slot.w.state);
        if (pid !== null && this.o.signaller.group(pid, sig)) n++;
      }
      Stats.inc(this.stats.signalsForwarded, sig);
      const level = NOISE_SIGNALS.has(sig) ? 'debug' : 'info';
      this.log[level]({ event: 'signal', signal: sig, action: 'forward', groups: n }, `forwarded ${sig} to ${n} worker group(s)`);
    }
  }

  /** A bug in corral (or anything else that must stop it): the stop sequence, then exit 1. */
  requestStop(cause: StopCause): void {
    this.stopper.send({ type: 'stop', cause, at: Date.now() });
  }

  private reloadConfig(): boolean {
    const pools = reloadPools(this.pools, this.o.reload, this.log);
    if (pools === null) return false;
    for (const slot of this.slots) slot.pool = pools[this.pools.indexOf(slot.pool)] ?? slot.pool;
    this.pools = pools;
    if (JSON.stringify(pools.map((p) => [p.name, p.watch, p.watchIgnore])) !== this.watching) this.watch();
    return true;
  }

  private finish(): void {
    this.reaper.stop();
    this.sampler.stop();
    this.unwatch?.();
    for (const slot of this.slots) {
      clearTimeout(slot.backoff);
      clearTimeout(slot.kill);
      slot.monitor?.stop();
    }
    const { cause, killedAny } = this.stopper.state;
    const code = exitCode({ initMode: this.initMode, cause, killedAny, exits: this.slots.map((s) => s.w.lastExit?.status ?? null) });
    this.log.info({ event: 'exit', code, reaped_orphans: this.stats.zombiesReaped }, `corral exiting with code ${code}`);
    this.resolveDone?.(code);
  }
}
