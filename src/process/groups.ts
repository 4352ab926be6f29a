// Signals to process groups and single processes, and whether a group still has members.
// Every signal corral sends a worker goes to its whole group (SPEC §2), so DataLoader and
// compile grandchildren get it too. One interface, so the supervisor can be tested
// against a fake process table.

import type { Addon } from '../native/index.js';

export interface Signaller {
  /** kill(-pgid, sig); false when the group is gone (ESRCH). */
  group(pgid: number, signal: NodeJS.Signals): boolean;
  /** kill(pid, sig); a process already gone is not an error. */
  pid(pid: number, signal: NodeJS.Signals): void;
  /** The group has at least one member (zombies excluded: see the addon). */
  alive(pgid: number): boolean;
}

export function processSignaller(addon: Pick<Addon, 'pgroupAlive'>): Signaller {
  return {
    group(pgid, signal) {
      try {
        process.kill(-pgid, signal);
        return true;
      } catch {
        return false; // ESRCH: the group is already gone
      }
    },
    pid(pid, signal) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    },
    alive: (pgid) => addon.pgroupAlive(pgid),
  };
}
