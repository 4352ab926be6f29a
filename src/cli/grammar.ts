// Parsing one command's argv with its grammar (options, usage, epilogue): --help and
// --version give output, an unknown option is a usage error that says what was meant.

import { CorralError } from '../errors.js';
import { ALL_FLAGS } from '../config/schema.js';
import { nearest } from '../config/suggest.js';
import { renderHelp, tokenize, type OptionSpec } from './argv.js';

export type Flags = Record<string, string | boolean | undefined>;

function wrap(): number {
  return Math.min(100, process.stdout.columns || 100);
}

export interface Parsed {
  flags: Flags;
  rest: string[];
  /** The `--` that ended the options, if one did. */
  dashDash: boolean;
  output?: string;
}

/** An unknown option says what was probably meant, or that it belongs to another command. */
function unknownError(names: readonly string[], valid: readonly string[], sub: string | null): CorralError {
  const parts = names.map((n) => {
    const dashed = n.length === 1 ? `-${n}` : `--${n}`;
    if (sub !== null && ALL_FLAGS.includes(n)) return `${dashed} (not an option of \`corral ${sub}\`)`;
    const guess = nearest(n, valid);
    return guess === undefined ? dashed : `${dashed} (did you mean --${guess}?)`;
  });
  const hint = sub === null ? {} : { hint: `run \`corral ${sub} --help\` for its options` };
  return new CorralError('USAGE', `unknown option${parts.length > 1 ? 's' : ''} ${parts.join(', ')}`, hint);
}

export interface Grammar {
  specs: Readonly<Record<string, OptionSpec>>;
  usage: string;
  epilogue: string;
  /** Options end at the first word that is not one (the rest is the command). */
  halt: boolean;
  sub: string | null;
}

export function parseWith(argv: readonly string[], g: Grammar, version: string): Parsed {
  const t = tokenize(argv, g.specs, g.halt);
  const parsed: Parsed = { flags: t.flags, rest: t.rest, dashDash: t.dashDash };
  if (t.help) return { ...parsed, output: renderHelp(g.usage, g.specs, g.epilogue, wrap()) };
  if (t.version) return { ...parsed, output: version };
  if (t.unknown.length > 0) throw unknownError(t.unknown, g.sub === null ? ALL_FLAGS : Object.keys(g.specs), g.sub);
  const bad = t.badBoolean[0];
  if (bad !== undefined) throw new CorralError('USAGE', `--${bad} takes no value (use --${bad} or --no-${bad})`);
  return parsed;
}

