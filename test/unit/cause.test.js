// SPEC §9's exit causes, first match wins, from the facts the shell hands over.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitCause } from '../../dist/supervisor/cause.js';
import { findByIndexOf, lineWith, stickyIn, CUDA_STICKY } from '../../dist/logs/faults.js';

const facts = (status, more = {}) => ({ status, stopReason: null, killSent: false, oomRose: false, lastLines: [], ...more });
const kill = { code: null, signal: 'SIGKILL' };
const oomTb = 'Traceback (most recent call last):\n  File "serve.py", line 9, in <module>\n    y = model(x)\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB';

test('an unsent SIGKILL while the OOM count rose is oom_kill, whatever else is true', () => {
  assert.equal(exitCause(facts(kill, { oomRose: true })).cause, 'oom_kill');
  assert.equal(exitCause(facts(kill, { oomRose: true, stopReason: 'shutdown' })).cause, 'oom_kill', 'killed by the kernel during its drain');
  assert.equal(exitCause(facts(kill, { oomRose: true, killSent: true, stopReason: 'shutdown' })).cause, 'shutdown', 'corral sent it');
  assert.equal(exitCause(facts(kill, { oomRose: true, killSent: true })).cause, 'killed');
  assert.equal(exitCause(facts(kill)).cause, 'killed');
});

test("corral's own stops keep their reason over the lines", () => {
  for (const r of ['shutdown', 'rolling', 'watchdog', 'startup_timeout', 'max_rss', 'cuda_error']) {
    assert.equal(exitCause(facts({ code: null, signal: 'SIGTERM' }, { stopReason: r, lastLines: [oomTb] })).cause, r);
  }
});

test('lines: CUDA OOM before sticky errors before the signal; a traceback last is an exception', () => {
  const v = exitCause(facts({ code: 1, signal: null }, { lastLines: ['loading', oomTb] }));
  assert.deepEqual(v, { cause: 'cuda_oom', detail: 'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB' });
  assert.equal(exitCause(facts({ code: null, signal: 'SIGABRT' }, { lastLines: ['RuntimeError: CUDA error: an illegal memory access was encountered'] })).cause, 'cuda_error');
  assert.equal(exitCause(facts({ code: null, signal: 'SIGSEGV' })).cause, 'crash');
  assert.equal(exitCause(facts({ code: null, signal: 'SIGABRT' })).cause, 'crash');
  assert.deepEqual(exitCause(facts({ code: 1, signal: null }, { lastLines: ['x', 'Traceback (most recent call last):\n  File "a.py", line 1\nKeyError: \'w\''] })), { cause: 'exception', detail: "KeyError: 'w'" });
  assert.equal(exitCause(facts({ code: 1, signal: null }, { lastLines: ['Traceback (most recent call last):\nKeyError: 1', 'cleanup done'] })).cause, 'error', 'the last record is not the traceback');
  assert.equal(exitCause(facts({ code: null, signal: 'SIGTERM' })).cause, 'error');
  assert.equal(exitCause(facts({ code: 0, signal: null })).cause, 'clean');
});

test('a JSON line never matches, even when it quotes the words', () => {
  const quoted = '{"msg":"POST /infer: CUDA out of memory? device-side assert triggered?","status":500}';
  assert.equal(exitCause(facts({ code: 2, signal: null }, { lastLines: [quoted] })).cause, 'error');
  assert.equal(lineWith(quoted, CUDA_STICKY), null);
  assert.equal(stickyIn(Buffer.from(`${quoted}\nplain\n`)), null);
  assert.equal(stickyIn(Buffer.from(`${quoted}\nRuntimeError: CUDA error: device-side assert triggered\nnext\n`)), 'RuntimeError: CUDA error: device-side assert triggered');
  assert.equal(stickyIn(Buffer.from('[rank0]: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled system error\n')), '[rank0]: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled system error');
});

test("the addon's phrase search finds what Buffer#indexOf finds, at any offset, split or not", () => {
  // A small alphabet makes near-misses common: every shift of the table is exercised.
  let seed = 12345;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const alphabet = 'CUDA error: NCCL device-side assert unspecified launch ECC Watchdog\n{}';
  for (let round = 0; round < 2000; round++) {
    let text = '';
    const len = rand(300);
    for (let i = 0; i < len; i++) text += alphabet[rand(alphabet.length)];
    if (rand(3) === 0) {
      const p = CUDA_STICKY[rand(CUDA_STICKY.length)];
      const at = rand(text.length + 1);
      text = text.slice(0, at) + p + text.slice(at);
    }
    const buf = Buffer.from(text);
    const start = rand(buf.length + 1);
    const end = start + rand(buf.length - start + 1);
    assert.equal(stickyIn(buf, start, end), stickyIn(buf, start, end, findByIndexOf), `round ${round}: ${JSON.stringify(text)} [${start}, ${end})`);
  }
});
