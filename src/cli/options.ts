// The command line: yargs definitions and their validation into RunOptions. Every
// option is also CORRAL_<NAME> in the environment (flag > env > default).

import yargs, { type Argv } from 'yargs';
import { CorralError } from '../errors.js';
import { parseDuration } from '../config/units.js';
import { parseSignal } from '../process/status.js';
import type { RestartPolicy } from '../supervisor/lifecycle.js';
import type { LogFormat } from '../logs/logger.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface RunOptions {
  command: string[];
  workers: number;
  restart: RestartPolicy;
  graceMs: number;
  stopSignal: NodeJS.Signals;
  logFormat: LogFormat;
  logLevel: LogLevel;
}

const USAGE = `corral [options] [--] <command> [args...]

PID 1 for GPU inference containers: runs <command> as a pool of workers, reaps every
zombie, forwards signals to each worker's process group and stops gracefully.`;

export function buildParser(argv: readonly string[], version: string): Argv {
  return yargs([...argv])
    .scriptName('corral')
    .usage(USAGE)
    .parserConfiguration({ 'halt-at-non-option': true, 'populate--': false, 'camel-case-expansion': true })
    .env('CORRAL')
    .option('workers', { type: 'string', default: '1', describe: 'worker count', group: 'Pool:' })
    .option('restart', {
      type: 'string',
      describe: 'restart policy: always | on-failure | never (default: never for 1 worker, else always)',
      group: 'Pool:',
    })
    .option('stop-signal', { type: 'string', default: 'SIGTERM', describe: 'signal that stops a worker', group: 'Pool:' })
    .option('grace', {
      type: 'string',
      default: '25s',
      describe: 'from the first stop signal to SIGKILL of what remains (500ms, 30s, 5m, or seconds)',
      group: 'Stopping:',
    })
    .option('log-format', { type: 'string', describe: 'json | pretty (default: pretty if stderr is a TTY, else json)', group: 'Logs:' })
    .option('log-level', { type: 'string', default: 'info', describe: LOG_LEVELS.join(' | '), group: 'Logs:' })
    .epilogue(
      'Each option is also an environment variable CORRAL_<NAME> (e.g. CORRAL_GRACE=30s); flags win.\n\n' +
        'Exit codes: with one worker and restart never, the worker\'s own (128+signal if a signal ended it);\n' +
        'otherwise 0 after a clean stop and 1 if something had to be SIGKILLed or a pool gave up;\n' +
        '2 usage error; 126 command not executable; 127 command not found.',
    )
    .strict()
    .help()
    .alias('h', 'help')
    .version(version)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .exitProcess(false);
}

/** yargs gives strings here (every option is declared as one); arrays from repeats join. */
function str(v: unknown): string {
  return Array.isArray(v) ? v.map(String).join(',') : typeof v === 'string' ? v : JSON.stringify(v);
}

function bad(what: string, got: unknown, expected: string): never {
  throw new CorralError('BAD_VALUE', `--${what}: expected ${expected}, got ${JSON.stringify(got)}`);
}

/** Turns parsed flags into validated options; every mistake is a CorralError (exit 2). */
export function toRunOptions(args: Record<string, unknown>, stderrIsTTY: boolean): RunOptions {
  const command = ((args._ as unknown[] | undefined) ?? []).map(String);
  if (command.length === 0) throw new CorralError('NO_COMMAND', 'no command given');

  const workersRaw = str(args.workers);
  if (!/^\d+$/.test(workersRaw) || Number(workersRaw) < 1) bad('workers', workersRaw, 'a positive integer');
  const workers = Number(workersRaw);

  const restartRaw = args.restart === undefined ? (workers === 1 ? 'never' : 'always') : str(args.restart);
  if (restartRaw !== 'always' && restartRaw !== 'on-failure' && restartRaw !== 'never') bad('restart', restartRaw, 'always, on-failure or never');

  const graceMs = parseDuration(str(args.grace));
  if (graceMs === undefined) bad('grace', args.grace, 'a duration like 500ms, 30s, 5m or a number of seconds');

  const stopSignal = parseSignal(str(args.stopSignal));
  if (stopSignal === undefined) bad('stop-signal', args.stopSignal, 'a signal name such as SIGTERM, SIGINT or SIGQUIT');

  const formatRaw = args.logFormat === undefined ? (stderrIsTTY ? 'pretty' : 'json') : str(args.logFormat);
  if (formatRaw !== 'json' && formatRaw !== 'pretty') bad('log-format', formatRaw, 'json or pretty');

  const levelRaw = str(args.logLevel).toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(levelRaw)) bad('log-level', args.logLevel, LOG_LEVELS.join(', '));

  return {
    command,
    workers,
    restart: restartRaw,
    graceMs,
    stopSignal,
    logFormat: formatRaw,
    logLevel: levelRaw as LogLevel,
  };
}
