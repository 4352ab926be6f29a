// A small command-line tokenizer and help renderer, for corral's own argv shapes only:
// long options with a value (`--grace 5s`, `--grace=5s`), boolean options (`--pty`,
// `--pty=false`, `--no-pty`), `-h`/`--help`, `--version`, `--` and, for the run, options that
// end at the first word that is not one. It loads nothing: a container's start and every
// `corral probe` pay for it.

export interface OptionSpec {
  describe: string;
  group: string;
  boolean?: true;
}

export interface Tokens {
  /** The options given, by name; the last of a repeated option wins. */
  flags: Record<string, string | boolean>;
  /** What follows the options (halting) or every non-option word (not halting). */
  rest: string[];
  /** The `--` that ended the options, if one did. */
  dashDash: boolean;
  help: boolean;
  version: boolean;
  /** Unknown options, without their dashes (`wrokers`, `x` for `-x`), in order. */
  unknown: string[];
  /** Options that take no value and got one (`--pty=yes`). */
  badBoolean: string[];
}

/**
 * Splits argv into options and the rest. `halt`: options end at the first word that is not
 * one (the run: the rest is the command and its own options). A value option at the end, or
 * followed by another option, gets the empty string (the validator then says what it wants).
 */
export function tokenize(argv: readonly string[], specs: Readonly<Record<string, OptionSpec>>, halt: boolean): Tokens {
  const t: Tokens = { flags: {}, rest: [], dashDash: false, help: false, version: false, unknown: [], badBoolean: [] };
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i] ?? '';
    if (tok === '--') {
      t.dashDash = true;
      t.rest.push(...argv.slice(i + 1));
      break;
    }
    if (tok.startsWith('--')) {
      const eq = tok.indexOf('=');
      const name = eq === -1 ? tok.slice(2) : tok.slice(2, eq);
      const inline = eq === -1 ? undefined : tok.slice(eq + 1);
      if (name === 'help') t.help = true;
      else if (name === 'version') t.version = true;
      else if (specs[name]?.boolean === true) {
        if (inline === undefined || inline === 'true') t.flags[name] = true;
        else if (inline === 'false') t.flags[name] = false;
        else t.badBoolean.push(name);
      } else if (specs[name] !== undefined) {
        if (inline !== undefined) t.flags[name] = inline;
        else {
          const next = argv[i + 1];
          if (next !== undefined && (!next.startsWith('-') || next === '-')) {
            t.flags[name] = next;
            i++;
          } else t.flags[name] = '';
        }
      } else if (name.startsWith('no-') && specs[name.slice(3)]?.boolean === true && inline === undefined) {
        t.flags[name.slice(3)] = false;
      } else t.unknown.push(name);
      continue;
    }
    if (tok.startsWith('-') && tok.length > 1) {
      for (const c of tok.slice(1)) {
        if (c === 'h') t.help = true;
        else t.unknown.push(c);
      }
      continue;
    }
    if (halt) {
      t.rest.push(...argv.slice(i));
      break;
    }
    t.rest.push(tok);
  }
  return t;
}

/**
 * Words of `text` in lines of at most `width` columns (a longer word gets its own line);
 * a run of spaces inside a line is kept (the two before a "(default: ...)").
 */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ' ' + word;
    else {
      lines.push(line.trimEnd());
      line = word;
    }
  }
  if (line !== '') lines.push(line.trimEnd());
  return lines;
}

function wrapParagraphs(text: string, width: number): string {
  return text
    .split('\n')
    .map((p) => (p === '' ? '' : wrapText(p, width).join('\n')))
    .join('\n');
}

const BUILT_IN: Readonly<Record<string, OptionSpec>> = {
  version: { group: 'Options:', describe: 'Show version number' },
  help: { group: 'Options:', describe: 'Show help' },
};

/**
 * The help text: usage, each group's options with their descriptions in a column (wrapped
 * to `width`), then the epilogue.
 */
export function renderHelp(usage: string, specs: Readonly<Record<string, OptionSpec>>, epilogue: string, width: number): string {
  const groups = new Map<string, [string, string][]>();
  for (const [name, spec] of Object.entries({ ...specs, ...BUILT_IN })) {
    const label = name === 'help' ? '  -h, --help' : `      --${name}`;
    const rows = groups.get(spec.group) ?? [];
    rows.push([label, spec.describe]);
    groups.set(spec.group, rows);
  }
  const out = [usage, ''];
  for (const [group, rows] of groups) {
    out.push(group);
    const col = Math.max(...rows.map(([label]) => label.length)) + 2;
    for (const [label, describe] of rows) {
      const lines = wrapText(describe, Math.max(20, width - col));
      out.push(label.padEnd(col) + (lines[0] ?? ''));
      for (const more of lines.slice(1)) out.push(' '.repeat(col) + more);
    }
    out.push('');
  }
  out.push(wrapParagraphs(epilogue, width));
  return out.join('\n');
}
