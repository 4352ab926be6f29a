// Loads one of the bundles in dist/ (corral.cjs, client.cjs) with V8's code cache: the
// bundle is compiled from its cache (dist/<name>.cache, written by `npm ci`, see
// scripts/code-cache.cjs) instead of being parsed and compiled at every start. The cache
// is used only if it was made from this very bundle (both carry the bundle's build id) and
// by this V8 (V8 rejects it otherwise); without it the bundle is compiled as usual.
// V8 checks a cache's version, flags and source length, but not its bytes: the file is
// written whole or not at all (rename), and one of another length (cut short) is not used.
'use strict';
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const DIST = join(__dirname, '..', 'dist');
const BUILD_ID = /\n\/\/ corral-build ([0-9a-f]{16,64})\n$/;

function cacheFor(source, name) {
  const id = BUILD_ID.exec(source.slice(-100))?.[1];
  if (id === undefined) return undefined;
  try {
    const buf = readFileSync(join(DIST, `${name}.cache`));
    const head = id.length + 8;
    if (buf.toString('latin1', 0, id.length) !== id) return undefined;
    return Number.parseInt(buf.toString('latin1', id.length, head), 16) === buf.length - head ? buf.subarray(head) : undefined;
  } catch {
    return undefined;
  }
}

/** The bundle's exports, and the compiled script (for a new cache). */
function load(name) {
  const file = join(DIST, `${name}.cjs`);
  const source = readFileSync(file, 'utf8');
  const script = new Script(Module.wrap(source), { filename: file, cachedData: cacheFor(source, name) });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, Module.createRequire(file), module, file, DIST);
  return { exports: module.exports, script, cached: script.cachedDataRejected === false };
}

module.exports = { load, BUILD_ID, DIST };
