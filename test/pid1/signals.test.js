// Signals: forwarded to every worker's whole process group; SIGUSR1 never opens
// Node's inspector; SIGHUP restarts the worker.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { connect } from 'node:net';
import { fixture, killAll, runCorral, until } from '../helpers.js';

afterEach(killAll);

for (const pid1 of [true, false]) {
  const mode = pid1 ? 'as PID 1' : 'as subreaper';

  test(`forwarded signals reach the worker and its grandchildren (${mode})`, async () => {
    const c = runCorral(['--', 'python3', fixture('signals.py'), '--children', '2'], { pid1 });
    await c.waitFor(/ready/);
    // Both grandchildren must have their handlers in place before the first signal.
    await until(() => /^child 0: up$/m.test(c.out.stdout) && /^child 1: up$/m.test(c.out.stdout), { what: 'both children up' });
    for (const sig of ['SIGUSR2', 'SIGQUIT', 'SIGWINCH', 'SIGCONT', 'SIGALRM']) {
      await c.kill(sig);
      // the worker and both grandchildren echo it, in any order: wait for each by name
      for (const who of ['', 'child 0: ', 'child 1: ']) {
        await until(() => new RegExp(`^${who}signal ${sig}$`, 'm').test(c.out.stdout), { what: `${who || 'worker: '}${sig}` });
      }
    }
    await c.kill('SIGTERM');
    const r = await c.exited;
    assert.equal(r.code, 0);
    const fwd = c.records().filter((rec) => rec.event === 'signal' && rec.action === 'forward');
    assert.equal(fwd.length, 5, 'each forwarded signal is logged');
  });
}

function listening(port) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

test('SIGUSR1 reaches the worker and never opens the inspector on 9229', async () => {
  assert.equal(await listening(9229), false, 'nothing listens on 9229 before the test');
  const c = runCorral(['--', 'python3', fixture('signals.py')]);
  await c.waitFor(/ready/);
  await c.kill('SIGUSR1');
  await c.waitFor(/signal SIGUSR1/);
  // corral is alive and has handled the signal: an inspector would be up by now.
  await c.kill('SIGUSR2');
  await c.waitFor(/signal SIGUSR2/);
  assert.equal(await listening(9229), false, 'no inspector on 127.0.0.1:9229');
  assert.doesNotMatch(c.out.stderr, /Debugger listening/);
  await c.kill('SIGTERM');
  await c.exited;
});

test('SIGHUP restarts the worker (new pid), and the stop still works after', async () => {
  const c = runCorral(['--', 'python3', fixture('signals.py')], { pid1: true });
  const [, first] = await c.waitFor(/ready \(pid: (\d+)/);
  await c.kill('SIGHUP');
  await c.waitFor(/signal SIGTERM/);
  const [, second] = await c.waitFor(/ready \(pid: (\d+)[^]*ready \(pid: (\d+)/).then((m) => [m[0], m[2]]);
  assert.notEqual(first, second);
  await c.kill('SIGTERM');
  const r = await c.exited;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(c.records().some((rec) => rec.event === 'restart' && rec.reason === 'rolling'));
});

test('SIGHUP: a worker that ignores the stop signal is SIGKILLed after grace and replaced', async () => {
  const c = runCorral(['--grace', '500ms', '--', 'python3', fixture('signals.py'), '--ignore-term'], { pid1: true });
  const [, first] = await c.waitFor(/ready \(pid: (\d+)/);
  await c.kill('SIGHUP');
  const m = await c.waitFor(/ready \(pid: \d+[^]*ready \(pid: (\d+)/);
  assert.notEqual(m[1], first);
  const exit = c.records().find((rec) => rec.event === 'exit' && rec.worker === 0);
  assert.equal(exit.signal, 'SIGKILL');
  assert.equal(exit.reason, 'rolling');
  await c.kill('SIGTERM');
  await c.kill('SIGTERM');
  const r = await c.exited;
  assert.equal(r.code, 137);
});
