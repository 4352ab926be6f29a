// The command line: every option of SPEC §1, the subcommands, and parseInvocation(), which
// turns argv and the environment into what to do. The tokenizer (argv.ts) gets no defaults
// and reads no environment, because the config layer must know where each value came from
// (flag, CORRAL_<NAME> or file) to apply the precedence and to name the source in an error,
// and because a corral running inside a corral worker finds CORRAL_POOL, CORRAL_WORKER and
// CORRAL_POOL_SIZE in its environment, which are not options.

import type { OptionSpec } from './argv.js';
import { clientInvocation, type ClientInvocation } from './client-args.js';
import { parseWith, type Flags, type Grammar } from './grammar.js';
import { resolveConfig } from '../config/resolve.js';
import { LOG_LEVELS, type Config, type LogLevel } from '../config/types.js';

export { LOG_LEVELS, type LogLevel };

export type Invocation =
  | { kind: 'run'; config: Config }
  | { kind: 'check-config'; config: Config }
  | ClientInvocation; // probe, status, and --help / --version text (exit 0)

const G_CONFIG = 'Config:';
const G_WORKERS = 'Workers:';
const G_READY = 'Readiness and health:';
const G_STOP = 'Stopping:';
const G_LOGS = 'Server and logs:';

/** Every option of SPEC §1, in help order. The defaults live in the config layer. */
const OPTIONS: Record<string, OptionSpec> = {
  config: { group: G_CONFIG, describe: 'TOML config file with [pools.NAME] tables (JSON if the name ends in .json)  (default: none)' },
  workers: { group: G_WORKERS, describe: 'worker count N, or "gpu": one per GPU × --workers-per-gpu  (default: 1)' },
  gpus: { group: G_WORKERS, describe: 'GPUs the pool may use: all, none, or indexes/UUIDs such as 0,2  (default: all if GPUs are found, else none)' },
  'workers-per-gpu': { group: G_WORKERS, describe: 'workers sharing one GPU, with --workers gpu  (default: 1)' },
  restart: { group: G_WORKERS, describe: 'always | on-failure | never  (default: never for 1 worker, else always)' },
  user: { group: G_WORKERS, describe: 'run workers as UID[:GID] or NAME, supplementary groups from /etc/group  (default: corral\'s own)' },
  pty: { group: G_WORKERS, boolean: true, describe: 'run workers under a pseudo-terminal; stdout and stderr arrive merged  (default: off)' },
  'max-rss': { group: G_WORKERS, describe: 'recycle a worker whose process tree RSS exceeds SIZE  (default: off)' },
  ready: { group: G_READY, describe: 'started | notify | tcp:PORT | http:URL; {port} and {worker} are filled in per worker  (default: started)' },
  'min-ready': { group: G_READY, describe: 'ready workers a pool needs for /readyz to be 200  (default: 1)' },
  'ready-timeout': { group: G_READY, describe: 'restart a worker that is not ready after DURATION  (default: 10m)' },
  watchdog: { group: G_READY, describe: 'restart a worker whose heartbeat is older than DURATION  (default: off)' },
  'watchdog-signal': { group: G_READY, describe: 'sent to a hung worker before its watchdog stop, for a stack dump; SIG or off  (default: SIGQUIT)' },
  watch: { group: G_WORKERS, describe: 'restart the workers (one at a time) when a file under PATH[,PATH...] changes; for development  (default: off)' },
  'watch-ignore': { group: G_WORKERS, describe: 'GLOB[,GLOB...] of changes that restart nothing, beside .git, node_modules, __pycache__, *.pyc, *.swp  (default: none)' },
  threads: { group: G_WORKERS, describe: 'auto | off | N: OMP/MKL/OPENBLAS_NUM_THREADS per worker; auto = CPU limit ÷ all workers, at least 1  (default: auto; off for a drop-in: one worker, raw, --http off)' },
  'on-cuda-error': { group: G_WORKERS, describe: 'restart | ignore: what a sticky CUDA error line (device-side assert, illegal memory access...) does  (default: restart)' },
  'port-base': { group: G_READY, describe: 'worker i gets PORT=N+i  (default: off)' },
  listen: { group: G_READY, describe: 'bind HOST:PORT ([::]:8080, :8080) once and pass it to every worker as fd 3  (default: off)' },
  grace: { group: G_STOP, describe: 'from the first stop signal to SIGKILL of what remains  (default: 25s)' },
  'drain-delay': { group: G_STOP, describe: 'after SIGTERM, how long /readyz is 503 before workers are signalled  (default: 0s)' },
  'stop-signal': { group: G_STOP, describe: 'signal that stops a worker  (default: SIGTERM)' },
  http: { group: G_LOGS, describe: 'health, readiness and metrics server HOST:PORT, or off  (default: 0.0.0.0:9000)' },
  'log-format': { group: G_LOGS, describe: 'json | pretty | raw  (default: pretty if stderr is a TTY, else json; raw: workers\' bytes unchanged, as tini)' },
  'log-level': { group: G_LOGS, describe: `${LOG_LEVELS.join(' | ')}  (default: info)` },
  'feedback-file': { group: G_LOGS, describe: 'append feedback records (JSON lines) to this file instead of the log  (default: off)' },
};

const SUBCOMMANDS = ['check-config', 'probe', 'status'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

const RUN_USAGE = `corral [options] [--] <command> [args...]     run <command> as a pool named "main"
corral --config corral.toml [options]         run the pools of a config file
corral check-config [--config F] [options]    validate; print the effective config as JSON
corral probe <livez|readyz> [--http ADDR]     exit 0 if the endpoint answers 200
corral status [--http ADDR]                   print the pools and workers of a running corral

PID 1 for GPU inference containers: runs pools of workers, reaps every zombie, forwards
signals to each worker's process group, serves /livez, /readyz and /metrics, and drains
gracefully on SIGTERM.`;

const CHECK_USAGE = `corral check-config [--config FILE] [options] [[--] <command> [args...]]

Validates the configuration exactly as a run would (flags > CORRAL_* env vars > file >
defaults) and prints the effective config as JSON; pool env values are shown as "***".
Exit 0 if it is valid, 2 if not.`;

const RUN_EPILOGUE = `DURATION: 500ms, 30s, 5m, 1h, or a number of seconds. SIZE: 512MiB, 8GiB, 2GB, or bytes.

Every option is also an environment variable CORRAL_<NAME> (CORRAL_WORKERS_PER_GPU=2) and a config-file key (workers_per_gpu); flag > env > file > default. With --config, pool options given as flags or env vars override that key in every pool of the file. Options end at the first word that is not one: \`corral python serve.py --port 1\` passes --port to python; \`--\` makes that explicit (\`corral -- status\` runs a program called status).

Exit codes: one worker with restart never ("init mode"): the worker's own, 128+signal if a signal ended it (143 SIGTERM, 137 SIGKILL after --grace), 127 command not found, 126 not executable. Otherwise: 0 after a clean stop, 1 if a worker had to be SIGKILLed or a pool gave up, else the first failing worker's status. 2: usage or config error, before anything starts.`;

const RUN: Grammar = { specs: OPTIONS, usage: RUN_USAGE, epilogue: RUN_EPILOGUE, halt: true, sub: null };
const CHECK: Grammar = { ...RUN, usage: CHECK_USAGE };
const VALUE_FLAGS = new Set(Object.keys(OPTIONS).filter((k) => OPTIONS[k]?.boolean !== true));

/**
 * `--grace -5s` would reach the tokenizer as the short flags -5, -s; joined as `--grace=-5s`, the
 * value gets to the validator, which can say what is wrong with it. Only the options
 * part of argv is touched, never the command.
 */
function joinDashValues(argv: readonly string[]): string[] {
  const out = [...argv];
  for (let i = 0; i < out.length; i++) {
    const tok = out[i] ?? '';
    if (tok === '--' || !tok.startsWith('-')) break;
    if (!tok.startsWith('--') || tok.includes('=') || !VALUE_FLAGS.has(tok.slice(2))) continue;
    const next = out[i + 1];
    if (next === undefined) break;
    if (/^-\d/.test(next)) out.splice(i, 2, `${tok}=${next}`);
    else if (!next.startsWith('-')) i++;
  }
  return out;
}

function subcommand(sub: Subcommand, rest: readonly string[], pre: Flags, env: NodeJS.ProcessEnv, stderrIsTTY: boolean, version: string): Invocation {
  if (sub === 'check-config') {
    const argv = joinDashValues(rest);
    const parsed = parseWith(argv, CHECK, version);
    if (parsed.output !== undefined) return { kind: 'output', text: parsed.output };
    const flags = { ...pre, ...parsed.flags };
    return { kind: 'check-config', config: resolveConfig({ flags, env, command: parsed.rest, stderrIsTTY }) };
  }
  return clientInvocation(sub, rest, pre, env, version);
}

/**
 * What the command line asks for. Throws a CorralError (exit 2) for any mistake of the
 * user's: an unknown option, a bad value, a bad config file, no command.
 */
export function parseInvocation(argv: readonly string[], env: NodeJS.ProcessEnv, stderrIsTTY: boolean, version: string): Invocation {
  const args = joinDashValues(argv);
  const parsed = parseWith(args, RUN, version);
  if (parsed.output !== undefined) return { kind: 'output', text: parsed.output };
  const { flags, rest: tail } = parsed;
  // The first word is a subcommand only if it came before any `--` (`corral -- status` runs
  // a program called status).
  const first = tail[0];
  const sub = SUBCOMMANDS.find((s) => s === first);
  if (sub !== undefined && !parsed.dashDash) return subcommand(sub, tail.slice(1), flags, env, stderrIsTTY, version);
  return { kind: 'run', config: resolveConfig({ flags, env, command: tail, stderrIsTTY }) };
}
