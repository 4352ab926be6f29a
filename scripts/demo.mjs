// `npm run demo`: corral supervising the example dynamic-batching pool on CPU (2 workers,
// notify readiness, one held socket), with health and metrics live. Ctrl-C stops it cleanly.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVICE = process.env.DEMO_PORT ?? '8080';
const HTTP = process.env.DEMO_HTTP_PORT ?? '9000';

process.stderr.write(`
  corral demo: 2 CPU workers of examples/python-batch-worker/server.py

    service   http://127.0.0.1:${SERVICE}/infer   (one socket held by corral, shared by the workers)
    ready     http://127.0.0.1:${HTTP}/readyz
    metrics   http://127.0.0.1:${HTTP}/metrics
    status    node bin/corral.js status --http 127.0.0.1:${HTTP}

    try:      curl -s -X POST -d '{"inputs": [1, 2, 3]}' http://127.0.0.1:${SERVICE}/infer

  Ctrl-C drains and stops everything.

`);

const corral = spawn(
  process.execPath,
  [
    join(root, 'bin', 'corral.js'),
    '--workers', '2',
    '--gpus', 'none',
    '--ready', 'notify',
    '--watchdog', '30s',
    '--listen', `127.0.0.1:${SERVICE}`,
    '--http', `127.0.0.1:${HTTP}`,
    '--',
    'python3', join(root, 'examples', 'python-batch-worker', 'server.py'),
  ],
  { stdio: 'inherit' },
);
// Ctrl-C reaches corral too (same terminal process group); corral drains and exits.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => corral.kill('SIGTERM'));
corral.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
