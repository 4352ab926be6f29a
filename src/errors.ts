// One catalogue of the errors a user can cause or meet, each with the exit code the
// CLI uses and a hint that says what to do. The CLI prints `corral: <message>` and the
// hint on one line, never a stack trace (see src/cli/main.ts).

export const EXIT_USAGE = 2;
export const EXIT_NOT_EXECUTABLE = 126;
export const EXIT_NOT_FOUND = 127;

const catalogue = {
  USAGE: { exit: EXIT_USAGE, hint: 'run `corral --help` for the options' },
  BAD_VALUE: { exit: EXIT_USAGE, hint: 'run `corral --help` for the accepted values' },
  NO_COMMAND: { exit: EXIT_USAGE, hint: 'put the command after the options, e.g. `corral -- python serve.py`, or name a config file with --config' },
  CONFIG_FILE: { exit: EXIT_USAGE, hint: 'check the path given to --config or CORRAL_CONFIG' },
  CONFIG_SYNTAX: { exit: EXIT_USAGE, hint: 'fix the syntax there, then run `corral check-config --config FILE`' },
  CONFIG_KEY: { exit: EXIT_USAGE, hint: 'every option of `corral --help` is also a key, with _ for -; pools also take command, cwd and env' },
  CONFIG_VALUE: { exit: EXIT_USAGE, hint: 'fix the value, then run `corral check-config --config FILE`' },
  NOT_FOUND: { exit: EXIT_NOT_FOUND, hint: 'check the spelling, or give the full path to the program' },
  NOT_EXECUTABLE: { exit: EXIT_NOT_EXECUTABLE, hint: 'make it executable (chmod +x) or run it through its interpreter' },
  SPAWN_FAILED: { exit: 1, hint: 'see the message for the step that failed' },
  ADDON: { exit: 1, hint: 'reinstall with `npm ci` (it builds the native addon; python3, make and a C compiler are needed)' },
  NVIDIA_SMI: { exit: EXIT_USAGE, hint: 'set CORRAL_NVIDIA_SMI to a working nvidia-smi, or run the pools with --gpus none' },
  GPU: { exit: EXIT_USAGE, hint: 'list the GPUs with `nvidia-smi -L` and name them by index or UUID' },
} as const;

export type ErrorCode = keyof typeof catalogue;

export class CorralError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly hint: string;

  constructor(code: ErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CorralError';
    this.code = code;
    this.exitCode = catalogue[code].exit;
    this.hint = options?.hint ?? catalogue[code].hint;
  }

  /** The one line the CLI prints for this error (a stray newline must not split it). */
  line(): string {
    return `corral: ${this.message} (${this.hint})`.replace(/\s*[\r\n]+\s*/g, ' ');
  }
}
