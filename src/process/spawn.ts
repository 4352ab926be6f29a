// Starts a worker through the addon: its own process group (and session, unless it
// takes the terminal), signals reset, exec errors reported as the shell does
// (127 not found, 126 not executable).

import { accessSync, constants as fsc, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CorralError } from '../errors.js';
import type { Addon, NativeSpawnResult, SpawnStageName } from '../native/index.js';
import { errnoName } from './status.js';

export interface SpawnRequest {
  command: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Give the worker the terminal on stdin (one interactive worker). */
  foreground: boolean;
  stdio?: readonly [number, number, number];
  listenFd?: number;
  uid?: number;
  gid?: number;
  groups?: readonly number[];
}

function isExecutableFile(path: string): 'ok' | 'missing' | 'denied' {
  try {
    if (!statSync(path).isFile()) return 'denied';
  } catch {
    return 'missing';
  }
  try {
    accessSync(path, fsc.X_OK);
    return 'ok';
  } catch {
    return 'denied';
  }
}

/** Resolves a command name the way execvp(3) does, against the worker's PATH. */
export function resolveCommand(name: string, env: NodeJS.ProcessEnv): string {
  if (name === '') throw new CorralError('NO_COMMAND', 'the command is empty');
  if (name.includes('/')) {
    const r = isExecutableFile(name);
    if (r === 'missing') throw new CorralError('NOT_FOUND', `command not found: ${name}`);
    if (r === 'denied') throw new CorralError('NOT_EXECUTABLE', `command is not executable: ${name}`);
    return name;
  }
  let denied: string | undefined;
  const path = env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  for (const dir of path.split(delimiter)) {
    const candidate = join(dir === '' ? '.' : dir, name);
    const r = isExecutableFile(candidate);
    if (r === 'ok') return candidate;
    if (r === 'denied') denied ??= candidate;
  }
  if (denied !== undefined) throw new CorralError('NOT_EXECUTABLE', `command is not executable: ${denied}`);
  throw new CorralError('NOT_FOUND', `command not found: ${name} (searched PATH=${path})`);
}

function envList(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out.push(`${k}=${v}`);
  return out;
}

/** Spawns and returns the worker's pid (which is also its process group id). */
export function spawnWorker(addon: Addon, req: SpawnRequest): number {
  const [name, ...args] = req.command;
  if (name === undefined) throw new CorralError('NO_COMMAND', 'no command given');
  const file = resolveCommand(name, req.env);
  const r = addon.spawn({
    file,
    argv: [name, ...args],
    env: envList(req.env),
    newSession: !req.foreground,
    foreground: req.foreground,
    ...(req.cwd !== undefined && { cwd: req.cwd }),
    ...(req.stdio !== undefined && { stdio: req.stdio }),
    ...(req.listenFd !== undefined && { listenFd: req.listenFd }),
    ...(req.uid !== undefined && { uid: req.uid, gid: req.gid ?? req.uid, groups: req.groups ?? [] }),
  });
  if (r.pid > 0) return r.pid;
  throw spawnError(addon.spawnStages, r, { name, file, cwd: req.cwd });
}

/**
 * The error for a spawn the addon reports as failed: `r.stage` is one of `stages` (the
 * addon's spawnStages, passed in so this stays a pure function of its arguments).
 */
export function spawnError(
  stages: Readonly<Record<SpawnStageName, number>>,
  r: NativeSpawnResult,
  what: { name: string; file: string; cwd?: string | undefined },
): CorralError {
  const err = errnoName(r.errno);
  if (r.stage === stages.exec) {
    if (err === 'ENOENT' || err === 'ENOTDIR') return new CorralError('NOT_FOUND', `command not found: ${what.file} (${err})`);
    if (err === 'EACCES' || err === 'EPERM' || err === 'ENOEXEC') {
      return new CorralError('NOT_EXECUTABLE', `cannot execute ${what.file} (${err})`);
    }
  }
  if (r.stage === stages.fork) {
    // No child at all: fork(2) gives EAGAIN at a process limit (RLIMIT_NPROC, the cgroup's
    // pids.max, kernel.threads-max) and ENOMEM when memory is short.
    const limit = err === 'EAGAIN';
    return new CorralError('SPAWN_FAILED', `cannot fork to start ${what.name}: ${err}${limit ? ' (too many processes?)' : ''}`, {
      hint: limit
        ? "raise the container's pids limit, e.g. `docker run --pids-limit`, or `ulimit -u`; or run fewer workers"
        : 'the kernel could not create a process: check free memory and the pids limit',
    });
  }
  if (r.stage === stages.chdir) {
    return new CorralError('SPAWN_FAILED', `cannot change to the working directory ${what.cwd ?? ''} (${err})`, {
      hint: 'create the directory or fix the cwd setting',
    });
  }
  const stage = Object.entries(stages).find(([, code]) => code === r.stage)?.[0] ?? `stage ${r.stage}`;
  return new CorralError('SPAWN_FAILED', `starting ${what.name} failed at ${stage} (${err})`);
}
