// Per-worker readiness and heartbeat (SPEC §3): `started`, `notify` (READY=1 on
// NOTIFY_SOCKET), `tcp:PORT`, `http:URL`; the start-up deadline (--ready-timeout) and the
// watchdog (--watchdog). It only observes and reports; the supervisor decides.

import { request } from 'node:http';
import { connect } from 'node:net';

import type { ReadySpec } from '../model.js';

export interface MonitorSpec {
  ready: ReadySpec;
  readyTimeoutMs: number;
  watchdogMs: number | null;
  /** The worker's PORT (with --port-base), for `{port}`. */
  port: number | null;
  index: number;
}

export interface MonitorEvents {
  ready(): void;
  /** The worker missed its start-up deadline or its heartbeat, or asked to be restarted (`trigger`). The monitor stops itself first. */
  fail(reason: 'startup_timeout' | 'watchdog', detail: string, trigger?: boolean): void;
}

/** Replaces `{port}` and `{worker}`. */
export function expand(template: string, port: number | null, index: number): string {
  return template.replaceAll('{port}', port === null ? '' : String(port)).replaceAll('{worker}', String(index));
}

const PROBE_TIMEOUT_MS = 2000;
const PROBE_EVERY_MS = 500;

export function probeTcp(port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

/** 2xx and 3xx count as ready, as Kubernetes' httpGet probes do. */
export function probeHttp(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    let req;
    try {
      req = request(url, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400);
      });
    } catch {
      resolve(false);
      return;
    }
    req.once('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.once('error', () => {
      resolve(false);
    });
    req.end();
  });
}

export class WorkerMonitor {
  private readyTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private lastBeat = 0;
  private isReady = false;
  private stopped = false;
  private probing = false;

  constructor(
    private readonly spec: MonitorSpec,
    private readonly events: MonitorEvents,
  ) {}

  /** Arms the start-up deadline and the probes; `started` readiness reports at once. */
  start(): void {
    if (this.spec.ready.kind === 'started') {
      this.becameReady();
      return;
    }
    this.readyTimer = setTimeout(() => {
      if (!this.isReady && !this.stopped) {
        this.failed('startup_timeout', `not ready within ${this.spec.readyTimeoutMs} ms`);
      }
    }, this.spec.readyTimeoutMs);
    if (this.spec.ready.kind === 'tcp' || this.spec.ready.kind === 'http') this.scheduleProbe(0);
  }

  /** An sd_notify message from this worker (or one of its processes). */
  notify(msg: { ready?: true; watchdog?: true; trigger?: true }): void {
    if (this.stopped) return;
    if (msg.trigger) {
      this.failed('watchdog', 'the worker asked to be restarted (WATCHDOG=trigger)', true);
      return;
    }
    if (msg.watchdog) this.lastBeat = Date.now();
    if (msg.ready && !this.isReady && this.spec.ready.kind === 'notify') this.becameReady();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.readyTimer);
    clearTimeout(this.probeTimer);
    clearInterval(this.watchdogTimer);
  }

  private failed(reason: 'startup_timeout' | 'watchdog', detail: string, trigger = false): void {
    this.stop();
    this.events.fail(reason, detail, trigger);
  }

  private becameReady(): void {
    this.isReady = true;
    clearTimeout(this.readyTimer);
    this.lastBeat = Date.now();
    this.events.ready();
    const d = this.spec.watchdogMs;
    if (d === null || this.stopped) return;
    // Checked several times per period so a miss is seen within a quarter of it.
    this.watchdogTimer = setInterval(
      () => {
        if (this.stopped) return;
        const age = Date.now() - this.lastBeat;
        if (age > d) this.failed('watchdog', `no heartbeat for ${age} ms (watchdog ${d} ms)`);
      },
      Math.max(50, Math.min(1000, Math.floor(d / 4))),
    );
    if (this.spec.ready.kind === 'tcp' || this.spec.ready.kind === 'http') this.scheduleProbe(Math.max(100, Math.floor(d / 3)));
  }

  private scheduleProbe(delayMs: number): void {
    if (this.stopped) return;
    this.probeTimer = setTimeout(() => {
      void this.probe();
    }, delayMs);
  }

  private async probe(): Promise<void> {
    if (this.stopped || this.probing) return;
    this.probing = true;
    const r = this.spec.ready;
    let ok = false;
    try {
      if (r.kind === 'tcp') ok = await probeTcp(Number(expand(r.port, this.spec.port, this.spec.index)));
      else if (r.kind === 'http') ok = await probeHttp(expand(r.url, this.spec.port, this.spec.index));
    } finally {
      this.probing = false;
    }
    this.afterProbe(ok);
  }

  private afterProbe(ok: boolean): void {
    if (this.stopped) return; // stopped while the probe was in flight
    if (ok) {
      this.lastBeat = Date.now();
      if (!this.isReady) {
        this.becameReady();
        return;
      }
    }
    if (!this.isReady) this.scheduleProbe(PROBE_EVERY_MS);
    else if (this.spec.watchdogMs !== null) this.scheduleProbe(Math.max(100, Math.floor(this.spec.watchdogMs / 3)));
  }
}
