// One catalogue of the errors a user can cause or meet, each with the exit code the
// CLI uses and a hint that says what to do. The CLI prints `corral: <message>` and the
// hint on one line, never a stack trace (see src/cli/main.ts).

export const EXIT_USAGE = 2;
export const EXIT_NOT_EXECUTABLE = 126;
export const EXIT_NOT_FOUND = 127;

const catalogue = {
  USAGE: { exit: EXIT_USAGE, hint: 'run `corral --help` for the options' },
  BAD_VALUE: { exit: EXIT_USAGE, hint: 'run `corral --help` for the accepted values' },
  NO_COMMAND: { exit: EXIT_USAGE, hint: 'put the command after the options, e.g. `corral -- python serve.py`' },
  NOT_FOUND: { exit: EXIT_NOT_FOUND, hint: 'check the spelling, or give the full path to the program' },
  NOT_EXECUTABLE: { exit: EXIT_NOT_EXECUTABLE, hint: 'make it executable (chmod +x) or run it through its interpreter' },
  SPAWN_FAILED: { exit: 1, hint: 'see the message for the step that failed' },
  ADDON: { exit: 1, hint: 'reinstall with `npm ci` (it builds the native addon; python3, make and a C compiler are needed)' },
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

  /** The one line the CLI prints for this error. */
  line(): string {
    return `corral: ${this.message} (${this.hint})`;
  }
}
