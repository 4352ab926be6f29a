// Seeded, reproducible fuzzing of what users and workers hand corral: mutated config files
// (each is valid or one `corral:` line with exit 2, never an internal error, never slow),
// hostile sd_notify datagrams (corral keeps serving; metric cardinality stays bounded) and
// malformed HTTP requests (never a 5xx, never a crash). The seed is printed in every
// failure; CORRAL_FUZZ_SEED=<n> replays a run.
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { parseInvocation } from '../../dist/cli/options.js';
import { preparePools } from '../../dist/cli/prepare.js';
import { effectiveConfigJson } from '../../dist/config/effective.js';
import { CorralError } from '../../dist/errors.js';
import { native } from '../../dist/native/index.js';
import { freePort, http, killAll, root, runCorral, until } from '../helpers.js';

afterEach(killAll);

const SEED = Number(process.env.CORRAL_FUZZ_SEED ?? 20261201);

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (xs) => xs[int(xs.length)] };
}

const VALUES = ['-1', '0', '1', '""', '"gpu"', '"off"', '1e309', '"99999h"', '"1000h"', '18446744073709551616', '"\\u0000"', '[', '"', 'true', '[1, 2]', '{ a = 1 }',
  '"0.0.0.0:99999"', '"[::1]:9000"', '"tcp:{port}"', '"http://x/{worker}"', '"SIGKILL"', '"SIGNOPE"', '"512MiB"', '"-5s"', '"root"', '"nobody:nogroup"', '1000000000', '3.5', '"../x"'];
const KEYS = ['workers', 'gpus', 'workers_per_gpu', 'restart', 'ready', 'ready_timeout', 'watchdog', 'listen', 'port_base', 'stop_signal', 'min_ready', 'user', 'max_rss', 'pty', 'cwd',
  'http', 'grace', 'drain_delay', 'log_format', 'log_level', 'feedback_file', 'wrokers', 'command', 'env'];

function mutate(text, r) {
  const lines = text.split('\n');
  const n = 1 + r.int(4);
  for (let k = 0; k < n; k++) {
    const i = r.int(lines.length);
    switch (r.int(7)) {
      case 0: // a value replaced
        lines[i] = (lines[i] ?? '').replace(/=.*$/, `= ${r.pick(VALUES)}`);
        break;
      case 1: // a line dropped
        lines.splice(i, 1);
        break;
      case 2: // a line repeated
        lines.splice(i, 0, lines[i] ?? '');
        break;
      case 3: // a key added, maybe in the wrong table
        lines.splice(i, 0, `${r.pick(KEYS)} = ${r.pick(VALUES)}`);
        break;
      case 4: // a table header
        lines.splice(i, 0, r.pick(['[pools.x]', '[pools."weird name"]', '[pools.infer]', '[pools]', '[[pools]]', '[pools.a.env]', '[x]']));
        break;
      case 5: // random bytes in a line
        lines[i] = `${lines[i] ?? ''}${String.fromCharCode(...Array.from({ length: 1 + r.int(6) }, () => r.int(0x3000)))}`;
        break;
      default: // cut short
        lines.length = Math.max(1, i);
    }
  }
  return lines.join('\n');
}

test(`200 mutated configs: valid, or one corral: line with exit 2 (seed ${SEED})`, () => {
  const r = rng(SEED);
  const base = readFileSync(join(root, 'examples', 'corral.toml'), 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'corral-fuzz-'));
  const outcomes = { valid: 0, usage: 0 };
  for (let i = 0; i < 200; i++) {
    const text = mutate(base, r);
    const file = join(dir, `case-${i}.toml`);
    writeFileSync(file, text);
    const started = Date.now();
    try {
      const inv = parseInvocation(['check-config', '--config', file], { PATH: process.env.PATH }, false, '0.0.0');
      if (inv.kind === 'check-config') {
        preparePools(inv.config, null, { PATH: process.env.PATH });
        effectiveConfigJson(inv.config);
      }
      outcomes.valid++;
    } catch (err) {
      assert.ok(err instanceof CorralError, `seed ${SEED} case ${i}: not a usage error but ${err?.stack ?? err}\n--- ${file}`);
      assert.equal(err.exitCode, 2, `seed ${SEED} case ${i}: ${err.line()}`);
      const line = err.line();
      assert.ok(line.startsWith('corral: ') && !/[\r\n]/.test(line), `seed ${SEED} case ${i}: one line: ${JSON.stringify(line)}`);
      outcomes.usage++;
    }
    assert.ok(Date.now() - started < 10_000, `seed ${SEED} case ${i} took ${Date.now() - started} ms`);
  }
  assert.ok(outcomes.usage > 50 && outcomes.valid > 5, `seed ${SEED}: a mix of valid and invalid files (${JSON.stringify(outcomes)})`);
});

// The flood comes from the worker itself (so each datagram is attributed to it and
// parsed) and from a stranger (corral's test process: never attributed).
const FLOOD = String.raw`
import os, random, socket, sys
r = random.Random(int(sys.argv[1]))
a = os.environ["NOTIFY_SOCKET"]; a = "\0" + a[1:] if a.startswith("@") else a
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect(a)
s.send(b"READY=1")
keys = ["READY", "STATUS", "WATCHDOG", "STOPPING", "ERRNO", "X_CORRAL_BATCH", "MAINPID", "FDSTORE", "", "=", "X_" + "A" * 100]
def value():
    return r.choice(["1", "0", "", "-1", "x" * r.randrange(5000), "%d %f" % (r.randrange(10**9), r.random()),
                     "%d 1e308" % 2**53, "NaN NaN", "%d %f" % (r.randrange(64), r.random() / 10), "\0\x1b[2J", "3 -1", "1e3 0.1"])
sent = 0
for i in range(3000):
    if r.randrange(4) == 0:
        msg = bytes(r.randrange(256) for _ in range(r.randrange(2000)))
    else:
        msg = r.choice(["\n", "\n\n", "\r\n"]).join("%s=%s" % (r.choice(keys), value()) for _ in range(1 + r.randrange(5))).encode("utf-8", "surrogateescape")
    try:
        s.send(msg); sent += 1
    except OSError:
        pass
s.send(b"READY=1\nSTATUS=flood done")
print("flood sent %d NOTIFY_SOCKET=%s" % (sent, os.environ["NOTIFY_SOCKET"]), flush=True)
import signal
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True: signal.pause()
`;

test(`hostile sd_notify datagrams: corral keeps serving, metric series stay bounded (seed ${SEED})`, { timeout: 60_000 }, async () => {
  const hp = await freePort();
  const c = runCorral(['--http', `127.0.0.1:${hp}`, '--workers', '2', '--ready', 'notify', '--', 'python3', '-c', FLOOD, String(SEED)]);
  const [, sent, socket] = await c.waitFor(/flood sent (\d+) NOTIFY_SOCKET=(\S+)/, 'stdout', 30_000);
  assert.ok(Number(sent) > 1000, `seed ${SEED}: datagrams were accepted (${sent})`);
  await until(async () => (await http(hp, '/readyz')).status === 200, { what: 'ready' });
  // A stranger's datagrams: counted, never applied.
  const r = rng(SEED + 1);
  const addon = native();
  for (let i = 0; i < 500; i++) addon.notifySend(socket, r.int(2) ? 'READY=1\nSTATUS=stranger' : Buffer.from(Array.from({ length: r.int(500) }, () => r.int(256))).toString('latin1'));
  await until(async () => (await http(hp, '/livez')).status === 200, { what: 'livez after the flood' });
  const metrics = (await http(hp, '/metrics')).body;
  const series = metrics.split('\n').filter((l) => l.startsWith('corral_'));
  // Batch sizes fall into at most 12 labels per pool; nothing else takes a label from a worker.
  assert.ok(series.length < 400, `seed ${SEED}: ${series.length} corral_ series`);
  assert.ok(new Set(series.filter((l) => l.startsWith('corral_batch_duration_seconds_count')).map((l) => l)).size <= 12, `seed ${SEED}: batch_size labels bounded`);
  const st = JSON.parse((await http(hp, '/status')).body);
  for (const w of st.pools.main.workers) {
    assert.equal(w.state, 'ready', `seed ${SEED}: worker ${w.index} still ready`);
    assert.notEqual(w.status, 'stranger', `seed ${SEED}: a stranger's STATUS is not applied`);
    assert.equal(w.restarts, 0, `seed ${SEED}: no restart`);
  }
  await c.kill('SIGTERM');
  const end = await c.exited;
  assert.equal(end.code, 0, `seed ${SEED}: ${end.stderr.slice(-500)}`);
});

function rawRequest(port, bytes) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let out = '';
    s.setTimeout(3000, () => s.destroy());
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
    s.on('connect', () => s.end(bytes));
  });
}

test(`malformed HTTP requests: never a 5xx, never a crash (seed ${SEED})`, { timeout: 60_000 }, async () => {
  const r = rng(SEED + 2);
  const hp = await freePort();
  const c = runCorral(['--http', `127.0.0.1:${hp}`, '--', 'sleep', '600']);
  await until(async () => (await http(hp, '/livez')).status === 200, { what: 'livez' });
  const paths = ['/livez', '/readyz', '/metrics', '/status', '/healthz', '/', '/%zz', '/readyz?verbose', '//status', '/' + 'a'.repeat(9000), '/status#x', '*', 'http://x/livez'];
  const methods = ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS', 'BREW', 'G ET', '', 'get'];
  const statuses = new Map();
  for (let i = 0; i < 150; i++) {
    let req;
    switch (r.int(4)) {
      case 0:
        req = Buffer.from(Array.from({ length: 1 + r.int(600) }, () => r.int(256)));
        break;
      case 1:
        req = `${r.pick(methods)} ${r.pick(paths)} HTTP/1.1\r\nHost: x\r\n${'X-A: ' + 'b'.repeat(r.int(20000))}\r\n\r\n`;
        break;
      case 2:
        req = `${r.pick(methods)} ${r.pick(paths)} HTTP/${r.pick(['1.1', '1.0', '2.0', '0.9', 'x'])}\r\n${r.pick(['', 'Content-Length: -1\r\n', 'Transfer-Encoding: chunked\r\n\r\nzz\r\n', 'Content-Length: 5\r\n\r\nab'])}\r\n`;
        break;
      default:
        req = `GET ${r.pick(paths)} HTTP/1.1\r\n${Array.from({ length: r.int(80) }, (_, k) => `H${k}: v`).join('\r\n')}\r\n\r\n`;
    }
    const out = await rawRequest(hp, req);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(out);
    if (m) statuses.set(m[1], (statuses.get(m[1]) ?? 0) + 1);
    assert.ok(!m || !m[1].startsWith('5'), `seed ${SEED} request ${i}: ${m?.[1]} for ${JSON.stringify(String(req).slice(0, 200))}`);
  }
  assert.equal((await http(hp, '/livez')).status, 200, `seed ${SEED}: corral still answers`);
  assert.ok((statuses.get('200') ?? 0) + (statuses.get('404') ?? 0) > 0, `seed ${SEED}: some requests were well formed (${JSON.stringify([...statuses])})`);
  await c.kill('SIGTERM');
  const end = await c.exited;
  assert.equal(end.code, 143, `seed ${SEED}: init mode, sleep killed by SIGTERM`);
});
