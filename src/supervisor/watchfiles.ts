// --watch (SPEC §11): a change to a file under a pool's watched paths restarts that pool's
// workers, after 300 ms of quiet (an editor's write-and-rename, a `git checkout` of twenty
// files: one restart). Node's own recursive fs.watch (inotify on Linux: a watch per
// directory, new directories followed; its set-up stats every file once, idle it costs
// nothing). Ignored: .git, node_modules, __pycache__, *.pyc, *.swp, and --watch-ignore.

import { watch, type FSWatcher } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import type { Logger } from '../logs/logger.js';
import type { PoolSpec } from '../model.js';

export const DEBOUNCE_MS = 300;
const IGNORED_DIRS = new Set(['.git', 'node_modules', '__pycache__']);
const IGNORED_SUFFIXES = ['.pyc', '.swp', '.swx', '~'];

/** `*` any run within a segment, `**` any run of segments, `?` one character; a glob without `/` also matches any file's name. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(glob.includes('/') ? `^${re}$` : `(^|/)${re}$`);
}

/** Whether a change at `rel` (relative to the watched path, `/`-separated) restarts nothing. */
export function isIgnored(rel: string, globs: readonly RegExp[]): boolean {
  const parts = rel.split('/');
  if (parts.some((p) => IGNORED_DIRS.has(p))) return true;
  const name = parts[parts.length - 1] ?? '';
  if (IGNORED_SUFFIXES.some((s) => name.endsWith(s))) return true;
  return globs.some((g) => g.test(rel));
}

/**
 * Watches every pool's paths; calls onChange(pool name) once per burst of changes and logs a
 * `watch` record naming the (last) file. Returns what stops it all.
 */
export function watchFiles(pools: readonly PoolSpec[], log: Logger, onChange: (pool: string) => void): () => void {
  const watchers: FSWatcher[] = [];
  const cancels: (() => void)[] = [];
  for (const pool of pools) {
    if (pool.watch.length === 0) continue;
    const globs = pool.watchIgnore.map(globToRegExp);
    let timer: NodeJS.Timeout | undefined;
    let changed = '';
    cancels.push(() => {
      clearTimeout(timer);
    });
    const fire = (): void => {
      log.info({ event: 'watch', pool: pool.name, file: changed }, `${changed} changed: restarting pool ${pool.name}`);
      onChange(pool.name);
    };
    for (const root of pool.watch) {
      let w: FSWatcher;
      try {
        w = watch(root, { recursive: true, persistent: false }, (_event, name) => {
          const file = name === null ? root : join(root, name);
          const rel = relative(root, file).split(sep).join('/') || basename(root);
          if (isIgnored(rel, globs)) return;
          changed = file;
          clearTimeout(timer);
          timer = setTimeout(fire, DEBOUNCE_MS);
        });
      } catch (err) {
        log.warn({ event: 'watch', pool: pool.name, path: root, error: (err as Error).message }, `cannot watch ${root}: ${(err as Error).message}`);
        continue;
      }
      w.on('error', (err) => {
        log.warn({ event: 'watch', pool: pool.name, path: root, error: err.message }, `watching ${root} stopped: ${err.message}`);
      });
      watchers.push(w);
    }
  }
  return () => {
    for (const w of watchers) w.close();
    for (const cancel of cancels) cancel();
  };
}
