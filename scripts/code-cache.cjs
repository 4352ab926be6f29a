// Writes dist/<name>.cache, the V8 code cache of dist/<name>.cjs (bin/load.js reads it):
// the bundle is loaded and run once the way a container starts it, so that the cache holds
// the functions a start compiles, then V8 serialises them. Run by scripts/build.mjs.
//
//   node scripts/code-cache.cjs corral      corral --http 127.0.0.1:<free> -- node -e 0
//   node scripts/code-cache.cjs client      corral probe livez, corral status (a stand-in server)
'use strict';
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { createServer } = require('node:net');
const { join } = require('node:path');
const { load, BUILD_ID, DIST } = require('../bin/load.js');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function run(name) {
  const { exports, script } = load(name);
  const id = BUILD_ID.exec(readFileSync(join(DIST, `${name}.cjs`), 'utf8').slice(-100))?.[1];
  if (id === undefined) throw new Error(`dist/${name}.cjs has no build id`);
  if (name === 'corral') {
    const code = await exports.main(['--http', `127.0.0.1:${await freePort()}`, '--', process.execPath, '-e', '0'], []);
    if (code !== 0) throw new Error(`corral exited with ${code}`);
  } else if (name === 'client') {
    // `corral probe livez` and `corral status` against a stand-in server; the client blocks
    // (its GET is in the addon), so the server runs in a child.
    const child = require('node:child_process').spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => s.end(q.url === '/status' ? '{"pools":{"main":{"workers":[{"index":0,"pid":1,"state":"ready"}]}},"container":null}' : 'ok')).listen(0, '127.0.0.1', function () { console.log(this.address().port); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
    try {
      for (const argv of [['probe', 'livez', '--http', `127.0.0.1:${port}`], ['status', '--http', `127.0.0.1:${port}`]]) {
        const code = exports.main(argv);
        if (code !== 0) throw new Error(`corral ${argv.join(' ')} exited with ${code}`);
      }
    } finally {
      child.kill();
    }
  } else {
    throw new Error(`no start known for ${name}`);
  }
  // The build id, the length of the code (8 hex digits), the code; written whole, then renamed.
  const code = script.createCachedData();
  const file = join(DIST, `${name}.cache`);
  writeFileSync(`${file}.tmp`, Buffer.concat([Buffer.from(id + code.length.toString(16).padStart(8, '0'), 'latin1'), code]));
  renameSync(`${file}.tmp`, file);
}

run(process.argv[2]).then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`code-cache: ${err.message}\n`);
    process.exit(1);
  },
);
