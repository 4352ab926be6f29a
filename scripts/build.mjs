// Builds dist/: every module transpiled one to one (dist/<path>.js, for tests and
// embedding), plus dist/corral.js, the CLI bundled into one file so a container starts
// fast.
// Type checking is `npm run typecheck`; esbuild only strips types.
import { build } from 'esbuild';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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
await build({
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  outfile: join(root, 'dist', 'corral.js'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  define,
  // node-pty is loaded lazily and has its own native part.
  external: ['node-pty'],
  // Bundled CommonJS dependencies need a require() in ESM.
  banner: { js: "import { createRequire as __corralCreateRequire } from 'node:module'; const require = __corralCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
