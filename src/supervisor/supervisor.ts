// The imperative shell around the pure lifecycle: spawns workers, turns reaped exits
// and signals into lifecycle events, carries out the effects, and runs the stop
// sequence of SPEC §7. Every signal it sends a worker goes to the whole process group.

import { closeSync } from 'node:fs';
import type { Logger } from '../logs/logger.js';
import { WorkerOutput, type LogCounters, type OutputOptions } from '../logs/worker-output.js';
import { ownPid } from '../native/owned.js';
import { loadPty } from '../process/pty.js';
import { resolveCommand } from '../process/spawn.js';
import { signalName } from '../process/status.js';
import type { LineWriter } from '../logs/writer.js';
import type { Addon } from '../native/index.js';
import { Reaper } from '../process/reaper.js';
import { spawnWorker } from '../process/spawn.js';
import { shellCode, type ExitStatus } from '../process/status.js';
import { descendants } from '../process/tree.js';
import { treeUsage, type TreeUsage } from '../process/usage.js';
import { CorralError } from '../errors.js';
import { next, newWorker, type Effect, type Policy, type Worker, type WorkerEvent } from './lifecycle.js';
import type { PoolSpec, Snapshot } from '../model.js';
import type { HandledSignal } from '../signals/handlers.js';
import { Stats } from '../metrics/stats.js';
import { attribute, openNotify, parseNotify, type NotifyMessage } from './notify.js';
import { WorkerMonitor } from './readiness.js';

export interface SupervisorOptions {
  pools: readonly PoolSpec[];
  graceMs: number;
  /** One worker and a TTY on stdin: the worker gets the terminal's foreground. */
  interactive: boolean;
  logger: Logger;
  addon: Addon;
  /** Worker lines go here as records; null passes worker output through (interactive use). */
  logs: { writer: LineWriter; format: 'json' | 'pretty'; colour: boolean; feedback: LineWriter | null; counters: LogCounters } | null;
  /** After SIGTERM/SIGINT, how long /readyz is 503 before any worker is signalled. */
  drainDelayMs?: number;
  stats?: Stats;
  random?: () => number;
  /**
   * SIGHUP: re-reads the config file and returns the pools it now describes, or null when
   * there is no file. Throws (a CorralError) when the file no longer validates.
   */
  reload?: () => readonly PoolSpec[] | null;
}

interface Slot {
  pool: PoolSpec;
  index: number;
  w: Worker;
  pid: number | null;
  timer: NodeJS.Timeout | undefined;
  /** SIGKILL after grace for a stop that is not the shutdown (rolling, watchdog, ...). */
  killTimer: NodeJS.Timeout | undefined;
  monitor: WorkerMonitor | undefined;
  /** Last STATUS= text the worker sent. */
  status: string | null;
  /** Why and when the last process ended. */
  lastExit: { reason: string; at: number } | null;
  /** The latest sample of the worker's process tree, and whose it was. */
  usage: TreeUsage | null;
  usagePid: number | null;
  /** When the current process was spawned. */
  startedAt: number | null;
  /** The current generation's output (earlier ones may still drain). */
  output: WorkerOutput | undefined;
  /** Process groups of this slot's generations that may still have members. */
  groups: Set<number>;
}

/** How long to wait for SIGKILLed processes to vanish (a process in D state may never). */
const KILL_WAIT_MS = 2000;
const POLL_MS = 10;
/** How long an exit record waits for the worker's pipes to close. */
const EXIT_OUTPUT_WAIT_MS = 500;
/** How often each worker's process tree is sampled (CPU, RSS, --max-rss). */
const SAMPLE_MS = 2000;

export class Supervisor {
  private readonly slots: Slot[] = [];
  private readonly byPid = new Map<number, Slot>();
  private readonly reaper: Reaper;
  private readonly log: Logger;
  private readonly policies = new Map<PoolSpec, Policy>();
  /** The pools as last loaded (SIGHUP may replace them with the re-read file's). */
  private pools: PoolSpec[];
  private stopping = false;
  /** Why the stop began: a signal name, 'give_up' or 'internal_error'; null if not asked for. */
  private stopCause: string | null = null;
  private escalated = false;
  private killedAny = false;
  private gaveUp = false;
  private finished = false;
  private rolling: Promise<void> | undefined;
  private resolveDone: ((code: number) => void) | undefined;
  readonly stats: Stats;
  /** /readyz is 503 from the first stop signal on. */
  private draining = false;
  /** Checks of pending waits, run after every reaping pass that reaped something. */
  private readonly afterReap = new Set<() => void>();
  private notifyAddress = '';
  /** Every output still being read, for backpressure. */
  private readonly outputs = new Set<WorkerOutput>();
  /** Workers reaped whose exit waits for their output to drain. */
  private readonly exiting = new Set<number>();
  private logsPaused = false;
  private sampler: NodeJS.Timeout | undefined;
  /** Datagrams that could not be parsed or attributed, for metrics and debugging. */

  constructor(private readonly opts: SupervisorOptions) {
    this.log = opts.logger;
    this.stats = opts.stats ?? new Stats();
    this.reaper = new Reaper(opts.addon, {
      onExit: (pid, status) => {
        this.onExit(pid, status);
      },
      onOrphan: (pid, status) => {
        this.stats.zombiesReaped++;
        this.log.debug({ event: 'reaped', pid, code: status.code, signal: status.signal }, 'reaped an orphan');
      },
      onPass: () => {
        for (const check of this.afterReap) check();
      },
    });
    this.pools = [...opts.pools];
    for (const pool of this.pools) {
      this.policies.set(pool, { restart: pool.restart, random: opts.random ?? Math.random });
      for (let i = 0; i < pool.workers; i++) {
        this.slots.push({
          pool,
          index: i,
          w: newWorker(),
          pid: null,
          timer: undefined,
          killTimer: undefined,
          monitor: undefined,
          status: null,
          lastExit: null,
          usage: null,
          usagePid: null,
          startedAt: null,
          output: undefined,
          groups: new Set(),
        });
      }
    }
  }

  /** What /readyz, /status and /metrics show. */
  snapshot(): Snapshot {
    return {
      draining: this.draining,
      live: !this.gaveUp,
      pools: this.pools.map((pool) => ({
        name: pool.name,
        desired: pool.workers,
        minReady: pool.minReady,
        workers: this.slots
          .filter((s) => s.pool === pool)
          .map((s) => {
            const st = s.w.state;
            const exit = s.w.lastExit;
            return {
              pool: pool.name,
              index: s.index,
              pid: s.pid,
              state: st.kind,
              gpu: pool.devices?.[s.index] ?? null,
              restarts: s.w.restarts,
              lastExit: exit && s.lastExit ? { code: exit.code, signal: exit.signal, reason: s.lastExit.reason, at: s.lastExit.at } : null,
              startedAt: s.pid === null ? null : s.startedAt,
              statusText: s.status,
              cpuSeconds: s.pid !== null && s.usagePid === s.pid ? (s.usage?.cpuSeconds ?? null) : null,
              rssBytes: s.pid !== null && s.usagePid === s.pid ? (s.usage?.rssBytes ?? null) : null,
            };
          }),
      })),
    };
  }

  /** True for exactly one pool with one worker and restart `never`: exit like tini. */
  get initMode(): boolean {
    const [pool] = this.pools;
    return this.pools.length === 1 && pool !== undefined && pool.workers === 1 && pool.restart === 'never';
  }

  /** Starts every pool in order; resolves with corral's exit code when all is over. */
  run(): Promise<number> {
    const done = new Promise<number>((resolve) => {
      this.resolveDone = resolve;
    });
    this.reaper.start();
    this.notifyAddress = openNotify(this.opts.addon, (pid, text) => {
      this.onNotify(pid, text);
    }).address;
    for (const slot of this.slots) this.dispatch(slot, { type: 'start', at: Date.now() });
    this.sampler = setInterval(() => {
      this.sample();
    }, SAMPLE_MS);
    this.sampler.unref();
    return done;
  }

  // ---- lifecycle plumbing ----

  private dispatch(slot: Slot, event: WorkerEvent): void {
    const policy = this.policies.get(slot.pool);
    if (!policy) return;
    const [w, effects] = next(slot.w, event, policy);
    slot.w = w;
    for (const e of effects) this.apply(slot, e);
  }

  private apply(slot: Slot, e: Effect): void {
    const who = { pool: slot.pool.name, worker: slot.index };
    switch (e.type) {
      case 'spawn':
        this.spawn(slot);
        return;
      case 'signal': {
        slot.monitor?.stop();
        this.signalSlot(slot, e.signal === 'stop' ? slot.pool.stopSignal : 'SIGKILL');
        const st = slot.w.state;
        if (e.signal === 'stop' && st.kind === 'stopping' && st.reason !== 'shutdown') {
          const pid = st.pid;
          clearTimeout(slot.killTimer);
          slot.killTimer = setTimeout(() => {
            if (slot.pid !== pid) return;
            this.log.warn({ event: 'stop', ...who, pid, grace_ms: this.opts.graceMs }, 'grace period over: sending SIGKILL');
            this.killGroup(pid, 'SIGKILL');
          }, this.opts.graceMs);
        }
        return;
      }
      case 'schedule':
        clearTimeout(slot.timer);
        slot.timer = setTimeout(
          () => {
            slot.timer = undefined;
            this.dispatch(slot, { type: 'backoff_done', at: Date.now() });
          },
          Math.max(0, e.at - Date.now()),
        );
        return;
      case 'cancel_schedule':
        clearTimeout(slot.timer);
        slot.timer = undefined;
        return;
      case 'restart':
        Stats.inc(this.stats.restarts, `${slot.pool.name}\0${slot.index}\0${e.reason}`);
        if (e.delayMs > 0) this.log.warn({ event: 'backoff', ...who, reason: e.reason, delay_ms: e.delayMs }, `restarting in ${e.delayMs} ms`);
        this.log.info({ event: 'restart', ...who, reason: e.reason, restarts: slot.w.restarts }, `restart (${e.reason})`);
        return;
      case 'final':
        this.checkAllFinal();
        return;
      case 'give_up':
        this.gaveUp = true;
        this.log.error({ event: 'give_up', pool: slot.pool.name, worker: slot.index, why: e.why }, `pool ${slot.pool.name} gave up: ${e.why}`);
        this.requestStop('give_up');
        return;
    }
  }

  private port(slot: Slot): number | null {
    return slot.pool.portBase === null ? null : slot.pool.portBase + slot.index;
  }

  private workerEnv(slot: Slot): NodeJS.ProcessEnv {
    const { pool } = slot;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...pool.user?.env,
      ...pool.env,
      CORRAL_POOL: pool.name,
      CORRAL_WORKER: String(slot.index),
      CORRAL_POOL_SIZE: String(pool.workers),
      NOTIFY_SOCKET: this.notifyAddress,
    };
    const port = this.port(slot);
    if (port !== null) env.PORT = String(port);
    const device = pool.devices?.[slot.index];
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

  /** Backpressure from the log writer: pause or resume every worker's pipes. */
  setLogsPaused(paused: boolean): void {
    this.logsPaused = paused;
    for (const o of this.outputs) {
      if (paused) o.pause();
      else o.resume();
    }
  }

  private pipes(): { stdio: [number, number, number]; read: [number, number] } | undefined {
    if (!this.opts.logs) return undefined;
    const out = this.opts.addon.pipe();
    const err = this.opts.addon.pipe();
    if (out[0] < 0 || err[0] < 0) {
      for (const fd of [...out, ...err]) if (fd >= 0) closeSync(fd);
      throw new CorralError('SPAWN_FAILED', `cannot create the worker's output pipes (errno ${-Math.min(out[0], err[0])})`);
    }
    return { stdio: [-1, out[1], err[1]], read: [out[0], err[0]] };
  }

  private outputOptions(slot: Slot, pid: number): OutputOptions | undefined {
    const logs = this.opts.logs;
    if (!logs) return undefined;
    const { writer, format, colour, feedback, counters } = logs;
    return { pool: slot.pool.name, worker: slot.index, pid, format, colour, writer, feedback, counters, paused: this.logsPaused };
  }

  private track(output: WorkerOutput, slot: Slot): void {
    slot.output = output;
    this.outputs.add(output);
    void output.done.then(() => this.outputs.delete(output));
  }

  /** Starts the worker with the addon; its output through two pipes. */
  private startNative(slot: Slot): number {
    let pipes: ReturnType<Supervisor['pipes']>;
    let pid: number;
    try {
      pipes = this.pipes();
      pid = spawnWorker(this.opts.addon, {
        ...(pipes && { stdio: pipes.stdio }),
        command: slot.pool.command,
        env: this.workerEnv(slot),
        foreground: this.opts.interactive,
        ...(slot.pool.cwd !== undefined && { cwd: slot.pool.cwd }),
        ...(slot.pool.listenFd !== undefined && { listenFd: slot.pool.listenFd }),
        ...(slot.pool.user !== undefined && { uid: slot.pool.user.uid, gid: slot.pool.user.gid, groups: slot.pool.user.groups }),
      });
    } finally {
      // The write ends belong to the worker now (or to nobody, if it did not start).
      if (pipes) for (const fd of [pipes.stdio[1], pipes.stdio[2]]) closeSync(fd);
    }
    const opts = pipes && this.outputOptions(slot, pid);
    if (pipes && opts) {
      this.track(
        new WorkerOutput(opts, [
          [pipes.read[0], 'stdout'],
          [pipes.read[1], 'stderr'],
        ]),
        slot,
      );
    }
    this.reaper.watch(pid);
    return pid;
  }

  /** Starts the worker under a pseudo-terminal (node-pty, which waits for it itself). */
  private startPty(slot: Slot): number {
    const [name, ...args] = slot.pool.command;
    const env = this.workerEnv(slot);
    const file = resolveCommand(name ?? '', env);
    const user = slot.pool.user;
    const term = loadPty().spawn(file, args, {
      name: 'xterm-256color',
      cols: 200,
      rows: 50,
      cwd: slot.pool.cwd ?? process.cwd(),
      env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)),
      ...(user && { uid: user.uid, gid: user.gid }),
    });
    const pid = term.pid;
    const release = ownPid(this.opts.addon, pid);
    const opts = this.outputOptions(slot, pid);
    const output = opts && new WorkerOutput(opts, term);
    if (output) this.track(output, slot);
    term.onExit(({ exitCode, signal }) => {
      release();
      // node-pty may report the exit before the last bytes: give them a moment.
      setTimeout(() => output?.endPty(), 50);
      this.onExit(pid, signal ? { code: null, signal: signalName(signal) ?? 'SIGKILL' } : { code: exitCode, signal: null });
    });
    return pid;
  }

  private spawn(slot: Slot): void {
    const at = Date.now();
    let pid: number;
    try {
      pid = slot.pool.pty ? this.startPty(slot) : this.startNative(slot);
    } catch (err) {
      const code = err instanceof CorralError ? err.exitCode : 1;
      const message = err instanceof Error ? err.message : String(err);
      this.log.error({ event: 'exit', pool: slot.pool.name, worker: slot.index, code, signal: null, reason: 'spawn_failed' }, message);
      this.dispatch(slot, { type: 'spawn_failed', status: { code, signal: null }, at });
      return;
    }
    slot.pid = pid;
    slot.startedAt = at;
    slot.groups.add(pid);
    this.byPid.set(pid, slot);
    this.log.info({ event: 'spawn', pool: slot.pool.name, worker: slot.index, pid, command: slot.pool.command }, `spawned ${slot.pool.name}.${slot.index}`);
    this.dispatch(slot, { type: 'spawned', pid, at });
    slot.status = null;
    const monitor = new WorkerMonitor(
      { ready: slot.pool.ready, readyTimeoutMs: slot.pool.readyTimeoutMs, watchdogMs: slot.pool.watchdogMs, port: this.port(slot), index: slot.index },
      {
        ready: () => {
          if (slot.pid !== pid || slot.w.state.kind !== 'starting') return;
          this.dispatch(slot, { type: 'ready', at: Date.now() });
          this.stats.onStartup(slot.pool.name, (Date.now() - at) / 1000);
          this.log.info({ event: 'ready', pool: slot.pool.name, worker: slot.index, pid, startup_ms: Date.now() - at }, `${slot.pool.name}.${slot.index} ready`);
        },
        fail: (reason, detail) => {
          if (slot.pid !== pid) return;
          this.log.warn({ event: 'restart', pool: slot.pool.name, worker: slot.index, pid, reason }, `${slot.pool.name}.${slot.index}: ${detail}; restarting`);
          this.dispatch(slot, { type: 'stop', reason, at: Date.now() });
        },
      },
    );
    slot.monitor = monitor;
    monitor.start();
  }

  /** Samples every live worker's tree; recycles one above --max-rss (reason max_rss). */
  private sample(): void {
    for (const slot of this.slots) {
      const st = slot.w.state;
      if (slot.pid === null || (st.kind !== 'starting' && st.kind !== 'ready')) continue;
      const usage = treeUsage(slot.pid);
      // CPU is a counter per worker index: advance it by what this process used since the
      // last sample (a new process starts from zero).
      const before = slot.usage !== null && slot.usagePid === slot.pid ? slot.usage.cpuSeconds : 0;
      if (usage.cpuSeconds > before) Stats.inc(this.stats.cpuSeconds, `${slot.pool.name}\0${slot.index}`, usage.cpuSeconds - before);
      slot.usage = usage;
      slot.usagePid = slot.pid;
      const limit = slot.pool.maxRssBytes;
      if (limit !== null && usage.rssBytes > limit && !this.stopping) {
        this.log.warn(
          { event: 'restart', pool: slot.pool.name, worker: slot.index, pid: slot.pid, reason: 'max_rss', rss_bytes: usage.rssBytes, max_rss_bytes: limit },
          `${slot.pool.name}.${slot.index}: process tree RSS ${usage.rssBytes} bytes is over --max-rss ${limit}; recycling`,
        );
        this.dispatch(slot, { type: 'stop', reason: 'max_rss', at: Date.now() });
      }
    }
  }

  private onNotify(senderPid: number, text: string): void {
    const workerPid = attribute(senderPid, (p) => this.byPid.has(p));
    const slot = workerPid === undefined ? undefined : this.byPid.get(workerPid);
    const { msg, malformed } = parseNotify(text);
    if (!slot || malformed.length > 0) {
      this.stats.notifyMalformed++;
      this.log.debug({ event: 'notify', sender: senderPid, malformed, attributed: slot !== undefined }, 'ignored part of an sd_notify message');
      if (!slot) return;
    }
    this.applyNotify(slot, msg);
  }

  private applyNotify(slot: Slot, msg: NotifyMessage): void {
    if (msg.batch) this.stats.onBatch(slot.pool.name, msg.batch.size, msg.batch.seconds);
    if (msg.status !== undefined) slot.status = msg.status;
    if (msg.stopping) this.log.info({ event: 'notify', pool: slot.pool.name, worker: slot.index }, `${slot.pool.name}.${slot.index} is stopping`);
    if (msg.errno !== undefined) this.log.warn({ event: 'notify', pool: slot.pool.name, worker: slot.index, errno: msg.errno }, `${slot.pool.name}.${slot.index} reported errno ${msg.errno}`);
    slot.monitor?.notify(msg);
  }

  private onExit(pid: number, status: ExitStatus): void {
    const slot = this.byPid.get(pid);
    if (!slot) return;
    this.byPid.delete(pid);
    slot.monitor?.stop();
    slot.monitor = undefined;
    clearTimeout(slot.killTimer);
    const s = slot.w.state;
    const spawnedAt = s.kind === 'starting' || s.kind === 'ready' || s.kind === 'stopping' ? s.spawnedAt : Date.now();
    const reason = s.kind === 'stopping' ? s.reason : status.signal !== null ? 'signal' : 'exit';
    const exitedAt = Date.now();
    if (this.opts.interactive) this.opts.addon.foreground(0);
    // The exit record comes after the worker's last lines: wait for its pipes to close,
    // but not for long (a grandchild may hold them open; its lines still come later).
    const output = slot.output;
    const report = (): void => {
      this.log.info(
        {
          event: 'exit',
          pool: slot.pool.name,
          worker: slot.index,
          pid,
          code: status.code,
          signal: status.signal,
          reason,
          duration_ms: exitedAt - spawnedAt,
          ...(output && { last_lines: output.lastLines() }),
        },
        `${slot.pool.name}.${slot.index} exited with ${status.signal ?? `code ${status.code ?? '?'}`}`,
      );
      if (slot.pid === pid) slot.pid = null;
      slot.lastExit = { reason, at: exitedAt };
      this.dispatch(slot, { type: 'exit', status, at: exitedAt });
    };
    if (!output) {
      slot.pid = null;
      report();
      return;
    }
    this.exiting.add(pid);
    let reported = false;
    const once = (): void => {
      if (reported) return;
      reported = true;
      clearTimeout(timer);
      this.exiting.delete(pid);
      slot.pid = null;
      report();
      for (const check of this.afterReap) check();
    };
    const timer = setTimeout(once, EXIT_OUTPUT_WAIT_MS);
    void output.done.then(once);
  }

  private signalSlot(slot: Slot, signal: NodeJS.Signals): void {
    for (const pgid of slot.groups) this.killGroup(pgid, signal);
  }

  private killGroup(pgid: number, signal: NodeJS.Signals): boolean {
    try {
      process.kill(-pgid, signal);
      return true;
    } catch {
      return false; // ESRCH: the group is already gone
    }
  }

  // ---- signals ----

  handleSignal(sig: HandledSignal): void {
    if (sig === 'SIGTERM' || sig === 'SIGINT') {
      this.log.info({ event: 'signal', signal: sig, action: this.stopping ? 'escalate' : 'stop' }, `received ${sig}`);
      if (this.stopping) this.escalate();
      else this.requestStop(sig);
      return;
    }
    if (sig === 'SIGHUP') {
      this.log.info({ event: 'signal', signal: sig, action: 'restart' }, 'received SIGHUP: restarting workers one by one');
      if (this.stopping || this.rolling) return;
      if (this.reloadConfig()) this.rollingRestart();
      return;
    }
    let n = 0;
    for (const slot of this.slots) if (slot.pid !== null && this.killGroup(slot.pid, sig)) n++;
    Stats.inc(this.stats.signalsForwarded, sig);
    this.log.info({ event: 'signal', signal: sig, action: 'forward', groups: n }, `forwarded ${sig} to ${n} worker group(s)`);
  }

  /**
   * Applies the re-read config file. Pools whose settings changed take effect as their
   * workers roll; adding or removing pools, changing a worker count or a --listen address
   * needs a restart of corral, so such a file is rejected and everything stays as it is.
   */
  private reloadConfig(): boolean {
    let next: readonly PoolSpec[] | null;
    try {
      next = this.opts.reload?.() ?? null;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log.error({ event: 'config', action: 'rejected' }, `SIGHUP: the config no longer validates, nothing changed: ${message}`);
      return false;
    }
    if (next === null) return true;
    const names = (ps: readonly PoolSpec[]): string => ps.map((p) => `${p.name}×${p.workers}`).join(', ');
    if (names(next) !== names(this.pools)) {
      this.log.error(
        { event: 'config', action: 'rejected', running: names(this.pools), file: names(next) },
        'SIGHUP: the pools or their worker counts changed; that needs a restart of corral, nothing changed',
      );
      return false;
    }
    next.forEach((spec, i) => {
      const old = this.pools[i];
      if (!old) return;
      this.policies.set(spec, { restart: spec.restart, random: this.opts.random ?? Math.random });
      for (const slot of this.slots) if (slot.pool === old) slot.pool = spec;
      this.policies.delete(old);
    });
    this.pools = [...next];
    this.log.info({ event: 'config', action: 'applied' }, 'SIGHUP: config re-read; workers roll onto it');
    return true;
  }

  /** SIGHUP: one worker at a time, stop (SIGKILL after grace), start its successor, wait for ready. */
  private rollingRestart(): void {
    this.rolling = (async () => {
      for (const slot of this.slots) {
        if (this.stopping) break;
        const s = slot.w.state;
        if (s.kind !== 'starting' && s.kind !== 'ready') continue;
        const old = s.pid;
        this.dispatch(slot, { type: 'stop', reason: 'rolling', at: Date.now() });
        // The successor replaces the old pid once it exits (SIGKILL after grace if need be).
        await this.waitUntil(() => this.stopping || slot.pid !== old, Infinity);
        const kind = (): string => slot.w.state.kind;
        await this.waitUntil(() => this.stopping || kind() === 'ready' || kind() === 'exited' || kind() === 'backoff', Infinity);
      }
    })()
      .catch((err: unknown) => {
        this.log.error({ err }, 'rolling restart failed');
      })
      .finally(() => {
        this.rolling = undefined;
      });
  }

  // ---- stopping ----

  private liveGroups(slots: readonly Slot[]): number[] {
    const out: number[] = [];
    for (const slot of slots) {
      for (const pgid of slot.groups) {
        if (this.opts.addon.pgroupAlive(pgid)) out.push(pgid);
        else slot.groups.delete(pgid);
      }
    }
    return out;
  }

  /** Resolves when pred() holds or the deadline passes; checks after every reap and every few ms. */
  private waitUntil(pred: () => boolean, deadline: number, onSecond?: () => void): Promise<boolean> {
    return new Promise((resolve) => {
      let lastSecond = Date.now();
      const done = (ok: boolean): void => {
        clearInterval(t);
        this.afterReap.delete(check);
        resolve(ok);
      };
      const check = (): void => {
        if (pred()) done(true);
        else if (Date.now() >= deadline) done(false);
        else if (onSecond && Date.now() - lastSecond >= 1000) {
          lastSecond = Date.now();
          onSecond();
        }
      };
      // Group members that are not corral's children (a worker's own children) send
      // corral no SIGCHLD when they exit, hence the poll beside the reap hook.
      const t = setInterval(() => {
        this.reaper.pass();
        check();
      }, POLL_MS);
      this.afterReap.add(check);
      check();
    });
  }

  /** Everything left below corral: late members of worker trees, adopted orphans. */
  private strays(): number[] {
    return descendants();
  }

  requestStop(why: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.draining = true;
    this.stopCause = why;
    void this.stopSequence(why).catch((err: unknown) => {
      this.log.error({ err }, 'stop sequence failed');
      this.finish(1);
    });
  }

  private escalate(): void {
    if (this.escalated) return;
    this.escalated = true;
    this.killedAny = true;
    this.log.warn({ event: 'stop', action: 'kill' }, 'second stop signal: killing every worker group now');
    for (const slot of this.slots) this.signalSlot(slot, 'SIGKILL');
    for (const pid of descendants()) this.killPid(pid, 'SIGKILL');
  }

  private killPid(pid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }

  private async stopSequence(why: string): Promise<void> {
    // Readiness is 503 from now on; Kubernetes needs a moment to take the pod out of its
    // endpoints before the workers stop taking requests (SPEC §7 step 2).
    const drainMs = why.startsWith('SIG') ? (this.opts.drainDelayMs ?? 0) : 0;
    if (drainMs > 0) {
      this.log.info({ event: 'stop', reason: why, drain_delay_ms: drainMs }, `draining: readiness is 503; workers are signalled in ${drainMs} ms`);
      await this.waitUntil(() => this.escalated, Date.now() + drainMs);
    }
    const started = Date.now();
    const deadline = started + this.opts.graceMs;
    this.log.info({ event: 'stop', reason: why, grace_ms: this.opts.graceMs }, 'stopping');
    // Pools stop in reverse order; each pool's workers all at once.
    const pools = [...this.pools].reverse();
    for (const pool of pools) {
      const slots = this.slots.filter((s) => s.pool === pool);
      for (const slot of slots) this.dispatch(slot, { type: 'stop', reason: 'shutdown', at: Date.now() });
      await this.waitUntil(
        () => this.liveGroups(slots).length === 0,
        deadline,
        () => {
          this.logProgress(started, slots);
        },
      );
      if (Date.now() >= deadline) break;
    }
    await this.cleanUp(deadline, started);
  }

  private logProgress(started: number, slots: readonly Slot[]): void {
    const running = slots.filter((s) => s.groups.size > 0).map((s) => ({ pool: s.pool.name, worker: s.index, pid: s.pid }));
    this.log.info({ event: 'stop', elapsed_ms: Date.now() - started, running }, `still running: ${running.length} worker group(s)`);
  }

  /** Stops what is left of the tree (adopted orphans included), then exits. */
  private async cleanUp(deadline: number, started: number): Promise<void> {
    if (!this.escalated) {
      const strays = this.strays();
      if (strays.length > 0 && Date.now() < deadline) {
        this.log.info({ event: 'stop', strays: strays.length }, `stopping ${strays.length} leftover process(es)`);
        for (const pid of strays) this.killPid(pid, 'SIGTERM');
        await this.waitUntil(() => this.strays().length === 0, deadline, () => {
          this.logProgress(started, this.slots);
        });
      }
    }
    const groups = this.liveGroups(this.slots);
    const strays = this.strays();
    if (groups.length > 0 || strays.length > 0) {
      this.killedAny = true;
      if (!this.escalated) {
        this.log.warn({ event: 'stop', groups: groups.length, strays: strays.length, grace_ms: this.opts.graceMs }, 'grace period over: sending SIGKILL');
      }
      for (const g of groups) this.killGroup(g, 'SIGKILL');
      for (const pid of strays) this.killPid(pid, 'SIGKILL');
    }
    await this.waitUntil(() => this.liveGroups(this.slots).length === 0 && this.strays().length === 0 && this.byPid.size === 0 && this.exiting.size === 0, Date.now() + KILL_WAIT_MS);
    this.finish(this.exitCode());
  }

  private checkAllFinal(): void {
    if (this.stopping) return;
    if (!this.slots.every((s) => s.w.state.kind === 'exited')) return;
    // Every worker ended on its own and none will restart: clean up and exit.
    this.stopping = true;
    const now = Date.now();
    void this.cleanUp(now + this.opts.graceMs, now).catch((err: unknown) => {
      this.log.error({ err }, 'clean-up failed');
      this.finish(1);
    });
  }

  private exitCode(): number {
    if (this.gaveUp || this.stopCause === 'internal_error') return 1;
    if (this.initMode) {
      const last = this.slots[0]?.w.lastExit;
      return last ? shellCode(last) : 0;
    }
    if (this.stopCause !== null) return this.killedAny ? 1 : 0;
    const failing = this.slots.map((s) => s.w.lastExit).find((st) => st !== null && shellCode(st) !== 0);
    return failing ? shellCode(failing) : 0;
  }

  private finish(code: number): void {
    if (this.finished) return;
    this.finished = true;
    this.reaper.stop();
    clearInterval(this.sampler);
    for (const slot of this.slots) {
      clearTimeout(slot.timer);
      clearTimeout(slot.killTimer);
      slot.monitor?.stop();
    }
    this.log.info({ event: 'exit', code, reaped_orphans: this.stats.zombiesReaped }, `corral exiting with code ${code}`);
    this.resolveDone?.(code);
  }
}
