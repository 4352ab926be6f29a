// httpExchange (src/native/http.c), the blocking GET of `corral probe` and `corral status`:
// the whole answer from a server that closes, and why not, in Node's words, bounded by the
// deadline: refused, unknown host, a server that accepts and never answers, a bad argument.
// The servers run in a child: the exchange blocks this thread.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { native } from '../../dist/native/index.js';

const addon = native();
const SERVER = `
const net = require('node:net');
const answer = net.createServer((s) => { let got = ''; s.on('data', (d) => { got += d; if (got.includes('\\r\\n\\r\\n')) s.end('HTTP/1.0 503 Service Unavailable\\r\\nContent-Length: 9\\r\\n\\r\\nnot ready' + ' ' + got.split('\\r\\n')[0]); }); });
const silent = net.createServer(() => {});
answer.listen(0, '127.0.0.1', () => silent.listen(0, '127.0.0.1', () => console.log(answer.address().port, silent.address().port)));
`;
const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
after(() => child.kill());
const ports = new Promise((resolve) => child.stdout.once('data', (d) => resolve(String(d).trim().split(' ').map(Number))));

test('the whole answer of a server that closes; the request goes out as given', async () => {
  const [port] = await ports;
  const got = addon.httpExchange('127.0.0.1', port, 'GET /readyz HTTP/1.0\r\nHost: x\r\n\r\n', 5000);
  assert.ok(Buffer.isBuffer(got));
  assert.equal(got.toString(), 'HTTP/1.0 503 Service Unavailable\r\nContent-Length: 9\r\n\r\nnot ready GET /readyz HTTP/1.0');
});

test('why not, in Node\'s words: refused, unknown host; a silent server within the deadline', async () => {
  const [, silent] = await ports;
  assert.equal(addon.httpExchange('127.0.0.1', 1, 'GET / HTTP/1.0\r\n\r\n', 2000), 'connect ECONNREFUSED 127.0.0.1:1');
  assert.match(addon.httpExchange('no-such-host.invalid', 80, 'GET / HTTP/1.0\r\n\r\n', 2000), /^getaddrinfo (ENOTFOUND|.+) no-such-host\.invalid$/);
  const t0 = Date.now();
  assert.equal(addon.httpExchange('127.0.0.1', silent, 'GET / HTTP/1.0\r\n\r\n', 300), 'no answer within 300 ms');
  const took = Date.now() - t0;
  assert.ok(took >= 290 && took < 3000, `gave up after ${took} ms`);
});

test('bad arguments are a TypeError', () => {
  assert.throws(() => addon.httpExchange('127.0.0.1', 0, 'x', 100), TypeError);
  assert.throws(() => addon.httpExchange('127.0.0.1', 80, 'x', 0), TypeError);
  assert.throws(() => addon.httpExchange(1, 80, 'x', 100), TypeError);
});
