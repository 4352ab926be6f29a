// No Docker engine runs here: check the example Dockerfile's invariants so it cannot rot.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { corralBin, fixture, root } from '../helpers.js';

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

test('workers run unprivileged; no CORRAL_* pool setting in the image env (it would beat a mounted config)', () => {
  assert.match(text, /CORRAL_USER=serve/);
  assert.match(text, /useradd .*serve/);
  const envs = [...lines.join('\n').matchAll(/\b(CORRAL_[A-Z_]+)=/g)].map((m) => m[1]);
  assert.deepEqual(envs, ['CORRAL_USER']);
});

test('runtime stage: a CUDA runtime base with python3 and the node binary; the served files are copied where the config runs them', () => {
  const froms = instr('FROM');
  assert.equal(froms.length, 2, 'a build stage and a runtime stage');
  assert.match(froms[1], /^FROM nvidia\/cuda:[\w.-]+-runtime-/);
  assert.ok(lines.some((l) => /apt-get install .*python3/.test(l)));
  assert.ok(instr('COPY').some((l) => /--from=corral \/usr\/local\/bin\/node /.test(l)));
  const copied = instr('COPY').filter((l) => !l.includes('--from=')).flatMap((l) => l.split(/\s+/).slice(1, -1));
  for (const f of copied) assert.ok(existsSync(join(root, f)), `${f} exists in the repository`);
  assert.ok(instr('COPY').some((l) => l.endsWith(' /etc/corral/corral.toml') && l.includes('examples/docker/corral.toml')));
  const cfg = parseToml(readFileSync(join(root, 'examples/docker/corral.toml'), 'utf8'));
  const [, script] = cfg.pools.infer.command;
  assert.equal(script, '/app/server.py');
  assert.ok(instr('WORKDIR').at(-1) === 'WORKDIR /app' && instr('COPY').some((l) => /server\.py .*corral_notify\.py \.\/$/.test(l)));
});

test('CMD runs the shipped config; it is valid, and drain delay + grace fit the default 30 s termination grace', () => {
  assert.deepEqual(JSON.parse(instr('CMD')[0].slice(4)), ['--config', '/etc/corral/corral.toml']);
  const file = join(root, 'examples/docker/corral.toml');
  const r = spawnSync(process.execPath, [corralBin, 'check-config', '--config', file], { encoding: 'utf8', env: { ...process.env, CORRAL_NVIDIA_SMI: fixture('nvidia-smi-4gpu') } });
  assert.equal(r.status, 0, r.stderr);
  const cfg = parseToml(readFileSync(file, 'utf8'));
  const sec = (d) => Number(/^(\d+)s$/.exec(d)[1]);
  assert.ok(sec(cfg.drain_delay) + sec(cfg.grace) < 30);
  assert.equal(cfg.pools.infer.ready, 'notify');
  assert.equal(cfg.pools.infer.listen, '0.0.0.0:8080');
  assert.ok(instr('EXPOSE')[0].split(' ').includes('8080') && instr('EXPOSE')[0].split(' ').includes('9000'));
});
