#!/usr/bin/env node
// corral's executable: the bundled CLI built by `npm ci` (scripts/build.mjs), or for
// `corral probe` and `corral status` the small client bundle. For a run, handlers go in before the bundle loads: a SIGUSR1 with no handler would open Node's
// inspector, and a SIGTERM sent to PID 1 with no handler would be lost. What arrives
// meanwhile is handed to main(), which replays it.
'use strict';
const { load } = require('./load.js');
const first = process.argv[2];
if (first === 'probe' || first === 'status') {
  // A client of a running corral (a Docker HEALTHCHECK, an exec probe): its own small bundle.
  process.exit(load('client').exports.main(process.argv.slice(2)));
} else {
  const early = [];
  const keep = (sig) => early.push(sig);
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGQUIT'];
  for (const sig of signals) process.on(sig, keep);
  load('corral')
    .exports.main(process.argv.slice(2), early, () => {
      for (const sig of signals) process.off(sig, keep);
    })
    .then(
      (code) => process.exit(code),
      () => process.exit(1),
    );
}
