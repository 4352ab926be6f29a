// --watch's ignore rules (SPEC §11): the default directories and suffixes, and --watch-ignore globs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { globToRegExp, isIgnored } from '../../dist/supervisor/watchfiles.js';

test('default ignores: .git, node_modules, __pycache__ anywhere; *.pyc, *.swp', () => {
  for (const rel of ['.git/index', 'a/node_modules/x/y.js', 'pkg/__pycache__/m.cpython-311.pyc', 'm.pyc', '.serve.py.swp', 'serve.py~']) {
    assert.ok(isIgnored(rel, []), rel);
  }
  for (const rel of ['serve.py', 'model/config.json', 'gitignore', 'node_modules_notes.txt']) assert.ok(!isIgnored(rel, []), rel);
});

test('globs: * within a name, ** across directories, ? one character; no slash matches any name', () => {
  const g = (s) => globToRegExp(s);
  assert.ok(isIgnored('logs/run.log', [g('*.log')]));
  assert.ok(isIgnored('run.log', [g('*.log')]));
  assert.ok(!isIgnored('run.logx', [g('*.log')]));
  assert.ok(isIgnored('data/a/b/c.bin', [g('data/**')]));
  assert.ok(!isIgnored('src/data/c.bin', [g('data/**')]));
  assert.ok(isIgnored('src/x/y/gen.py', [g('src/**/gen.py')]));
  assert.ok(isIgnored('src/gen.py', [g('src/**/gen.py')]));
  assert.ok(isIgnored('a1.tmp', [g('a?.tmp')]));
  assert.ok(!isIgnored('a12.tmp', [g('a?.tmp')]));
  assert.ok(isIgnored('weights (1).pt', [g('weights (1).pt')]), 'regex characters are literal');
});
