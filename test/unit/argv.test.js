// The command-line tokenizer and help renderer (src/cli/argv.ts): value and boolean options,
// `=` forms, `--no-`, `--`, halting at the command, unknown options, and wrapped help.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderHelp, tokenize, wrapText } from '../../dist/cli/argv.js';

const SPECS = {
  grace: { group: 'Stop:', describe: 'grace period  (default: 25s)' },
  http: { group: 'Server:', describe: 'address' },
  pty: { group: 'Workers:', describe: 'a terminal', boolean: true },
};

test('value options: space or =, the last repeat wins, a missing value is the empty string', () => {
  const t = tokenize(['--grace', '5s', '--http=:9', '--grace=7s', 'cmd', '--grace', '1'], SPECS, true);
  assert.deepEqual(t.flags, { grace: '7s', http: ':9' });
  assert.deepEqual(t.rest, ['cmd', '--grace', '1'], 'options end at the command');
  assert.equal(t.dashDash, false);
  assert.deepEqual(tokenize(['--grace'], SPECS, true).flags, { grace: '' });
  assert.deepEqual(tokenize(['--grace', '--pty', 'x'], SPECS, true).flags, { grace: '', pty: true });
  assert.deepEqual(tokenize(['--grace', '-', 'x'], SPECS, true).flags, { grace: '-' });
  assert.deepEqual(tokenize(['--http=a=b'], SPECS, true).flags, { http: 'a=b' }, 'the value keeps its own =');
});

test('boolean options: --pty, --pty=true|false, --no-pty; any other value is reported', () => {
  assert.deepEqual(tokenize(['--pty', 'x'], SPECS, true), { flags: { pty: true }, rest: ['x'], dashDash: false, help: false, version: false, unknown: [], badBoolean: [] });
  assert.equal(tokenize(['--pty=false'], SPECS, true).flags.pty, false);
  assert.equal(tokenize(['--pty=true'], SPECS, true).flags.pty, true);
  assert.equal(tokenize(['--no-pty'], SPECS, true).flags.pty, false);
  assert.deepEqual(tokenize(['--pty=yes'], SPECS, true).badBoolean, ['pty']);
  assert.deepEqual(tokenize(['--no-grace'], SPECS, true).unknown, ['no-grace'], 'only booleans negate');
});

test('--, -h, --help, --version, unknown long and short options', () => {
  const t = tokenize(['--grace', '1s', '--', '--pty', 'x'], SPECS, true);
  assert.deepEqual(t.rest, ['--pty', 'x']);
  assert.equal(t.dashDash, true);
  assert.equal(tokenize(['-h'], SPECS, true).help, true);
  assert.equal(tokenize(['--help'], SPECS, true).help, true);
  assert.equal(tokenize(['--version'], SPECS, true).version, true);
  assert.deepEqual(tokenize(['--wrokers', '-xy', 'cmd'], SPECS, true).unknown, ['wrokers', 'x', 'y']);
  assert.deepEqual(tokenize(['cmd', '--wrokers'], SPECS, true).unknown, [], 'after the command, an option is the command\'s');
});

test('not halting (probe, status): words and options mix', () => {
  const t = tokenize(['livez', '--http', ':1', 'extra'], SPECS, false);
  assert.deepEqual(t.rest, ['livez', 'extra']);
  assert.deepEqual(t.flags, { http: ':1' });
});

test('help: groups in order, descriptions in one column, wrapped to the width, double spaces kept', () => {
  const text = renderHelp('usage line', SPECS, 'An epilogue that is long enough to wrap at thirty columns, and then some more.', 50);
  const lines = text.split('\n');
  assert.equal(lines[0], 'usage line');
  assert.deepEqual(
    lines.filter((l) => l.endsWith(':')),
    ['Stop:', 'Server:', 'Workers:', 'Options:'],
  );
  assert.ok(lines.includes('      --grace  grace period  (default: 25s)'), text);
  assert.ok(lines.includes('  -h, --help     Show help'), text);
  for (const l of lines) assert.ok(l.length <= 50, JSON.stringify(l));
  assert.deepEqual(wrapText('aaa bbb ccc', 7), ['aaa bbb', 'ccc']);
  assert.deepEqual(wrapText('a-very-long-word x', 5), ['a-very-long-word', 'x']);
});
