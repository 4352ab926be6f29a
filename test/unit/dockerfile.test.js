// No Docker engine runs here: check the example Dockerfile's invariants so it cannot rot.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { root } from '../helpers.js';

const text = readFileSync(join(root, 'Dockerfile.example'), 'utf8');
const lines = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
const instr = (name) => lines.filter((l) => l.startsWith(`${name} `));

test('ENTRYPOINT is corral in exec form, with no shell or other init in front', () => {
  const [entry] = instr('ENTRYPOINT');
  assert.ok(entry, 'an ENTRYPOINT');
  const argv = JSON.parse(entry.slice('ENTRYPOINT '.length));
  assert.equal(argv[0], 'corral');
  assert.ok(!argv.some((a) => /^(sh|bash|tini|dumb-init|\/bin\/sh)$/.test(a)), entry);
  assert.equal(instr('ENTRYPOINT').length, 1);
});

test('STOPSIGNAL SIGTERM and a HEALTHCHECK through corral probe livez', () => {
  assert.deepEqual(instr('STOPSIGNAL'), ['STOPSIGNAL SIGTERM']);
  const [hc] = instr('HEALTHCHECK');
  assert.match(hc, /CMD \["corral", "probe", "livez"\]/);
});

test('the build stage runs npm ci (the addon is built) and drops dev dependencies', () => {
  assert.ok(lines.some((l) => /RUN npm ci && npm prune --omit=dev/.test(l)));
  for (const f of ['package.json', 'package-lock.json', 'binding.gyp']) assert.ok(text.includes(f), f);
});

test('workers run unprivileged, and drain delay + grace fit the default 30 s termination grace', () => {
  assert.match(text, /CORRAL_USER=serve/);
  assert.match(text, /useradd .*serve/);
  const sec = (name) => Number(new RegExp(`${name}=(\\d+)s`).exec(text)[1]);
  assert.ok(sec('CORRAL_DRAIN_DELAY') + sec('CORRAL_GRACE') < 30);
});
