// Starting one worker process: with the addon (its own process group and session, output
// through two pipes) or under a pseudo-terminal (node-pty). The supervisor only sees the
// Launcher interface, so it can be tested without processes.

import { closeSync } from 'node:fs';
import { CorralError } from '../errors.js';
import { WorkerOutput, type LogCounters, type OutputOptions } from '../logs/worker-output.js';
import type { LineWriter } from '../logs/writer.js';
import type { PoolSpec } from '../model.js';
import type { Addon } from '../native/index.js';
import { ownPid } from '../native/owned.js';
import { loadPty } from '../process/pty.js';
import { resolveCommand, spawnWorker } from '../process/spawn.js';
import { signalName, type ExitStatus } from '../process/status.js';
import type { OutputRegistry } from './outputs.js';

export interface LaunchRequest {
  pool: PoolSpec;
  index: number;
  env: NodeJS.ProcessEnv;
  /** Called when a process that the launcher waits for itself (node-pty's) has exited. */
  onExit: (pid: number, status: ExitStatus) => void;
}

export interface Launched {
  pid: number;
  /** Its output, when corral reads it (not in interactive use). */
  output: WorkerOutput | undefined;
  /** True when the launcher reports the exit itself (onExit); else corral's reaper must. */
  waited: boolean;
}

export interface Launcher {
  /** Throws a CorralError when the worker cannot be started. */
  launch(req: LaunchRequest): Launched;
}

/** Where worker lines go; null passes output through (interactive use). */
export interface LogSink {
  writer: LineWriter;
  /** raw: where worker stdout goes (corral's stdout); worker stderr goes to `writer`. */
  stdout: LineWriter | null;
  format: 'json' | 'pretty' | 'raw';
  colour: boolean;
  feedback: LineWriter | null;
  counters: LogCounters;
  /** Every output is registered here, for backpressure. */
  outputs: OutputRegistry;
}

export interface LauncherOptions {
  addon: Addon;
  logs: LogSink | null;
  /** One worker with the terminal: it gets the foreground. */
  interactive: boolean;
}

function outputOptions(logs: LogSink, pool: PoolSpec, index: number, pid: number): OutputOptions {
  const { writer, stdout, format, colour, feedback, counters } = logs;
  return { pool: pool.name, worker: index, pid, format, colour, writer, stdout, feedback, counters, paused: logs.outputs.paused };
}

function track(logs: LogSink | null, output: WorkerOutput | undefined): WorkerOutput | undefined {
  if (logs && output) logs.outputs.add(output);
  return output;
}

/** Two close-on-exec pipes: [stdin inherited, stdout, stderr] for the child, and our read ends. */
function pipes(addon: Addon): { stdio: [number, number, number]; read: [number, number] } {
  const out = addon.pipe();
  const err = addon.pipe();
  if (out[0] < 0 || err[0] < 0) {
    for (const fd of [...out, ...err]) if (fd >= 0) closeSync(fd);
    throw new CorralError('SPAWN_FAILED', `cannot create the worker's output pipes (errno ${-Math.min(out[0], err[0])})`);
  }
  return { stdio: [-1, out[1], err[1]], read: [out[0], err[0]] };
}

function launchNative(o: LauncherOptions, { pool, index, env }: LaunchRequest): Launched {
  const p = o.logs ? pipes(o.addon) : undefined;
  let pid: number;
  try {
    pid = spawnWorker(o.addon, {
      ...(p && { stdio: p.stdio }),
      command: pool.command,
      env,
      foreground: o.interactive,
      ...(pool.cwd !== undefined && { cwd: pool.cwd }),
      ...(pool.listenFd !== undefined && { listenFd: pool.listenFd }),
      ...(pool.user !== undefined && { uid: pool.user.uid, gid: pool.user.gid, groups: pool.user.groups }),
    });
  } catch (err) {
    if (p) for (const fd of p.read) closeSync(fd);
    throw err;
  } finally {
    // The write ends belong to the worker now (or to nobody, if it did not start).
    if (p) for (const fd of [p.stdio[1], p.stdio[2]]) closeSync(fd);
  }
  const output =
    p && o.logs
      ? new WorkerOutput(outputOptions(o.logs, pool, index, pid), [
          [p.read[0], 'stdout'],
          [p.read[1], 'stderr'],
        ])
      : undefined;
  return { pid, output: track(o.logs, output), waited: false };
}

function launchPty(o: LauncherOptions, { pool, index, env, onExit }: LaunchRequest): Launched {
  const [name, ...args] = pool.command;
  const file = resolveCommand(name ?? '', env);
  const user = pool.user;
  const term = loadPty().spawn(file, args, {
    name: 'xterm-256color',
    cols: 200,
    rows: 50,
    cwd: pool.cwd ?? process.cwd(),
    env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)),
    ...(user && { uid: user.uid, gid: user.gid }),
  });
  const pid = term.pid;
  const release = ownPid(o.addon, pid);
  const output = o.logs ? new WorkerOutput(outputOptions(o.logs, pool, index, pid), term) : undefined;
  term.onExit(({ exitCode, signal }) => {
    release();
    // node-pty may report the exit before the last bytes: give them a moment.
    setTimeout(() => output?.endPty(), 50);
    onExit(pid, signal ? { code: null, signal: signalName(signal) ?? 'SIGKILL' } : { code: exitCode, signal: null });
  });
  return { pid, output: track(o.logs, output), waited: true };
}

/** The addon for ordinary pools, node-pty for `pty` pools. */
export function processLauncher(o: LauncherOptions): Launcher {
  return { launch: (req) => (req.pool.pty ? launchPty(o, req) : launchNative(o, req)) };
}
