// Line framing: bytes in, lines out (SPEC §4).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineFramer, MAX_PART } from '../../dist/logs/framer.js';

function frame(chunks) {
  const out = [];
  const f = new LineFramer((line, part) => out.push(part ? [line, part] : line));
  for (const c of chunks) f.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  f.end();
  return out;
}

test('LF and CRLF end lines; a final line without newline comes out at EOF', () => {
  assert.deepEqual(frame(['a\nb\r\nc']), ['a', 'b', 'c']);
  assert.deepEqual(frame(['a\r', '\nb\n']), ['a', 'b'], 'CRLF split across reads');
  assert.deepEqual(frame(['\n\n']), ['', '']);
  assert.deepEqual(frame(['x\ry\n']), ['x\ry'], 'a lone CR stays in the line');
});

test('a multi-byte character split across reads is kept whole', () => {
  const euro = Buffer.from('€'); // 3 bytes
  assert.deepEqual(frame([Buffer.concat([Buffer.from('a'), euro.subarray(0, 1)]), Buffer.concat([euro.subarray(1), Buffer.from('b\n')])]), ['a€b']);
});

test('invalid UTF-8 becomes U+FFFD', () => {
  assert.deepEqual(frame([Buffer.from([0x61, 0xff, 0x62, 0x0a])]), ['a\ufffdb']);
});

test('a 40,000-byte line arrives whole across 16 KiB parts, never cut inside a character', () => {
  const line = 'é'.repeat(20_000); // 40,000 bytes
  const chunks = [];
  const buf = Buffer.from(line + '\nnext\n');
  for (let i = 0; i < buf.length; i += 1000) chunks.push(buf.subarray(i, i + 1000));
  const out = frame(chunks);
  const parts = out.filter((x) => Array.isArray(x));
  assert.equal(parts.length, 3);
  assert.deepEqual(parts.map((p) => p[1]), [1, 2, 3]);
  for (const [text] of parts) {
    assert.ok(Buffer.byteLength(text) <= MAX_PART);
    assert.ok(!text.includes('\ufffd'));
  }
  assert.equal(parts.map((p) => p[0]).join(''), line);
  assert.equal(out.at(-1), 'next');
});

test('a long line in one read, and one ending at EOF without newline', () => {
  const line = 'x'.repeat(MAX_PART * 2 + 5);
  const out = frame([line]);
  assert.deepEqual(out.map((p) => p[1]), [1, 2, 3]);
  assert.equal(out.map((p) => p[0]).join(''), line);
  assert.deepEqual(frame(['y'.repeat(MAX_PART) + '\n']), ['y'.repeat(MAX_PART)], 'exactly 16 KiB is one record, no part');
});
