// Builds dist/: every module transpiled one to one (dist/<path>.js, for tests and
// embedding), plus dist/corral.js, the CLI bundled into one file so a container starts
// fast.
// Type checking is `npm run typecheck`; esbuild only strips types.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const define = { __CORRAL_VERSION__: JSON.stringify(version) };

function tsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

rmSync(join(root, 'dist'), { recursive: true, force: true });
await build({
  entryPoints: tsFiles(join(root, 'src')),
  outdir: join(root, 'dist'),
  outbase: join(root, 'src'),
  format: 'esm',
  platform: 'node',
  target: 'node20',
  define,
  logLevel: 'warning',
});
// The TypeScript worker example (it imports corral/worker, i.e. dist/worker/index.js); not
// in an image build, which copies src/ only.
const example = join(root, 'examples', 'node-worker');
if (existsSync(example)) {
  await build({
    entryPoints: tsFiles(example),
    outdir: join(root, 'dist', 'examples', 'node-worker'),
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
}
// pino's own destinations (sonic-boom, thread-stream's worker threads) are never used: corral
// hands pino its own writer. Bundled, their modules would load node:assert and
// node:worker_threads at every start, so pino gets stand-ins that only say so if called.
const pinoOwnDestinationsOff = {
  name: 'pino-own-destinations-off',
  setup(b) {
    const inPino = `${sep}node_modules${sep}pino${sep}`;
    b.onResolve({ filter: /^(sonic-boom|thread-stream|worker_threads)$/ }, (args) =>
      args.importer.includes(inPino) ? { path: args.path, namespace: 'unused-by-corral' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'unused-by-corral' }, (args) => ({
      loader: 'js',
      contents:
        args.path === 'worker_threads'
          ? 'module.exports = { isMainThread: true };'
          : `module.exports = function Unused() { throw new Error('${args.path} is not in the bundle of corral: corral gives pino its own destination'); };`,
    }));
  },
};

// The CLI: one CommonJS file, so that bin/load.js can compile it from V8's code cache (an ES
// module cannot be), with import.meta.url standing for the file's URL.
async function bundle(entry, name) {
  const outfile = join(root, 'dist', `${name}.cjs`);
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    define: { ...define, 'import.meta.url': '__corralUrl' },
    // node-pty is loaded lazily and has its own native part.
    external: ['node-pty'],
    plugins: [pinoOwnDestinationsOff],
    banner: { js: "var __corralUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  });
  // The build id ties a code cache to this very bundle (bin/load.js).
  const id = createHash('sha256').update(readFileSync(outfile)).digest('hex').slice(0, 32);
  appendFileSync(outfile, `\n// corral-build ${id}\n`);
  // The start runs with corral's defaults: none of the builder's CORRAL_* settings (an image
  // may set CORRAL_USER before npm ci), nor a socket or a supervisor of its own.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CORRAL_') && !['NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID', 'WATCHDOG_USEC'].includes(k)));
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'code-cache.cjs'), name], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 60_000, env });
  if (r.status !== 0) {
    process.stderr.write(`warning: no code cache for dist/${name}.cjs (it works, but starts slower): ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}\n`);
  }
}

await bundle(join(root, 'src', 'cli', 'main.ts'), 'corral');
await bundle(join(root, 'src', 'cli', 'client-main.ts'), 'client');
