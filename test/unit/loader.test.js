// bin/load.js: the bundles start from the V8 code cache that `npm ci` wrote, and a cache that
// does not belong to the bundle (another build, a file cut short, none) is never used for it:
// corral then compiles the bundle as usual and behaves the same.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { root } from '../helpers.js';

const require = createRequire(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'corral-loader-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of bin/ and dist/ (the addon and dependencies linked) whose cache a test may spoil. */
function copy(name) {
  const at = join(dir, name);
  cpSync(join(root, 'bin'), join(at, 'bin'), { recursive: true });
  cpSync(join(root, 'dist'), join(at, 'dist'), { recursive: true });
  symlinkSync(join(root, 'build'), join(at, 'build'));
  symlinkSync(join(root, 'node_modules'), join(at, 'node_modules'));
  cpSync(join(root, 'package.json'), join(at, 'package.json'));
  return at;
}

/** Loads a bundle in a fresh node; what load() says about the cache, and --version. */
function probeLoad(at, name) {
  const code = `const r = require(${JSON.stringify(join(at, 'bin', 'load.js'))}).load(${JSON.stringify(name)}); process.stdout.write(JSON.stringify({ cached: r.cached, main: typeof r.exports.main }));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const version = spawnSync(process.execPath, [join(at, 'bin', 'corral.js'), '--version'], { encoding: 'utf8' });
  assert.equal(version.status, 0, version.stderr);
  return { ...JSON.parse(r.stdout), version: version.stdout.trim() };
}

test('the build leaves a code cache that V8 accepts, for the CLI and for the client', () => {
  const { load } = require(join(root, 'bin', 'load.js'));
  for (const name of ['corral', 'client']) {
    const r = load(name);
    assert.equal(typeof r.exports.main, 'function', name);
    assert.equal(r.cached, true, `dist/${name}.cache was not accepted: run \`node scripts/build.mjs\``);
  }
});

test('a cache of another build, one cut short or none: the bundle compiles as usual', () => {
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  const at = copy('spoilt');
  const cache = join(at, 'dist', 'corral.cache');
  const good = readFileSync(cache);
  assert.deepEqual(probeLoad(at, 'corral'), { cached: true, main: 'function', version });
  // Another build's id in front of this build's code: not used.
  writeFileSync(cache, Buffer.concat([Buffer.from('0'.repeat(32)), good.subarray(32)]));
  assert.deepEqual(probeLoad(at, 'corral'), { cached: false, main: 'function', version });
  // This build's id, cut short (an interrupted write): not used (V8 would trust its bytes).
  writeFileSync(cache, good.subarray(0, good.length - 1000));
  assert.deepEqual(probeLoad(at, 'corral'), { cached: false, main: 'function', version });
  rmSync(cache);
  assert.deepEqual(probeLoad(at, 'corral'), { cached: false, main: 'function', version });
});
