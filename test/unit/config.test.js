// The configuration layer: defaults, precedence (flag > CORRAL_* env > file > default),
// pool overrides with --config, TOML and JSON alike, check-config's JSON, subcommand
// detection, and a corral started inside a corral worker.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseInvocation } from '../../dist/cli/options.js';
import { effectiveConfigJson } from '../../dist/config/effective.js';
import { fixture } from '../helpers.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'corral-config-')));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name, text) {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const parse = (argv, env = {}, tty = false) => parseInvocation(argv, env, tty, '9.9.9');
const run = (argv, env, tty) => {
  const inv = parse(argv, env, tty);
  assert.equal(inv.kind, 'run');
  return inv.config;
};

test('defaults of SPEC §1 for a command-line pool', () => {
  const c = run(['python3', 'serve.py']);
  assert.equal(c.source, null);
  assert.deepEqual(c.http, { host: '0.0.0.0', port: 9000 });
  assert.equal(c.graceMs, 25_000);
  assert.equal(c.drainDelayMs, 0);
  assert.equal(c.logFormat, 'json');
  assert.equal(c.logLevel, 'info');
  assert.equal(c.feedbackFile, null);
  assert.equal(c.pools.length, 1);
  assert.deepEqual(c.pools[0], {
    name: 'main',
    command: ['python3', 'serve.py'],
    workers: 1,
    gpus: 'auto',
    workersPerGpu: 1,
    restart: 'never',
    ready: { kind: 'started' },
    readyTimeoutMs: 600_000,
    watchdogMs: null,
    watchdogSignal: 'SIGQUIT',
    onCudaError: 'restart',
    threads: 'auto',
    threadsGiven: false,
    watch: [],
    watchIgnore: [],
    listen: null,
    portBase: null,
    stopSignal: 'SIGTERM',
    minReady: 1,
    user: null,
    maxRssBytes: null,
    pty: false,
    cwd: null,
    env: {},
  });
  assert.equal(run(['x'], {}, true).logFormat, 'pretty', 'pretty when stderr is a TTY');
});

test('restart defaults to never for one worker, always for more or for "gpu"', () => {
  assert.equal(run(['x']).pools[0].restart, 'never');
  assert.equal(run(['--workers', '2', 'x']).pools[0].restart, 'always');
  assert.equal(run(['--workers', 'gpu', 'x']).pools[0].restart, 'always');
  assert.equal(run(['--workers', '2', '--restart', 'on-failure', 'x']).pools[0].restart, 'on-failure');
});

test('every flag of SPEC §1 is accepted and typed', () => {
  const c = run([
    '--workers', 'gpu', '--gpus', '0,2', '--workers-per-gpu', '2', '--restart', 'on-failure', '--ready', 'notify',
    '--min-ready', '3', '--port-base', '8000', '--ready-timeout', '90s', '--watchdog', '500ms', '--listen', '[::]:8080',
    '--grace', '1m', '--drain-delay', '5', '--stop-signal', 'quit', '--http', 'off', '--log-format', 'pretty',
    '--log-level', 'WARN', '--pty', '--user', '1000:100', '--max-rss', '512MiB', '--feedback-file', 'fb.jsonl',
    '--', 'python3', 'serve.py', '--port', '1',
  ]);
  const p = c.pools[0];
  assert.deepEqual(p.command, ['python3', 'serve.py', '--port', '1']);
  assert.equal(p.workers, 'gpu');
  assert.deepEqual(p.gpus, ['0', '2']);
  assert.equal(p.workersPerGpu, 2);
  assert.equal(p.restart, 'on-failure');
  assert.deepEqual(p.ready, { kind: 'notify' });
  assert.equal(p.minReady, 3);
  assert.equal(p.portBase, 8000);
  assert.equal(p.readyTimeoutMs, 90_000);
  assert.equal(p.watchdogMs, 500);
  assert.deepEqual(p.listen, { host: '::', port: 8080 });
  assert.equal(p.stopSignal, 'SIGQUIT');
  assert.equal(p.pty, true);
  assert.equal(p.user, '1000:100');
  assert.equal(p.maxRssBytes, 512 * 2 ** 20);
  assert.equal(c.graceMs, 60_000);
  assert.equal(c.drainDelayMs, 5000);
  assert.equal(c.http, null);
  assert.equal(c.logFormat, 'pretty');
  assert.equal(c.logLevel, 'warn');
  assert.equal(c.feedbackFile, join(process.cwd(), 'fb.jsonl'));
});

test('options end at the first word that is not one', () => {
  const c = run(['--workers', '2', 'python3', 'serve.py', '--workers', '5']);
  assert.equal(c.pools[0].workers, 2);
  assert.deepEqual(c.pools[0].command, ['python3', 'serve.py', '--workers', '5']);
  assert.deepEqual(run(['--', '--weird-name']).pools[0].command, ['--weird-name']);
  assert.deepEqual(run(['--pty', '--', 'x']).pools[0].command, ['x']);
  assert.deepEqual(run(['python3', '--help']).pools[0].command, ['python3', '--help'], "the command's own --help");
  assert.deepEqual(run(['--grace=0', '0x10']).pools[0].command, ['0x10'], 'a number-like word stays a string');
});

test('--listen and --http: IPv4, [IPv6] and :PORT forms', () => {
  const listen = (v) => run(['--listen', v, 'x']).pools[0].listen;
  assert.deepEqual(listen('0.0.0.0:8080'), { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(listen('[::]:8080'), { host: '::', port: 8080 });
  assert.deepEqual(listen('[::1]:8081'), { host: '::1', port: 8081 });
  assert.deepEqual(listen(':8080'), { host: '0.0.0.0', port: 8080 });
  assert.equal(listen('off'), null);
  assert.deepEqual(run(['--http', 'localhost:9100', 'x']).http, { host: 'localhost', port: 9100 });
});

test('readiness specs keep their placeholders', () => {
  const ready = (v, extra = []) => run(['--ready', v, '--port-base', '8000', ...extra, 'x']).pools[0].ready;
  assert.deepEqual(ready('tcp:{port}'), { kind: 'tcp', port: '{port}' });
  assert.deepEqual(ready('tcp:90{worker}'), { kind: 'tcp', port: '90{worker}' });
  assert.deepEqual(ready('http:http://127.0.0.1:{port}/ready'), { kind: 'http', url: 'http://127.0.0.1:{port}/ready' });
  assert.deepEqual(ready('http://127.0.0.1:{port}/ready'), { kind: 'http', url: 'http://127.0.0.1:{port}/ready' });
  // {port} with no --port-base is fine when PORT is set for the workers another way.
  assert.deepEqual(run(['--ready', 'tcp:{port}', 'x'], { PORT: '8080' }).pools[0].ready, { kind: 'tcp', port: '{port}' });
});

test('precedence: flag > env > file > default, for a top-level key and a pool key', () => {
  const path = file('prec.toml', 'grace = "10s"\n[pools.a]\ncommand = ["x"]\nworkers = 2\n');
  const noKeys = file('prec-none.toml', '[pools.a]\ncommand = ["x"]\n');
  const env = { CORRAL_GRACE: '20s', CORRAL_WORKERS: '3' };
  let c = run(['--config', path, '--grace', '30s', '--workers', '4'], env);
  assert.equal(c.graceMs, 30_000);
  assert.equal(c.pools[0].workers, 4);
  c = run(['--config', path], env);
  assert.equal(c.graceMs, 20_000);
  assert.equal(c.pools[0].workers, 3);
  c = run(['--config', path]);
  assert.equal(c.graceMs, 10_000);
  assert.equal(c.pools[0].workers, 2);
  c = run(['--config', noKeys]);
  assert.equal(c.graceMs, 25_000);
  assert.equal(c.pools[0].workers, 1);
  // Without a file: flag > env > default.
  assert.equal(run(['--grace', '1s', 'x'], env).graceMs, 1000);
  assert.equal(run(['x'], env).graceMs, 20_000);
});

test('an empty CORRAL_* variable counts as unset', () => {
  assert.equal(run(['x'], { CORRAL_WORKERS: '', CORRAL_GRACE: '' }).graceMs, 25_000);
  assert.equal(run(['x'], { CORRAL_CONFIG: '' }).source, null);
});

test('with --config, a pool option from a flag or env var overrides that key in every pool', () => {
  const c = run(['--config', fixture('config/valid.toml'), '--workers', '3', '--stop-signal', 'SIGUSR2'], { CORRAL_WATCHDOG: '9s' });
  assert.deepEqual(c.pools.map((p) => p.name), ['infer', 'metrics-sidecar']);
  for (const p of c.pools) {
    assert.equal(p.workers, 3, p.name);
    assert.equal(p.restart, 'always', `${p.name}: the restart default follows the overridden worker count`);
    assert.equal(p.stopSignal, 'SIGUSR2', p.name);
    assert.equal(p.watchdogMs, 9000, p.name);
  }
  // Keys that were not overridden keep each pool's own value.
  assert.deepEqual(c.pools[0].gpus, ['0', '1']);
  assert.equal(c.pools[1].gpus, 'none');
  assert.equal(c.pools[0].minReady, 2);
  assert.equal(c.pools[1].minReady, 0);
});

test('CORRAL_CONFIG names the file like --config; the flag wins', () => {
  const other = file('other.toml', '[pools.other]\ncommand = ["y"]\n');
  assert.deepEqual(run([], { CORRAL_CONFIG: fixture('config/valid.toml') }).pools.map((p) => p.name), ['infer', 'metrics-sidecar']);
  assert.deepEqual(run(['--config', other], { CORRAL_CONFIG: fixture('config/valid.toml') }).pools.map((p) => p.name), ['other']);
});

test('TOML and JSON files give the same configuration', () => {
  const toml = run(['--config', fixture('config/valid.toml')]);
  const json = run(['--config', fixture('config/valid.json')]);
  assert.deepEqual({ ...json, source: null }, { ...toml, source: null });
  const infer = toml.pools[0];
  assert.equal(infer.workers, 2);
  assert.deepEqual(infer.gpus, ['0', '1']);
  assert.deepEqual(infer.ready, { kind: 'http', url: 'http://127.0.0.1:{port}/ready' });
  assert.equal(infer.stopSignal, 'SIGINT');
  assert.equal(infer.maxRssBytes, 8 * 2 ** 30);
  assert.deepEqual(infer.env, { TOKEN: 's3cret', OMP_NUM_THREADS: '4' });
  assert.equal(toml.drainDelayMs, 2000, 'a plain number is seconds');
  assert.equal(toml.logLevel, 'debug');
});

test('pools keep file order; relative paths in a file resolve against its folder', () => {
  mkdirSync(join(dir, 'work'), { recursive: true });
  const path = file('order.toml', 'feedback_file = "fb.jsonl"\n[pools.zeta]\ncommand = ["z"]\ncwd = "work"\n[pools.alpha]\ncommand = ["a"]\n[pools.mid]\ncommand = ["m"]\n');
  const c = run(['--config', path]);
  assert.deepEqual(c.pools.map((p) => p.name), ['zeta', 'alpha', 'mid']);
  assert.equal(c.pools[0].cwd, join(dir, 'work'));
  assert.equal(c.feedbackFile, join(dir, 'fb.jsonl'));
});

test('check-config: the effective config as JSON, durations normalised, sizes in bytes, env values masked', () => {
  const inv = parse(['check-config', '--config', fixture('config/valid.toml'), '--grace', '90']);
  assert.equal(inv.kind, 'check-config');
  const text = effectiveConfigJson(inv.config);
  assert.ok(!text.includes('s3cret'), 'no env value in the output');
  const out = JSON.parse(text);
  assert.deepEqual(Object.keys(out), ['source', 'http', 'grace', 'drain_delay', 'log_format', 'log_level', 'feedback_file', 'pools']);
  assert.equal(out.http, '0.0.0.0:9000');
  assert.equal(out.grace, '90s');
  assert.equal(out.drain_delay, '2s');
  assert.deepEqual(Object.keys(out.pools), ['infer', 'metrics-sidecar']);
  const infer = out.pools.infer;
  assert.deepEqual(infer.env, { TOKEN: '***', OMP_NUM_THREADS: '***' });
  assert.equal(infer.max_rss, 8 * 2 ** 30);
  assert.equal(infer.watchdog, '1m');
  assert.equal(infer.ready_timeout, '10m');
  assert.equal(infer.ready, 'http://127.0.0.1:{port}/ready');
  assert.deepEqual(Object.keys(infer), [
    'command', 'workers', 'gpus', 'workers_per_gpu', 'restart', 'ready', 'ready_timeout', 'watchdog', 'watchdog_signal', 'on_cuda_error', 'threads', 'watch', 'watch_ignore', 'listen',
    'port_base', 'stop_signal', 'min_ready', 'user', 'max_rss', 'pty', 'cwd', 'env',
  ]);
  assert.equal(out.pools['metrics-sidecar'].ready, 'tcp:9400');
  assert.equal(out.pools['metrics-sidecar'].watchdog, null);
  const v6 = JSON.parse(effectiveConfigJson(run(['--listen', '[::]:8080', '--http', '[::1]:9', 'x'])));
  assert.equal(v6.pools.main.listen, '[::]:8080');
  assert.equal(v6.http, '[::1]:9');
});

test('check-config without a file validates the command-line pool; options may precede it', () => {
  const inv = parse(['check-config', '--workers', '2', '--', 'python3', 'serve.py']);
  assert.equal(inv.kind, 'check-config');
  assert.deepEqual(inv.config.pools[0].command, ['python3', 'serve.py']);
  const before = parse(['--config', fixture('config/valid.toml'), 'check-config', '--grace', '3s']);
  assert.equal(before.kind, 'check-config');
  assert.equal(before.config.graceMs, 3000);
  assert.equal(before.config.pools.length, 2);
});

test('subcommands only before `--`: `corral -- status` runs a program called status', () => {
  assert.equal(parse(['status']).kind, 'status');
  assert.equal(parse(['probe', 'livez']).kind, 'probe');
  assert.equal(parse(['check-config', '--', 'x']).kind, 'check-config');
  for (const argv of [['--', 'status'], ['--', 'check-config'], ['--workers', '1', '--', 'probe', 'livez']]) {
    const inv = parse(argv);
    assert.equal(inv.kind, 'run', argv.join(' '));
    assert.deepEqual(inv.config.pools[0].command, argv.slice(argv.indexOf('--') + 1));
  }
  // A subcommand's name later in the command is an argument like any other.
  assert.deepEqual(run(['python3', 'status']).pools[0].command, ['python3', 'status']);
});

test('probe and status: address from --http, CORRAL_HTTP, the config file, else 0.0.0.0:9000; wildcard means loopback', () => {
  assert.deepEqual(parse(['probe', 'readyz']), { kind: 'probe', target: 'readyz', http: { host: '127.0.0.1', port: 9000 } });
  assert.deepEqual(parse(['probe', 'livez', '--http', '[::]:9100']).http, { host: '127.0.0.1', port: 9100 });
  assert.deepEqual(parse(['probe', 'livez', '--http', '[::1]:9100']).http, { host: '::1', port: 9100 });
  assert.deepEqual(parse(['status', '--http', '10.1.2.3:9000']), { kind: 'status', http: { host: '10.1.2.3', port: 9000 } });
  assert.deepEqual(parse(['status'], { CORRAL_HTTP: ':9200' }).http, { host: '127.0.0.1', port: 9200 });
  assert.deepEqual(parse(['--http', 'localhost:7', 'status']).http, { host: 'localhost', port: 7 });
  const conf = file('http.toml', 'http = "127.0.0.2:9300"\n[pools.a]\ncommand = ["x"]\n');
  assert.deepEqual(parse(['probe', 'readyz'], { CORRAL_CONFIG: conf }).http, { host: '127.0.0.2', port: 9300 });
  assert.deepEqual(parse(['probe', 'readyz', '--config', conf, '--http', ':1']).http, { host: '127.0.0.1', port: 1 });
});

test('--help and --version are output, for the run and for each subcommand', () => {
  const help = parse(['--help']);
  assert.equal(help.kind, 'output');
  for (const flag of ['--config', '--workers', '--gpus', '--workers-per-gpu', '--restart', '--ready', '--min-ready', '--port-base', '--ready-timeout', '--watchdog', '--listen', '--grace', '--drain-delay', '--stop-signal', '--http', '--log-format', '--log-level', '--pty', '--user', '--max-rss', '--feedback-file']) {
    assert.match(help.text, new RegExp(`\\s${flag}\\s`), flag);
  }
  assert.match(help.text, /default: 25s/);
  assert.match(help.text, /Exit codes/);
  assert.deepEqual(parse(['--version']), { kind: 'output', text: '9.9.9' });
  assert.match(parse(['check-config', '--help']).text, /^corral check-config/);
  assert.match(parse(['probe', '--help']).text, /^corral probe <livez\|readyz>/);
  assert.match(parse(['status', '-h']).text, /^corral status/);
});

test('a corral inside a corral worker: CORRAL_POOL, CORRAL_WORKER, CORRAL_POOL_SIZE are not options', () => {
  const env = { CORRAL_POOL: 'infer', CORRAL_WORKER: '3', CORRAL_POOL_SIZE: '4', CORRAL_NVIDIA_SMI: '/usr/bin/nvidia-smi', NOTIFY_SOCKET: '/run/x', PORT: '8003' };
  const c = run(['--workers', '2', 'python3', 'inner.py'], env);
  assert.equal(c.pools[0].name, 'main');
  assert.equal(c.pools[0].workers, 2);
  assert.equal(parse(['--help'], env).kind, 'output');
  assert.equal(parse(['check-config', '--config', fixture('config/valid.toml')], env).kind, 'check-config');
  assert.equal(parse(['status'], env).kind, 'status');
});

test('a drop-in for tini (one worker, raw, --http off): threads off unless given; any other shape is not one', () => {
  const d = run(['--log-format', 'raw', '--http', 'off', 'python3', 'predict.py']);
  assert.equal(d.dropIn, true);
  assert.equal(d.pools[0].threads, 'off');
  assert.equal(run(['--log-format', 'raw', '--http', 'off', '--threads', 'auto', 'python3', 'p.py']).pools[0].threads, 'auto');
  assert.equal(run(['--log-format', 'raw', '--http', 'off', 'python3', 'p.py'], { CORRAL_THREADS: '4' }).pools[0].threads, 4);
  for (const argv of [
    ['--log-format', 'json', '--http', 'off', 'python3', 'p.py'],
    ['--log-format', 'raw', 'python3', 'p.py'],
    ['--log-format', 'raw', '--http', 'off', '--workers', '2', 'python3', 'p.py'],
    ['--log-format', 'raw', '--http', 'off', '--restart', 'always', 'python3', 'p.py'],
  ]) {
    const c = run(argv);
    assert.equal(c.dropIn, false, argv.join(' '));
    assert.equal(c.pools[0].threads, 'auto', argv.join(' '));
  }
});

test('IP syntax without node:net: the same verdicts as isIPv4 and isIPv6', async () => {
  const net = await import('node:net');
  const ip = await import('../../dist/config/ip.js');
  const samples = ['0.0.0.0', '127.0.0.1', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '::', '::1', '[::1]', 'fe80::1%eth0', '2001:db8::8a2e:370:7334', '::ffff:192.0.2.1', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', ':::', 'gggg::1', 'localhost', '', ' 1.2.3.4', '1.2.3.4 ', '12345::1', '1::2::3'];
  for (const s of samples) {
    assert.equal(ip.isIPv4(s), net.isIPv4(s), `isIPv4(${JSON.stringify(s)})`);
    assert.equal(ip.isIPv6(s), net.isIPv6(s), `isIPv6(${JSON.stringify(s)})`);
    assert.equal(ip.isIP(s), net.isIP(s), `isIP(${JSON.stringify(s)})`);
  }
});
