// The command lines of `corral probe` and `corral status`, shared by the full CLI and the
// small client entry point (client-main.ts), which loads nothing of the supervisor.

import { CorralError } from '../errors.js';
import { resolveHttp } from '../config/resolve.js';
import { CONFIG_FLAG } from '../config/schema.js';
import type { HostPort } from '../config/types.js';
import type { OptionSpec } from './argv.js';
import { parseWith, type Flags, type Grammar } from './grammar.js';

export type ClientSubcommand = 'probe' | 'status';

export type ClientInvocation =
  | { kind: 'probe'; target: 'livez' | 'readyz'; http: { host: string; port: number } }
  | { kind: 'status'; http: { host: string; port: number } }
  | { kind: 'output'; text: string };

const PROBE_USAGE = `corral probe <livez|readyz> [--http ADDR] [--config FILE]

Asks a running corral's /livez or /readyz; for Docker HEALTHCHECK and exec probes.`;

const STATUS_USAGE = `corral status [--http ADDR] [--config FILE]

Prints the pools and workers of a running corral, from its /status endpoint.`;

const PROBE_EPILOGUE = `--http defaults to CORRAL_HTTP, then the \`http\` key of --config / CORRAL_CONFIG, then 0.0.0.0:9000; a wildcard host (0.0.0.0, ::) means loopback.

Exit codes: 0 the endpoint answered 200; 1 it answered something else or could not be reached; 2 usage error.`;

const STATUS_EPILOGUE = `--http defaults to CORRAL_HTTP, then the \`http\` key of --config / CORRAL_CONFIG, then 0.0.0.0:9000; a wildcard host (0.0.0.0, ::) means loopback.

Exit codes: 0 printed; 1 corral could not be reached; 2 usage error.`;

const CLIENT_OPTIONS: Record<string, OptionSpec> = {
  http: { group: 'Options:', describe: 'HOST:PORT of the corral to ask  (default: 0.0.0.0:9000, see below)' },
  [CONFIG_FLAG]: { group: 'Options:', describe: 'take the address from the `http` key of this config file' },
};

const PROBE: Grammar = { specs: CLIENT_OPTIONS, usage: PROBE_USAGE, epilogue: PROBE_EPILOGUE, halt: false, sub: 'probe' };
const STATUS: Grammar = { ...PROBE, usage: STATUS_USAGE, epilogue: STATUS_EPILOGUE, sub: 'status' };

/** Probes connect to the server: a wildcard bind address is reached through loopback. */
function connectable(http: HostPort): HostPort {
  const wildcard = http.host === '0.0.0.0' || http.host === '::' || http.host === '';
  // 127.0.0.1 also reaches a dual-stack [::] server, and works where IPv6 is disabled.
  return wildcard ? { host: '127.0.0.1', port: http.port } : { host: http.host, port: http.port };
}

function clientHttp(flags: Flags, env: NodeJS.ProcessEnv, sub: ClientSubcommand): HostPort {
  const http = resolveHttp({ flags, env });
  if (http === null) {
    throw new CorralError('USAGE', `${sub}: the HTTP server is off (http = "off"), so there is nothing to ask`, {
      hint: 'give the address of a running corral with --http HOST:PORT',
    });
  }
  return connectable(http);
}

/**
 * What `corral probe ...` or `corral status ...` asks for; `pre` holds the options given
 * before the subcommand's name (`corral --http :9100 status`).
 */
export function clientInvocation(sub: ClientSubcommand, rest: readonly string[], pre: Flags, env: NodeJS.ProcessEnv, version: string): ClientInvocation {
  const misplaced = Object.keys(pre).filter((k) => k !== 'http' && k !== CONFIG_FLAG);
  if (misplaced.length > 0) {
    throw new CorralError('USAGE', `${sub} takes only --http and --config, got --${misplaced.join(', --')}`, { hint: `run \`corral ${sub} --help\`` });
  }
  const parsed = parseWith(rest, sub === 'probe' ? PROBE : STATUS, version);
  if (parsed.output !== undefined) return { kind: 'output', text: parsed.output };
  const flags = { ...pre, ...parsed.flags };
  const words = parsed.rest;
  if (sub === 'status') {
    if (words.length > 0) throw new CorralError('USAGE', `status takes no arguments, got ${JSON.stringify(words.join(' '))}`, { hint: 'run `corral status --help`' });
    return { kind: 'status', http: clientHttp(flags, env, sub) };
  }
  const [target, ...extra] = words;
  if ((target !== 'livez' && target !== 'readyz') || extra.length > 0) {
    const got = words.length === 0 ? 'nothing' : JSON.stringify(words.join(' '));
    throw new CorralError('USAGE', `probe: expected livez or readyz, got ${got}`, { hint: 'e.g. `corral probe readyz --http 127.0.0.1:9000`' });
  }
  return { kind: 'probe', target, http: clientHttp(flags, env, sub) };
}
