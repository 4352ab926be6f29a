// Reading a config file: TOML (smol-toml), or JSON when the name ends in .json. Syntax
// errors become one line with the line and column; what the keys mean is resolve.ts's.

import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { CorralError } from '../errors.js';
import { JsonSyntaxError, parseJson } from './json.js';
import { isTable } from './values.js';

export interface ConfigDocument {
  /** The path as the user gave it, for messages. */
  name: string;
  /** Relative paths inside the file resolve against its folder, as in docker-compose. */
  dir: string;
  format: 'toml' | 'json';
  data: Record<string, unknown>;
}

function checkHint(name: string): string {
  return `fix it, then run \`corral check-config --config ${name}\``;
}

/** Larger than any real config; a bigger file is a mistake (or /dev/zero), and parsing it would take seconds. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Reads a regular file of at most MAX_CONFIG_BYTES. Opened non-blocking, so a FIFO cannot
 * hang corral before its signal handling is up, and checked with fstat before a byte is read.
 */
function readText(name: string, path: string): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    if (!st.isFile()) {
      throw new CorralError('CONFIG_FILE', `cannot read config file ${name}: not a regular file (a FIFO, socket or device)`, { hint: 'point --config at a TOML or JSON file' });
    }
    if (st.size > MAX_CONFIG_BYTES) {
      throw new CorralError('CONFIG_FILE', `cannot read config file ${name}: ${st.size} bytes is more than the 1 MiB a config file may have`, {
        hint: 'point --config at the config file itself',
      });
    }
    return readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof CorralError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : (code ?? (err instanceof Error ? err.message : String(err)));
    throw new CorralError('CONFIG_FILE', `cannot read config file ${name}: ${why}`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** smol-toml says "redefine an already defined table"; for a pool, say which one. */
function tomlMessage(err: TomlError, text: string): string {
  const first = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document:\s*/, '');
  const line = text.split(/\r?\n/)[err.line - 1] ?? '';
  const pool = /^\s*\[\s*pools\s*\.\s*(?:"([^"]*)"|([A-Za-z0-9_-]+))\s*\]/.exec(line);
  if (pool && /redefine/.test(first)) return `duplicate pool ${JSON.stringify(pool[1] ?? pool[2] ?? '')} (a [pools.${pool[1] ?? pool[2] ?? ''}] table is already defined above)`;
  return first;
}

/** Reads and parses a config file; every problem is a CorralError (exit 2). */
export function readConfigFile(name: string, cwd: string): ConfigDocument {
  const path = resolve(cwd, name);
  const text = readText(name, path);
  const format = /\.json$/i.test(name) ? 'json' : 'toml';
  let data: unknown;
  try {
    data = format === 'json' ? parseJson(text) : parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      throw new CorralError('CONFIG_SYNTAX', `${name}: line ${err.line}, column ${err.column}: invalid TOML: ${tomlMessage(err, text)}`, {
        hint: checkHint(name),
        cause: err,
      });
    }
    if (err instanceof JsonSyntaxError) {
      throw new CorralError('CONFIG_SYNTAX', `${name}: line ${err.line}, column ${err.column}: invalid JSON: ${err.message}`, {
        hint: checkHint(name),
        cause: err,
      });
    }
    throw err;
  }
  if (!isTable(data)) {
    throw new CorralError('CONFIG_SYNTAX', `${name}: expected a JSON object at the top level, got ${Array.isArray(data) ? 'an array' : JSON.stringify(data)}`, {
      hint: checkHint(name),
    });
  }
  return { name, dir: dirname(path), format, data };
}

export { checkHint };
