// node-pty, loaded only when a pool asks for --pty (it costs start-up time and has its
// own native part). Its children are waited for by a node-pty thread: they are marked as
// owned (src/native/owned.ts) so corral's reaper never takes their status.

import { createRequire } from 'node:module';
import { CorralError } from '../errors.js';

type NodePty = typeof import('node-pty');

let mod: NodePty | undefined;

export function loadPty(): NodePty {
  if (mod) return mod;
  try {
    mod = createRequire(import.meta.url)('node-pty') as NodePty;
    return mod;
  } catch (err) {
    throw new CorralError('ADDON', `--pty needs node-pty, which did not load (${(err as Error).message})`);
  }
}
