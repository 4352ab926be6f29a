// The stop sequence as PID 1: the whole process group is signalled and waited for,
// grace bounds the wait, a second SIGTERM escalates at once.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, runCorral, killAll, until } from '../helpers.js';

afterEach(killAll);

test('SIGTERM reaches three grandchildren that take 0.5 s, and corral waits for them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-gk-'));
  const c = runCorral(['--grace', '10s', '--', 'python3', fixture('grandkids.py'), dir], { pid1: true });
  await c.waitFor(/ready/);
  const sent = Date.now();
  await c.kill('SIGTERM');
  const r = await c.exited;
  assert.deepEqual(readdirSync(dir).sort(), ['done-0', 'done-1', 'done-2'], 'every grandchild finished');
  assert.ok(r.at - sent >= 450, `corral waited for the grandchildren (${r.at - sent} ms)`);
  // init mode: the worker itself died of SIGTERM
  assert.equal(r.code, 143, r.stderr);
});

test('a worker ignoring SIGTERM is SIGKILLed after --grace 1s; corral exits within 1.5 s', async () => {
  const c = runCorral(['--grace', '1s', '--', 'python3', fixture('signals.py'), '--ignore-term'], { pid1: true });
  await c.waitFor(/ready/);
  const sent = Date.now();
  await c.kill('SIGTERM');
  await c.waitFor(/signal SIGTERM/);
  const r = await c.exited;
  const took = r.at - sent;
  assert.equal(r.code, 137, 'init mode: the worker was SIGKILLed');
  assert.ok(took >= 950, `waited for the grace period (${took} ms)`);
  assert.ok(took < 1500, `exited within 1.5 s of SIGTERM (${took} ms)`);
  assert.ok(c.records().some((rec) => rec.event === 'stop' && /SIGKILL/.test(rec.msg)), 'the kill is logged');
});

test('a second SIGTERM escalates to SIGKILL at once', async () => {
  const c = runCorral(['--grace', '30s', '--', 'python3', fixture('signals.py'), '--ignore-term'], { pid1: true });
  await c.waitFor(/ready/);
  await c.kill('SIGTERM');
  await c.waitFor(/signal SIGTERM/);
  const second = Date.now();
  await c.kill('SIGTERM');
  const r = await c.exited;
  assert.equal(r.code, 137);
  assert.ok(r.at - second < 1000, `escalated at once (${r.at - second} ms)`);
});

test('SIGINT stops like SIGTERM; the worker gets the stop signal', async () => {
  const c = runCorral(['--', 'python3', fixture('signals.py')], { pid1: true });
  await c.waitFor(/ready/);
  await c.kill('SIGINT');
  const r = await c.exited;
  assert.match(r.stdout, /signal SIGTERM/);
  assert.equal(r.code, 0, 'the worker exited 0 after handling SIGTERM');
});

test('--stop-signal is what the workers get', async () => {
  const c = runCorral(['--stop-signal', 'SIGINT', '--', 'python3', fixture('signals.py')], { pid1: true });
  await c.waitFor(/ready/);
  await c.kill('SIGTERM');
  await c.waitFor(/signal SIGINT/);
  await c.kill('SIGTERM'); // the fixture does not exit on SIGINT: escalate
  const r = await c.exited;
  assert.equal(r.code, 137);
});

test('pool mode: a clean stop exits 0, a forced one 1', async () => {
  const clean = runCorral(['--workers', '3', '--', 'python3', fixture('signals.py')], { pid1: true });
  await clean.waitFor(/(ready[^\n]*\n[^]*){3}/);
  await clean.kill('SIGTERM');
  const r1 = await clean.exited;
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(r1.stdout.match(/signal SIGTERM/g)?.length, 3);

  const forced = runCorral(['--workers', '2', '--grace', '300ms', '--', 'python3', fixture('signals.py'), '--ignore-term'], { pid1: true });
  await forced.waitFor(/(ready[^\n]*\n[^]*){2}/);
  await forced.kill('SIGTERM');
  const r2 = await forced.exited;
  assert.equal(r2.code, 1);
});

test('pool mode: when every worker exits on its own, the first failing status is the exit code', async () => {
  const c = runCorral(['--workers', '3', '--restart', 'never', '--', 'sh', '-c', 'exit $((CORRAL_WORKER * 2))'], { pid1: true });
  const r = await c.exited;
  assert.ok(r.code === 2 || r.code === 4, `a failing worker's code, got ${r.code}`);
  const ok = await runCorral(['--workers', '2', '--restart', 'never', '--', 'true'], { pid1: true }).exited;
  assert.equal(ok.code, 0);
});

test('a daemonised grandchild (own session) is stopped before corral exits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-daemon-'));
  const marker = join(dir, 'stopped');
  // The worker leaves a setsid'd daemon behind and exits; corral (as subreaper, not
  // PID 1) must stop it before exiting.
  const c = runCorral(['--', fixture('daemon.sh'), marker]);
  const r = await c.exited;
  assert.match(r.stdout, /daemon-up/);
  assert.equal(r.code, 0);
  assert.ok(existsSync(marker), 'the daemon got SIGTERM');
});

test('a SIGTERM that arrives while corral is still starting is not lost', async () => {
  const c = runCorral(['--', 'sleep', '30'], { pid1: true });
  // Before node runs any JS, a SIGTERM to a namespace's init is lost (node's own C++
  // handler re-raises it and the kernel drops it for init); the window corral covers
  // starts when its executable's first handlers are in (SigCgt has SIGHUP's bit: node
  // itself catches SIGTERM and SIGINT from the start).
  const pid = await c.corralPid();
  await until(() => {
    try {
      const caught = /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))[1];
      return BigInt(`0x${caught}`) & 1n;
    } catch {
      return false;
    }
  }, { intervalMs: 1, what: 'a SIGTERM handler in corral' });
  await c.kill('SIGTERM');
  const r = await c.exited;
  assert.ok(r.ms < 5000, `stopped promptly (${r.ms} ms)`);
  assert.ok(r.code === 143 || r.code === 0, `exit ${r.code}`);
});
