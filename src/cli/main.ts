// Entry point: signals first (SIGUSR1 must never open the inspector), then the command
// line, then the supervisor. One top-level catch turns a user's mistake into
// `corral: <message> (<hint>)` and its exit code, never a stack trace.

import { openSync } from 'node:fs';
import { isatty } from 'node:tty';
import { CorralError } from '../errors.js';
import { createLogger, type Logger } from '../logs/logger.js';
import { LineWriter } from '../logs/writer.js';
import type { LogCounters } from '../logs/worker-output.js';
import { native } from '../native/index.js';
import { trackOwnedChildren } from '../native/owned.js';
import { effectiveConfigJson } from '../config/effective.js';
import { SignalQueue, type HandledSignal } from '../signals/handlers.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { processLauncher } from '../supervisor/launch.js';
import { OutputRegistry } from '../supervisor/outputs.js';
import { processSignaller } from '../process/groups.js';
import { descendants } from '../process/tree.js';
import { print, probe, status } from './client.js';
import { startHttp, type MetricsRenderer } from '../http/server.js';
import { Stats } from '../metrics/stats.js';
import { createMetrics } from '../metrics/metrics.js';
import { gpuCollectorFor } from '../gpu/collect.js';
import { parseInvocation } from './options.js';
import { preparePools } from './prepare.js';
import { withLostGpus, type Snapshot } from '../model.js';

declare const __CORRAL_VERSION__: string;
const FLUSH_TIMEOUT_MS = 10_000;
/** Log counters kept in Stats (corral_log_lines_total, corral_log_bytes_total, ...). */
function logCounters(stats: Stats): LogCounters {
  return {
    lines(pool, stream, lines, bytes) {
      const key = `${pool}\0${stream}`;
      Stats.inc(stats.logLines, key, lines);
      Stats.inc(stats.logBytes, key, bytes);
    },
    feedback(pool) {
      Stats.inc(stats.feedback, pool);
    },
  };
}

let feedbackWriter: LineWriter | undefined;

/** The --feedback-file writer; a file that cannot be opened is reported, never fatal. */
function openFeedback(path: string | null, log: Logger): LineWriter | null {
  if (path === null) return null;
  try {
    feedbackWriter = new LineWriter(openSync(path, 'a'));
    return feedbackWriter;
  } catch (err) {
    log.error({ event: 'feedback', file: path, err: (err as Error).message }, 'cannot open the feedback file; feedback records go to the log instead');
    return null;
  }
}
const VERSION = typeof __CORRAL_VERSION__ === 'string' ? __CORRAL_VERSION__ : '0.0.0';

function userError(err: unknown): number | undefined {
  if (err instanceof CorralError) {
    print(2, err.line());
    return err.exitCode;
  }
  return undefined;
}

/**
 * Runs corral. `early` holds signals the executable caught before this module loaded;
 * `releaseEarly` removes its interim handlers once corral's own are installed.
 */
export async function main(argv: readonly string[], early: HandledSignal[] = [], releaseEarly?: () => void): Promise<number> {
  // Signals that arrive before the supervisor exists are kept and replayed once it
  // runs: a SIGTERM during start-up must still stop the pod.
  let dispatch: (sig: HandledSignal) => void = (sig) => {
    early.push(sig);
  };
  new SignalQueue((sig) => {
    dispatch(sig);
  }).install();
  releaseEarly?.();

  let supervisor: Supervisor | undefined;
  let log: Logger | undefined;
  try {
    const inv = parseInvocation(argv, process.env, isatty(2), VERSION);
    switch (inv.kind) {
      case 'output':
        print(1, inv.text);
        return 0;
      case 'check-config':
        // Users and commands are checked too; no socket is bound and no GPU is looked for
        // (a config is often checked where it is built, not where it runs).
        print(1, effectiveConfigJson(inv.config, preparePools(inv.config, null, process.env).threads));
        return 0;
      case 'probe':
        return probe(inv.target, inv.http, print);
      case 'status':
        return status(inv.http, print);
      case 'run':
        break;
    }
    const config = inv.config;
    const addon = native();
    trackOwnedChildren(addon);
    addon.ignoreTtySignals();
    const subreaper = process.pid === 1 || addon.setSubreaper();
    const { pools, sockets, gpus } = preparePools(config, addon, process.env);

    // One writer for corral's records and the workers' lines; under pressure it pauses every
    // worker's pipes through the output registry. When stderr is a pipe (a container
    // runtime's log pipe), 1 MiB instead of 64 KiB: fewer partial writes and wake-ups at high
    // log rates; refused silently where limits say no.
    addon.growPipe(2, 1 << 20);
    const outputs = new OutputRegistry();
    // --log-format raw: workers' stdout goes to corral's stdout through a writer of its own;
    // either writer under pressure pauses every pipe.
    const pressed = [false, false];
    const pressure = (i: number) => (paused: boolean) => {
      pressed[i] = paused;
      outputs.setPaused(pressed[0] === true || pressed[1] === true);
    };
    const writer = new LineWriter(2, { onPressure: pressure(0), frameLines: addon.frameLines });
    const raw = config.logFormat === 'raw';
    if (raw) addon.growPipe(1, 1 << 20);
    const closeStdout = (): void => {
      outputs.closeStdout();
    };
    const stdout = raw ? new LineWriter(1, { onPressure: pressure(1), onBroken: closeStdout }) : null;
    const colour = isatty(2);
    log = createLogger(writer, config.logFormat, config.logLevel, colour);
    const logger = log;
    if (!subreaper) {
      logger.warn({ event: 'signal' }, 'cannot become a child subreaper (prctl failed): orphans of workers will be reaped by the host\'s init, not by corral');
    }
    const stats = new Stats();
    const interactive = pools.length === 1 && pools[0]?.workers === 1 && isatty(0) && addon.ownsTerminal(0);
    // The terminal is the worker's (SPEC §11), and in raw format stdout and stderr are the
    // workers' (SPEC §12: a drop-in for tini): corral's records below warn stay out of them,
    // unless --log-level asked for them.
    if ((interactive || raw) && !config.logLevelGiven) logger.level = 'warn';
    // Interactive use (`corral -- bash` on a terminal) passes the terminal through.
    const logs = interactive ? null : { writer, stdout, format: config.logFormat, colour, feedback: openFeedback(config.feedbackFile, logger), counters: logCounters(stats), outputs };
    // A lost GPU (SPEC §9) is logged once; the workers placed on it are not ready.
    const gpu =
      config.http === null
        ? null
        : gpuCollectorFor(gpus, process.env, ({ index, uuid, why }) => {
            logger.error({ event: 'gpu_lost', gpu: index, uuid, why }, `GPU ${index} (${uuid}) is lost: ${why}; the workers placed on it are not ready`);
          });
    supervisor = new Supervisor({
      pools,
      graceMs: config.graceMs,
      interactive,
      forwardHup: config.dropIn,
      launcher: processLauncher({ addon, logs, interactive }),
      signaller: processSignaller(addon),
      stats,
      drainDelayMs: config.drainDelayMs,
      logger,
      addon,
      // The shell that runs nvidia-smi is corral's own, not a worker's leftover to wait for.
      descendants: () => {
        const mine = gpu?.helperPids() ?? [];
        return mine.length === 0 ? descendants() : descendants().filter((p) => !mine.includes(p));
      },
      // SIGHUP: the same command line, the file read again; held sockets are reused.
      reload: () => {
        if (config.source === null) return null;
        const again = parseInvocation(argv, process.env, isatty(2), VERSION);
        if (again.kind !== 'run') return null;
        return preparePools(again.config, addon, process.env, sockets).pools;
      },
    });
    const sup = supervisor;
    dispatch = (sig) => {
      sup.handleSignal(sig);
    };
    const internalError = (err: unknown): void => {
      logger.fatal({ err }, 'internal error; stopping');
      sup.requestStop('internal_error');
    };
    process.on('uncaughtException', internalError);
    process.on('unhandledRejection', internalError);
    // The HTTP server binds before any worker starts: a port in use is a config error. The
    // metrics registry is built on the first scrape (prom-client costs memory and start-up
    // time that an unscraped corral does not need). GPU figures are collected whenever
    // nvidia-smi is there, placement or not (SPEC §10).
    let metrics: MetricsRenderer | null = null;
    const snapshot = (): Snapshot => (gpu ? withLostGpus(sup.snapshot(), gpu.lost()) : sup.snapshot());
    if (config.http !== null) {
      await startHttp(config.http, {
        snapshot,
        container: () => stats.container,
        metrics: () => (metrics ??= createMetrics({ snapshot, stats, gpu, version: VERSION })),
        version: VERSION,
      });
    }
    const done = sup.run();
    // Sampled on a timer from once the workers are spawned, scraped or not.
    if (gpu) {
      setImmediate(() => {
        gpu.start();
      });
    }
    for (const sig of early.splice(0)) sup.handleSignal(sig);
    const code = await done;
    gpu?.stop();
    // Nothing is lost at exit: wait for the writers to empty (bounded: a reader that never
    // reads again must not keep a stopping pod alive forever).
    await Promise.race([Promise.all([writer.drain(), stdout?.drain(), feedbackWriter?.drain()]), new Promise((r) => setTimeout(r, FLUSH_TIMEOUT_MS))]);
    return code;
  } catch (err) {
    const code = userError(err);
    if (code !== undefined) return code;
    if (log) log.fatal({ err }, 'internal error');
    else print(2, `corral: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}

