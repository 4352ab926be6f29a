// Bad flags and config files through the real CLI: each gives exit 2 before anything is
// spawned, one line that starts with `corral:` and names the key, and no stack trace.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runToEnd } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-bad-'));
const marker = join(dir, 'spawned');
const cmd = ['--', 'touch', marker];
const file = (name, text) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const pool = (body) => `[pools.infer]\ncommand = ["touch", "${marker}"]\n${body}\n`;

const cases = [
  ['unknown flag', ['--bogus', ...cmd], /--bogus/],
  ['negative workers', ['--workers', '-1', ...cmd], /--workers/],
  ['zero workers', ['--workers', '0', ...cmd], /--workers/],
  ['bad duration', ['--grace', 'soon', ...cmd], /--grace/],
  ['bad ready-timeout', ['--ready-timeout', '5x', ...cmd], /--ready-timeout/],
  ['bad size', ['--max-rss', 'lots', ...cmd], /--max-rss/],
  ['bad signal', ['--stop-signal', 'SIGNOPE', ...cmd], /--stop-signal/],
  ['bad restart', ['--restart', 'sometimes', ...cmd], /--restart/],
  ['bad ready', ['--ready', 'tcp:', ...cmd], /--ready/],
  ['bad listen', ['--listen', 'nowhere', ...cmd], /--listen/],
  ['bad http', ['--http', 'localhost:99999', ...cmd], /--http/],
  ['bad log format', ['--log-format', 'xml', ...cmd], /--log-format/],
  ['bad log level', ['--log-level', 'loud', ...cmd], /--log-level/],
  ['bad gpus', ['--gpus', 'some', ...cmd], /--gpus/],
  ['unknown user', ['--user', 'no-such-user-here', ...cmd], /--user/],
  ['bad env value', { env: { CORRAL_WORKERS: 'many' }, args: cmd }, /CORRAL_WORKERS/],
  ['no command', [], /no command/],
  ['missing config file', ['--config', join(dir, 'absent.toml')], /absent\.toml/],
  ['unknown key with suggestion', ['--config', file('typo.toml', pool('workerz = 2'))], /pools\.infer\.workerz.*did you mean/],
  ['wrong type', ['--config', file('type.toml', pool('workers = "four"'))], /pools\.infer\.workers/],
  ['negative count in file', ['--config', file('neg.toml', pool('workers = -1'))], /pools\.infer\.workers.*-1/],
  ['empty command', ['--config', file('empty.toml', '[pools.infer]\ncommand = []\n')], /pools\.infer\.command/],
  ['TOML syntax error', ['--config', file('syntax.toml', '[pools.infer\ncommand = ["x"]\n')], /syntax\.toml.*line/],
  ['JSON syntax error', ['--config', file('bad.json', '{"pools": {"infer": {"command": ["x"],}}}')], /bad\.json/],
  ['duplicate pool', ['--config', file('dup.toml', pool('') + pool(''))], /infer/],
  ['unknown user in file', ['--config', file('user.toml', pool('user = "no-such-user-here"'))], /no-such-user-here/],
  ['min_ready above workers', ['--config', file('min.toml', pool('workers = 2\nmin_ready = 3'))], /min_ready/],
  ['command with --config', ['--config', file('ok.toml', pool('')), 'python3', 'x.py'], /config/],
];

for (const [name, spec, re] of cases) {
  test(`bad input: ${name}`, async () => {
    const { args, env } = Array.isArray(spec) ? { args: spec, env: {} } : spec;
    const r = await runToEnd(args, { env });
    assert.equal(r.code, 2, `exit code\n${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line:\n${r.stderr}`);
    assert.match(lines[0], /^corral: /);
    assert.match(lines[0], re);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(existsSync(marker), false, 'nothing was spawned');
  });
}
