// corral as the PID 1 of real OCI containers (runc, the runtime under Docker, containerd
// and Kubernetes). Each case names the Docker command it stands for. Skipped, with the
// reason printed, where runc or root is missing; .ci/run installs runc.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import pty from 'node-pty';
import { freePort, http, infer, until } from '../helpers.js';
import { bundle, cleanupContainers, corral, inside, runcMissing } from '../runc.js';

const skip = runcMissing() ?? false;
afterEach(cleanupContainers);

/** Runs the container in the foreground with pipes; collects its output and exit. */
function start(c) {
  const child = c.run();
  const out = { text: '' };
  child.stdout.setEncoding('utf8').on('data', (d) => (out.text += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (out.text += d));
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const records = () =>
    out.text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
  return { child, out, exited, records };
}

const readyCount = (r) => r.records().filter((x) => x.event === 'ready').length;

test('docker stop: a pool of 2 Python batch workers under load drains and exits 0 well within 10 s', { skip, timeout: 60_000 }, async (t) => {
  // docker run --name llm -p 8080:8080 -p 9000:9000 image \
  //   corral --listen :8080 --workers 2 --ready notify -- python3 server.py
  // docker stop llm            (SIGTERM; SIGKILL after 10 s)
  const [port, httpPort] = [await freePort(), await freePort()];
  const c = bundle({
    args: corral('--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`, '--workers', '2', '--ready', 'notify', '--', 'python3', '/corral/examples/python-batch-worker/server.py'),
    env: { CORRAL_LOG_FORMAT: 'json', MAX_BATCH: '16', MAX_WAIT_MS: '150' },
  });
  const r = start(c);
  await until(() => readyCount(r) === 2, { what: 'both workers ready', timeoutMs: 30_000 });
  assert.equal((await http(httpPort, '/readyz')).status, 200);

  // Load: 8 clients, each sends its next request when the last is answered. The batch
  // window (150 ms) keeps requests queued in the workers at any moment.
  let sending = true;
  const results = [];
  const clients = Array.from({ length: 8 }, async (_, k) => {
    for (let i = 0; sending; i++) results.push(await infer(port, k * 1000 + i));
  });
  await until(() => results.length >= 40, { what: 'load flowing', timeoutMs: 20_000 });
  // The load balancer has taken the container out: no new requests from here on.
  sending = false;
  const stopAt = Date.now();
  assert.equal(c.kill('TERM').status, 0);
  await Promise.all(clients);
  const end = await r.exited;
  const ms = end.at - stopAt;
  t.diagnostic(`${results.length} requests answered; docker stop took ${ms} ms`);
  assert.deepEqual(results.filter((x) => x.status !== 200), [], 'every request in flight at SIGTERM was answered');
  assert.equal(end.code, 0, r.out.text.slice(-2000));
  assert.ok(ms < 5000, `stopped in ${ms} ms, well within docker stop's 10 s`);
  const exits = r.records().filter((x) => x.event === 'exit' && x.pool === 'main');
  assert.deepEqual(exits.map((x) => x.code), [0, 0], 'both workers exited 0 after draining');
});

test('docker stop with --grace 30s and workers that ignore SIGTERM: the runtime\'s SIGKILL at 10 s ends everything', { skip, timeout: 60_000 }, async (t) => {
  // docker run --name llm image corral --grace 30s --workers 2 -- python3 signals.py --ignore-term
  // docker stop llm            (SIGTERM; after 10 s the runtime SIGKILLs the container's init)
  const c = bundle({ args: corral('--grace', '30s', '--workers', '2', '--', 'python3', inside('signals.py'), '--ignore-term', '--children', '1'), env: { CORRAL_LOG_FORMAT: 'json' } });
  const r = start(c);
  await until(() => (r.out.text.match(/child 0: up/g) ?? []).length === 2 && (r.out.text.match(/ready \(pid/g) ?? []).length === 2, { what: 'workers and their children up', timeoutMs: 30_000 });
  const pids = c.pids();
  assert.ok(pids.length >= 5, `corral, 2 workers and 2 grandchildren in the container: ${pids}`);
  const termAt = Date.now();
  c.kill('TERM');
  await until(() => (r.out.text.match(/signal SIGTERM/g) ?? []).length >= 4, { what: 'SIGTERM reached every process of both groups' });
  // docker stop's timeout: the runtime waits 10 s for the container to exit on its own.
  const early = await Promise.race([r.exited, new Promise((res) => setTimeout(res, 10_000 - (Date.now() - termAt), 'still running'))]);
  assert.equal(early, 'still running', 'corral is still within its 30 s grace, draining, when the runtime loses patience');
  assert.equal(c.state(), 'running');
  c.kill('KILL');
  const end = await r.exited;
  t.diagnostic(`runc exited ${end.code ?? end.signal} ${end.at - termAt} ms after SIGTERM`);
  assert.equal(end.code, 137, 'the container died of SIGKILL');
  // The PID namespace went with its init: nothing of the container is left running.
  await until(() => pids.every((p) => !alive(p)), { what: `every process of the container gone (${pids})`, timeoutMs: 5000 });
  assert.notEqual(c.state(), 'running');
});

function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

test('docker run -it image corral -- bash: Ctrl-C reaches bash, exit 7 gives 7, and the screen shows no corral record', { skip, timeout: 60_000 }, async (t) => {
  // docker run -it image corral -- bash
  const c = bundle({ args: corral('--', 'bash', '--norc', '--noprofile'), terminal: true, env: { PS1: 'ctr$ ' } });
  let screen = '';
  const term = c.run((file, argv) => pty.spawn(file, argv, { name: 'xterm', cols: 100, rows: 30, env: process.env }));
  term.onData((d) => (screen += d));
  const exited = new Promise((resolve) => term.onExit(resolve));
  const prompts = () => (screen.match(/ctr\$ /g) ?? []).length;
  await until(() => prompts() >= 1, { what: `bash's prompt (screen: ${JSON.stringify(screen)})`, timeoutMs: 30_000 });
  term.write('sleep 100\r');
  const sleeping = () => c.pids().find((p) => readCmd(p).startsWith('sleep'));
  const sleeper = await until(sleeping, { what: 'sleep running in the container' });
  term.write('\x03');
  await until(() => !alive(sleeper) && prompts() >= 2, { what: 'Ctrl-C ended sleep and bash prompted again' });
  term.write('echo alive-$((3+4))\r');
  await until(() => screen.includes('alive-7'), { what: 'bash still answering after Ctrl-C' });
  term.write('exit 7\r');
  const end = await exited;
  // eslint-disable-next-line no-control-regex -- the terminal's escape sequences are what it strips
  const plain = screen.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  t.diagnostic(`screen: ${JSON.stringify(plain)}`);
  assert.equal(end.exitCode, 7, 'the container exited with bash\'s code');
  assert.match(plain, /\^C/, 'the terminal echoed the Ctrl-C to bash');
  assert.doesNotMatch(plain, /corral|"level"|"event"/, 'no corral record on the terminal');
});

function readCmd(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

test('docker run --read-only --user 10001 --cap-drop ALL: corral starts, /readyz answers, notify readiness works, SIGTERM exits 0', { skip, timeout: 60_000 }, async () => {
  // docker run --read-only --user 10001:10001 --cap-drop ALL -e CORRAL_USER=10001 image \
  //   corral --listen :8080 --workers 2 --ready notify -- python3 listen.py --notify
  // (CORRAL_USER names corral's own uid, as an image's CORRAL_USER=serve does under
  // runAsNonRoot: no switch is needed, so it is accepted.)
  const [port, httpPort] = [await freePort(), await freePort()];
  const c = bundle({
    args: corral('--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`, '--workers', '2', '--ready', 'notify', '--', 'python3', inside('listen.py'), '--notify'),
    user: { uid: 10001, gid: 10001 },
    readonly: true,
    caps: [],
    env: { CORRAL_LOG_FORMAT: 'json', CORRAL_USER: '10001' },
  });
  const r = start(c);
  await until(async () => (await http(httpPort, '/readyz')).status === 200, { what: `/readyz 200 (${r.out.text.slice(-1500)})`, timeoutMs: 30_000 });
  // With --ready notify, a worker is ready only by its READY=1.
  await until(() => r.records().filter((x) => x.event === 'ready').length === 2, { what: 'two ready records' });
  const served = JSON.parse((await http(port, '/')).body);
  assert.ok(served.worker === 0 || served.worker === 1);
  const ids = readFileSync(`/proc/${c.pids()[0]}/status`, 'latin1');
  assert.match(ids, /^Uid:\s+10001\s/m, 'corral runs as uid 10001');
  assert.match(ids, /^CapEff:\s+0+$/m, 'with no capability');
  c.kill('TERM');
  const end = await r.exited;
  assert.equal(end.code, 0, r.out.text.slice(-2000));
});

test('--user as a non-root corral is a clear one-line error, exit 2, nothing spawned', { skip, timeout: 60_000 }, async () => {
  // docker run --user 10001 image corral --user 10002 -- python3 serve.py
  const c = bundle({ args: corral('--user', '10002', '--', 'python3', inside('signals.py')), user: { uid: 10001, gid: 10001 }, caps: [] });
  const r = start(c);
  const end = await r.exited;
  assert.equal(end.code, 2);
  const lines = r.out.text.trim().split('\n');
  assert.equal(lines.length, 1, r.out.text);
  assert.match(lines[0], /^corral: .*--user 10002.*not root/);
  assert.doesNotMatch(r.out.text, /spawn|at .*\.js/);
});

test('HEALTHCHECK corral probe livez: 0 while corral runs, non-zero once a pool has given up', { skip, timeout: 90_000 }, async (t) => {
  // HEALTHCHECK CMD corral probe livez --http 127.0.0.1:9000
  const httpPort = await freePort();
  const c = bundle({ args: corral('--config', '/etc/corral.toml'), env: { CORRAL_LOG_FORMAT: 'json' } });
  // Pool "serve" ignores SIGTERM, so the stop after the give-up lasts its grace; pool
  // "broken" fails every start and gives up after 5.
  writeFileSync(
    join(c.dir, 'rootfs', 'etc', 'corral.toml'),
    `http = "127.0.0.1:${httpPort}"\ngrace = "20s"\n[pools.serve]\ncommand = ["python3", "${inside('signals.py')}", "--ignore-term"]\nworkers = 1\n[pools.broken]\ncommand = ["sh", "-c", "exit 3"]\nworkers = 1\nrestart = "always"\n`,
  );
  const probe = () => c.exec(corral('probe', 'livez', '--http', `127.0.0.1:${httpPort}`));
  const r = start(c);
  await until(() => r.records().some((x) => x.event === 'spawn' && x.pool === 'broken'), { what: 'corral up', timeoutMs: 30_000 });
  await until(() => probe().status === 0, { what: 'the probe answering 0', timeoutMs: 10_000 });
  const gaveUp = await until(() => r.records().find((x) => x.event === 'give_up'), { what: 'the pool giving up', timeoutMs: 60_000 });
  const p = probe();
  t.diagnostic(`after give_up (${gaveUp.msg}): probe exit ${p.status}: ${p.stdout}${p.stderr}`);
  assert.notEqual(p.status, 0, 'the probe fails once the pool gave up');
  assert.equal(c.state(), 'running', 'corral was still running (stopping), so the probe was answered by corral');
  c.kill('KILL');
  await r.exited;
});

test('docker kill --signal URG (runc forwards Go runtime SIGURGs): forwarded, logged at debug, not at info', { skip, timeout: 60_000 }, async () => {
  // docker kill --signal URG llm; docker stop llm
  const c = bundle({ args: corral('--log-level', 'debug', '--workers', '2', '--', 'python3', inside('signals.py')), env: { CORRAL_LOG_FORMAT: 'json' } });
  const r = start(c);
  await until(() => (r.out.text.match(/ready \(pid/g) ?? []).length === 2, { what: 'workers up', timeoutMs: 30_000 });
  c.kill('URG');
  await until(() => (r.out.text.match(/signal SIGURG/g) ?? []).length === 2, { what: 'SIGURG at both workers' });
  c.kill('TERM');
  const end = await r.exited;
  assert.equal(end.code, 0);
  const urg = r.records().filter((x) => x.event === 'signal' && x.signal === 'SIGURG');
  assert.ok(urg.length >= 1, 'corral recorded the forward');
  assert.deepEqual(urg.filter((x) => x.level >= 30), [], 'never at info or above');
});

const imageCmd = process.env.CORRAL_TEST_IMAGE_CMD;
test('the built image as shipped: its ENTRYPOINT and CMD serve /infer with 2 CPU workers as serve, docker stop -t 30 exits 0', { skip: imageCmd ? false : 'only on an image built from Dockerfile.example (scripts/image-test.sh)', timeout: 90_000 }, async () => {
  // docker run --rm -e CORRAL_WORKERS=2 -p 8080:8080 -p 9000:9000 llm-server
  // docker stop -t 30 <ctr>
  const c = bundle({ args: JSON.parse(imageCmd ?? '[]'), env: { CORRAL_WORKERS: '2' } });
  const r = start(c);
  await until(async () => (await http(9000, '/readyz')).status === 200, { what: `/readyz 200 on :9000 (${r.out.text.slice(-1500)})`, timeoutMs: 60_000 });
  const answers = await Promise.all([1, 2, 3, 4].map((i) => infer(8080, i)));
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200]);
  const workers = c.pids().filter((p) => readCmd(p).includes('/app/server.py'));
  assert.equal(workers.length, 2);
  for (const p of workers) assert.match(readFileSync(`/proc/${p}/status`, 'latin1'), /^Uid:\s+10001\s/m, 'workers run as serve (CORRAL_USER)');
  const stopAt = Date.now();
  c.kill('TERM');
  const end = await r.exited;
  assert.equal(end.code, 0, r.out.text.slice(-2000));
  assert.ok(end.at - stopAt < 30_000, 'within docker stop -t 30');
});
