#!/usr/bin/env node
// corral's executable: the bundled CLI built by `npm ci` (scripts/build.mjs).
import { main } from '../dist/corral.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  () => process.exit(1),
);
