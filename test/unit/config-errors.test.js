// Every bad config file, flag or env var is a CorralError with exit code 2 whose message
// is one line naming where the value came from (file and key path, flag or env var),
// what was expected and what was found.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseInvocation } from '../../dist/cli/options.js';
import { CorralError } from '../../dist/errors.js';

// Files are named relative to the test folder, so messages read `corral.toml: ...`.
const dir = mkdtempSync(join(tmpdir(), 'corral-config-errors-'));
const home = process.cwd();
before(() => process.chdir(dir));
after(() => {
  process.chdir(home);
  rmSync(dir, { recursive: true, force: true });
});

const POOL = '[pools.infer]\ncommand = ["python3", "serve.py"]\n';

/**
 * Each case: argv (a file, when given, is written first and named by --config unless
 * argv names it), env, and what the one-line message must contain, in order.
 */
const cases = [
  {
    name: 'unknown pool key, with a suggestion',
    file: ['corral.toml', `${POOL}wrokers = 2\n`],
    has: ['corral.toml: pools.infer.wrokers: unknown pool key (did you mean "workers"?)'],
    code: 'CONFIG_KEY',
  },
  {
    name: 'unknown top-level key, with a suggestion',
    file: ['corral.toml', `grase = "10s"\n${POOL}`],
    has: ['corral.toml: grase: unknown top-level key (did you mean "grace"?)'],
    code: 'CONFIG_KEY',
  },
  {
    name: 'kebab-case key suggests the snake-case one',
    file: ['corral.toml', `${POOL}workers-per-gpu = 2\n`],
    has: ['corral.toml: pools.infer.workers-per-gpu: unknown pool key (did you mean "workers_per_gpu"?)'],
  },
  {
    name: 'unknown key with nothing close lists the valid ones',
    file: ['corral.toml', `${POOL}zzzzzzzzzzzz = 1\n`],
    has: ['pools.infer.zzzzzzzzzzzz: unknown pool key (valid keys: command, workers,'],
  },
  {
    name: 'pool key at the top level',
    file: ['corral.toml', `workers = 2\n${POOL}`],
    has: ['corral.toml: workers: unknown top-level key; "workers" is a pool key: it goes in a [pools.NAME] table'],
  },
  {
    name: 'top-level key inside a pool',
    file: ['corral.toml', `${POOL}grace = "5s"\n`],
    has: ['corral.toml: pools.infer.grace: unknown pool key; "grace" is a top-level key, not a pool key'],
  },
  {
    name: 'negative worker count in the file (the SPEC\'s own example)',
    file: ['corral.toml', `${POOL}workers = -1\n`],
    has: ['corral.toml: pools.infer.workers: expected a positive integer or "gpu", got -1'],
    code: 'CONFIG_VALUE',
  },
  {
    name: 'negative worker count as a flag',
    argv: ['--workers', '-1', 'python3'],
    has: ['--workers: expected a positive integer or "gpu", got "-1"'],
    code: 'BAD_VALUE',
  },
  {
    name: 'zero workers as an env var',
    env: { CORRAL_WORKERS: '0' },
    argv: ['python3'],
    has: ['CORRAL_WORKERS: expected a positive integer or "gpu", got "0"'],
    code: 'BAD_VALUE',
  },
  {
    name: 'wrong type: a string for a boolean',
    file: ['corral.toml', `${POOL}pty = 3\n`],
    has: ['corral.toml: pools.infer.pty: expected true or false, got 3'],
  },
  {
    name: 'wrong type: the command as one string',
    file: ['corral.toml', '[pools.infer]\ncommand = "python3 serve.py"\n'],
    has: ['corral.toml: pools.infer.command: expected a non-empty array of strings such as ["python", "serve.py"], got "python3 serve.py"'],
  },
  {
    name: 'empty command',
    file: ['corral.toml', '[pools.infer]\ncommand = []\n'],
    has: ['corral.toml: pools.infer.command: expected a non-empty array of strings', 'got []'],
  },
  {
    name: 'a pool without a command',
    file: ['corral.toml', '[pools.infer]\nworkers = 2\n'],
    has: ['corral.toml: pools.infer.command: expected a non-empty array of strings', 'got nothing'],
  },
  {
    name: 'bad duration',
    file: ['corral.toml', `grace = "soon"\n${POOL}`],
    has: ['corral.toml: grace: expected a duration like 500ms, 30s, 5m, 1h or a number of seconds, got "soon"'],
  },
  {
    name: 'zero ready timeout',
    argv: ['--ready-timeout', '0', 'python3'],
    has: ['--ready-timeout: expected a duration', 'greater than 0, got "0"'],
  },
  {
    name: 'negative duration as a flag',
    argv: ['--grace', '-5s', 'python3'],
    has: ['--grace: expected a duration', 'got "-5s"'],
  },
  {
    name: 'bad size',
    file: ['corral.toml', `${POOL}max_rss = "lots"\n`],
    has: ['corral.toml: pools.infer.max_rss: expected a size like 512MiB, 8GiB, 2GB or a number of bytes', 'got "lots"'],
  },
  {
    name: 'bad signal name',
    file: ['corral.toml', `${POOL}stop_signal = "SIGFOO"\n`],
    has: ['corral.toml: pools.infer.stop_signal: expected a signal name such as SIGTERM, SIGINT or SIGQUIT, got "SIGFOO"'],
  },
  {
    name: 'bad restart value',
    argv: ['--restart', 'sometimes', 'python3'],
    has: ['--restart: expected "always", "on-failure" or "never", got "sometimes"'],
  },
  {
    name: 'duplicate pool in TOML, with line and column',
    file: ['corral.toml', `${POOL}\n[pools.infer]\ncommand = ["b"]\n`],
    has: ['corral.toml: line 4, column 2: invalid TOML: duplicate pool "infer"'],
    code: 'CONFIG_SYNTAX',
  },
  {
    name: 'duplicate pool in JSON, with line and column',
    file: ['corral.json', '{"pools": {\n  "infer": {"command": ["a"]},\n  "infer": {"command": ["b"]}\n}}\n'],
    has: ['corral.json: line 3, column 3: invalid JSON: duplicate key "infer" in pools'],
    code: 'CONFIG_SYNTAX',
  },
  {
    name: 'TOML syntax error, with line and column',
    file: ['corral.toml', 'grace = "10s"\n[pools.infer]\ncommand = ["python3", "serve.py"\nworkers = 2\n'],
    has: ['corral.toml: line 4, column 1: invalid TOML:'],
    code: 'CONFIG_SYNTAX',
  },
  {
    name: 'JSON syntax error, with line and column',
    file: ['corral.json', '{\n  "grace": "10s",\n  "pools": {"infer": {"command": ["a"],}}\n}\n'],
    has: ['corral.json: line 3, column 40: invalid JSON: expected a double-quoted key, found "}}"'],
    code: 'CONFIG_SYNTAX',
  },
  {
    name: 'JSON with an array at the top',
    file: ['corral.json', '[1, 2]\n'],
    has: ['corral.json: expected a JSON object at the top level, got an array'],
  },
  {
    name: 'missing config file',
    argv: ['--config', 'nope.toml'],
    has: ['cannot read config file nope.toml: no such file'],
    code: 'CONFIG_FILE',
  },
  {
    name: 'config file that is a directory',
    argv: ['--config', '.'],
    has: ['cannot read config file .: it is a directory'],
    code: 'CONFIG_FILE',
  },
  {
    name: 'empty --config',
    argv: ['--config', '', 'check-config'],
    has: ['--config: expected a file path, got ""'],
  },
  {
    name: 'listen with a host name',
    argv: ['--listen', 'localhost:8080', 'python3'],
    has: ['--listen: expected HOST:PORT such as 0.0.0.0:8080, [::]:8080 or :8080, or "off" (an IP address, not a host name), got "localhost:8080"'],
  },
  {
    name: 'listen without a port, in the file',
    file: ['corral.toml', `${POOL}listen = "0.0.0.0"\n`],
    has: ['corral.toml: pools.infer.listen: expected HOST:PORT', 'got "0.0.0.0"'],
  },
  {
    name: 'http with a bare port',
    file: ['corral.toml', `http = 9000\n${POOL}`],
    has: ['corral.toml: http: expected HOST:PORT such as 0.0.0.0:9000, [::]:9000 or :9000, or "off", got 9000'],
  },
  {
    name: 'http with an unbracketed IPv6 address',
    env: { CORRAL_HTTP: '::1:9000' },
    argv: ['python3'],
    has: ['CORRAL_HTTP: expected HOST:PORT', 'got "::1:9000"'],
  },
  {
    name: 'http with a port out of range',
    argv: ['--http', '0.0.0.0:70000', 'python3'],
    has: ['--http: expected HOST:PORT', 'got "0.0.0.0:70000"'],
  },
  {
    name: 'ready tcp: without a port',
    argv: ['--ready', 'tcp:', 'python3'],
    has: ['--ready: expected tcp:PORT with a port number or {port} (e.g. "tcp:{port}"), got "tcp:"'],
  },
  {
    name: 'ready http: without a URL',
    file: ['corral.toml', `${POOL}ready = "http:"\n`],
    has: ['corral.toml: pools.infer.ready: expected http:URL with an http:// or https:// URL', 'got "http:"'],
  },
  {
    name: 'ready of an unknown kind',
    argv: ['--ready', 'loaded', 'python3'],
    has: ['--ready: expected "started", "notify", "tcp:PORT" or "http:URL", got "loaded"'],
  },
  {
    name: 'ready with an unknown placeholder',
    argv: ['--port-base', '8000', '--ready', 'http://{host}:{port}/', 'python3'],
    has: ['--ready: expected only the placeholders {port} and {worker}, got "{host}"'],
  },
  {
    name: 'ready with {port} but no port_base',
    file: ['corral.toml', `${POOL}ready = "tcp:{port}"\n`],
    has: ['corral.toml: pools.infer.ready: expected a port or URL without {port}', 'since port_base is not set', 'got "tcp:{port}"'],
  },
  {
    name: 'bad gpus word',
    argv: ['--gpus', 'first', 'python3'],
    has: ['--gpus: expected "all", "none" or a list of GPU indexes or UUIDs such as "0,2", got "first"'],
  },
  {
    name: 'the same GPU twice',
    file: ['corral.toml', `${POOL}gpus = [0, 0]\n`],
    has: ['corral.toml: pools.infer.gpus: expected', 'each GPU once, got 0'],
  },
  {
    name: 'workers "gpu" with gpus "none"',
    argv: ['--workers', 'gpu', '--gpus', 'none', 'python3'],
    has: ['--workers: expected a positive integer, since gpus is "none"', 'got "gpu"'],
  },
  {
    name: 'min_ready above the worker count',
    file: ['corral.toml', `${POOL}workers = 2\nmin_ready = 3\n`],
    has: ["corral.toml: pools.infer.min_ready: expected at most the pool's 2 workers, got 3"],
  },
  {
    name: 'min-ready flag above a pool\'s workers names the pool',
    file: ['corral.toml', `${POOL}workers = 4\n[pools.sidecar]\ncommand = ["s"]\n`],
    argv: ['--config', 'corral.toml', '--min-ready', '2'],
    has: ['--min-ready: expected at most the pool\'s 1 worker (pool "sidecar"), got 2'],
  },
  {
    name: 'min_ready above GPUs × workers_per_gpu',
    file: ['corral.toml', `${POOL}workers = "gpu"\ngpus = [0, 1]\nmin_ready = 3\n`],
    has: ["corral.toml: pools.infer.min_ready: expected at most the pool's 2 workers, got 3"],
  },
  {
    name: 'port_base too high for the workers',
    argv: ['--workers', '4', '--port-base', '65534', 'python3'],
    has: ['--port-base: expected at most 65532', 'got 65534'],
  },
  {
    name: 'a command on the command line together with --config',
    file: ['corral.toml', POOL],
    argv: ['--config', 'corral.toml', '--', 'python3', 'other.py'],
    has: ['a command on the command line ("python3 other.py") cannot be combined with a config file (--config corral.toml)'],
    code: 'USAGE',
  },
  {
    name: 'a command together with CORRAL_CONFIG says how to get out',
    file: ['corral.toml', POOL],
    env: { CORRAL_CONFIG: 'corral.toml' },
    argv: ['bash'],
    has: ['cannot be combined with a config file (CORRAL_CONFIG corral.toml)', 'unset CORRAL_CONFIG'],
  },
  {
    name: 'unknown log format',
    argv: ['--log-format', 'xml', 'python3'],
    has: ['--log-format: expected "json", "pretty" or "raw", got "xml"'],
  },
  {
    name: 'unknown log level',
    file: ['corral.toml', `log_level = "verbose"\n${POOL}`],
    has: ['corral.toml: log_level: expected one of trace, debug, info, warn, error, fatal, silent, got "verbose"'],
  },
  {
    name: 'empty pools table',
    file: ['corral.toml', 'grace = "5s"\n[pools]\n'],
    has: ['corral.toml: pools: expected at least one [pools.NAME] table with a command, got a table'],
  },
  {
    name: 'no pools at all',
    file: ['corral.json', '{"grace": "5s"}'],
    has: ['corral.json: pools: expected at least one pool, as "pools": {"NAME": {"command": [...]}}, got nothing'],
  },
  {
    name: 'pools is not a table',
    file: ['corral.toml', 'pools = 3\n'],
    has: ['corral.toml: pools: expected a table of pools', 'got 3'],
  },
  {
    name: 'a pool that is not a table',
    file: ['corral.json', '{"pools": {"infer": ["python3"]}}'],
    has: ['corral.json: pools.infer: expected an object of pool settings, got ["python3"]'],
  },
  {
    name: 'a pool name with a space',
    file: ['corral.toml', '[pools."my pool"]\ncommand = ["x"]\n'],
    has: ['corral.toml: pools."my pool": expected a pool name of letters, digits, "_" and "-" that starts with a letter', 'got "my pool"'],
  },
  {
    name: 'env value of the wrong type',
    file: ['corral.toml', `${POOL}env = { A = [1] }\n`],
    has: ['corral.toml: pools.infer.env.A: expected a string, got [1]'],
  },
  {
    name: 'env name with "="',
    file: ['corral.json', '{"pools": {"infer": {"command": ["x"], "env": {"A=B": "1"}}}}'],
    has: ['corral.json: pools.infer.env."A=B": expected a variable name without "="', 'got "A=B"'],
  },
  {
    name: 'cwd that does not exist',
    file: ['corral.toml', `${POOL}cwd = "no/such/dir"\n`],
    has: ['corral.toml: pools.infer.cwd: expected the path of an existing directory, got "no/such/dir"'],
  },
  {
    name: 'bad user',
    argv: ['--user', 'a b', 'python3'],
    has: ['--user: expected UID[:GID] or a user name, got "a b"'],
  },
  {
    name: 'unknown flag, with a suggestion',
    argv: ['--wrokers', '2', 'python3'],
    has: ['unknown option --wrokers (did you mean --workers?)'],
    code: 'USAGE',
  },
  {
    name: 'no command and no config',
    argv: ['--workers', '2'],
    has: ['no command given'],
    code: 'NO_COMMAND',
  },
  {
    name: 'probe without a target',
    argv: ['probe', '--http', ':9000'],
    has: ['probe: expected livez or readyz, got nothing'],
  },
  {
    name: 'probe of an unknown endpoint',
    argv: ['probe', 'metrics'],
    has: ['probe: expected livez or readyz, got "metrics"'],
  },
  {
    name: 'probe with the server off',
    argv: ['probe', 'livez', '--http', 'off'],
    has: ['probe: the HTTP server is off'],
  },
  {
    name: 'status with a run option',
    argv: ['--workers', '2', 'status'],
    has: ['status takes only --http and --config, got --workers'],
  },
  {
    name: 'probe with a run option after it',
    argv: ['probe', 'livez', '--grace', '5s'],
    has: ['unknown option --grace (not an option of `corral probe`)'],
    code: 'USAGE',
  },
  {
    name: 'status with a bad address in CORRAL_HTTP',
    env: { CORRAL_HTTP: 'nowhere' },
    argv: ['status'],
    has: ['CORRAL_HTTP: expected HOST:PORT', 'got "nowhere"'],
  },
];

test('there are at least 25 distinct bad configs and flags', () => {
  assert.ok(cases.length >= 25, String(cases.length));
  assert.equal(new Set(cases.map((c) => c.name)).size, cases.length);
});

for (const c of cases) {
  test(c.name, () => {
    let argv = c.argv;
    if (c.file) {
      writeFileSync(c.file[0], c.file[1]);
      argv ??= ['--config', c.file[0]];
    }
    let err;
    try {
      parseInvocation(argv, c.env ?? {}, false, '0.0.0');
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof CorralError, `expected a CorralError, got ${err}`);
    assert.equal(err.exitCode, 2);
    if (c.code) assert.equal(err.code, c.code);
    const line = err.line();
    assert.ok(!/[\r\n]/.test(line), `one line: ${JSON.stringify(line)}`);
    assert.ok(line.startsWith('corral: '), line);
    let from = 0;
    for (const part of c.has) {
      const at = line.indexOf(part, from);
      assert.ok(at !== -1, `${JSON.stringify(part)} in\n${line}`);
      from = at + part.length;
    }
  });
}
