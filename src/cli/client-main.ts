// The small entry point of `corral probe` and `corral status`: bin/corral.js loads its bundle
// (dist/client.cjs) when the first argument is one of them, so a Docker HEALTHCHECK every few
// seconds costs little more than `node -e 0`: the client's command line and one HTTP GET,
// nothing of the supervisor, the logger or the addon.

import { CorralError } from '../errors.js';
import { clientInvocation } from './client-args.js';
import { print, probe, status } from './client.js';

declare const __CORRAL_VERSION__: string;
const VERSION = typeof __CORRAL_VERSION__ === 'string' ? __CORRAL_VERSION__ : '0.0.0';

export function main(argv: readonly string[]): number {
  const [sub, ...rest] = argv;
  try {
    if (sub !== 'probe' && sub !== 'status') throw new CorralError('USAGE', `expected probe or status, got ${JSON.stringify(sub ?? '')}`);
    const inv = clientInvocation(sub, rest, {}, process.env, VERSION);
    if (inv.kind === 'output') {
      print(1, inv.text);
      return 0;
    }
    return inv.kind === 'probe' ? probe(inv.target, inv.http, print) : status(inv.http, print);
  } catch (err) {
    if (err instanceof CorralError) {
      print(2, err.line());
      return err.exitCode;
    }
    print(2, `corral: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}
