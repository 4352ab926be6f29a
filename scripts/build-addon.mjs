// Builds the native addon with node-gyp, never downloading anything: node-gyp is
// pointed at the headers that ship with this node (<prefix>/include/node) unless
// npm_config_nodedir already says where they are.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function findNodeGyp() {
  // npm sets this for lifecycle scripts; it points at npm's bundled node-gyp.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const npmDir = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  const candidates = [join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally: fine
  }
  return candidates.find((p) => existsSync(p));
}

function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = resolve(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  return undefined;
}

const gyp = findNodeGyp();
if (!gyp) {
  console.error('corral: cannot find node-gyp (looked beside npm); install npm with node, then run npm ci again');
  process.exit(1);
}
const args = [gyp, 'rebuild'];
const nodedir = findNodeDir();
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(
    `corral: building the native addon failed${nodedir ? '' : ' (no Node headers found beside node: install them or set npm_config_nodedir)'}; python3, make and a C compiler are needed`,
  );
  process.exit(r.status ?? 1);
}
