// Keeps the addon's owned set in step with the children libuv waits for, so the
// reaper never steals their exit status (a stolen status loses the 'exit' event).
// The hook on ChildProcess.prototype.spawn covers spawn, exec, execFile and fork,
// including children started by dependencies. Children spawned from worker_threads
// would not be seen: corral never spawns from a worker thread.

import { ChildProcess } from 'node:child_process';
import type { Addon } from './index.js';

let installed = false;

export function trackOwnedChildren(addon: Addon): void {
  if (installed) return;
  installed = true;
  // ChildProcess.prototype.spawn is public at run time but absent from the typings.
  const proto = ChildProcess.prototype as unknown as { spawn: (this: ChildProcess, ...args: unknown[]) => unknown };
  const original = proto.spawn;
  proto.spawn = function patchedSpawn(this: ChildProcess, ...args: unknown[]): unknown {
    const result = original.apply(this, args);
    const pid = this.pid;
    if (pid !== undefined) {
      addon.own(pid);
      this.once('exit', () => {
        addon.disown(pid);
      });
    }
    return result;
  };
}

/** For node-pty children (which a node-pty thread waits for): own until onExit. */
export function ownPid(addon: Addon, pid: number): () => void {
  addon.own(pid);
  return () => {
    addon.disown(pid);
  };
}
