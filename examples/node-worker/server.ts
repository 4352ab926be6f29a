// A dynamic-batching inference server for corral, in TypeScript on Node.js: the same protocol
// as examples/python-batch-worker, spoken through corral/worker.
//
//   POST /infer {"inputs": [numbers]}  ->  {"outputs": [16 numbers], "batch_size", "worker", "device"}
//   GET  /health
//
// - Serves on the socket corral holds for the pool (`--listen`, fd 3), else on PORT.
// - Collects requests into batches (MAX_BATCH, or MAX_WAIT_MS after the first) and runs the
//   model once per batch; reports each batch to corral (X_CORRAL_BATCH).
// - READY=1 once the model is loaded; WATCHDOG=1 from the batching loop itself, so a model call
//   that never returns stops the heartbeat and corral restarts the worker.
// - SIGTERM: keeps accepting what is already queued on the shared socket, then stops accepting,
//   answers every request it took, and exits 0.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { batch, heartbeat, listenHandle, queue as reportQueue, ready, status, stopping, watchdogMs } from 'corral/worker';

const WORKER = Number(process.env.CORRAL_WORKER ?? '0');
const MAX_BATCH = Number(process.env.MAX_BATCH ?? '8');
const MAX_WAIT_MS = Number(process.env.MAX_WAIT_MS ?? '5');
// A few heartbeats per watchdog period (corral sets WATCHDOG_USEC with --watchdog).
const BEAT_EVERY_MS = Math.min(1000, (watchdogMs() ?? 3000) / 3);
// After SIGTERM: once no connection has arrived for this long, the backlog is empty.
const QUIET_MS = 100;
// ... and whatever keeps arriving, stop accepting this long after SIGTERM (set it below
// corral's --grace, so that what was accepted still has time to finish).
const DRAIN_MAX_MS = Number(process.env.DRAIN_MAX_MS ?? '5000');
const MAX_BODY = 1 << 20;
const DIM = 16;
const HIDDEN = 64;

const log = (text: string): void => void process.stdout.write(`worker ${WORKER}: ${text}\n`);

// ------------------------------------------------------------------------------ the model

type Model = (rows: number[][]) => Promise<number[][]>;

/** Linear(16, 64) - ReLU - Linear(64, 16) with fixed pseudo-random weights: same input, same output. */
function loadModel(): Model {
  let seed = 1;
  const rand = (scale: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return (seed / 2 ** 31 - 0.5) * 2 * scale;
  };
  const w1 = Array.from({ length: HIDDEN }, () => Array.from({ length: DIM }, () => rand(0.25)));
  const b1 = Array.from({ length: HIDDEN }, () => rand(0.1));
  const w2 = Array.from({ length: DIM }, () => Array.from({ length: HIDDEN }, () => rand(0.125)));
  const b2 = Array.from({ length: DIM }, () => rand(0.1));
  const layer = (x: number[], w: number[][], b: number[], relu: boolean): number[] =>
    w.map((ws, j) => {
      const v = ws.reduce((s, wk, k) => s + wk * (x[k] ?? 0), b[j] ?? 0);
      return relu ? Math.max(0, v) : v;
    });
  // Async like a real runtime's run() (onnxruntime-node, a GPU call in an addon).
  return (rows) => Promise.resolve(rows.map((x) => layer(layer(x, w1, b1, true), w2, b2, false)));
}

/** Inputs padded with zeros or truncated to DIM. */
const pad = (xs: number[]): number[] => Array.from({ length: DIM }, (_, i) => xs[i] ?? 0);

// ------------------------------------------------------------------------------ batching

interface Pending {
  inputs: number[];
  resolve: (result: { output: number[]; batchSize: number }) => void;
  reject: (err: Error) => void;
}

const queue: Pending[] = [];
let waiting = 0;
let wake: (() => void) | undefined;
let closed = false; // the server is closed and every connection has ended

/** The next queued request, or undefined after `ms` (or when woken with nothing queued). */
function next(ms: number): Promise<Pending | undefined> {
  const now = queue.shift();
  if (now || ms <= 0 || closed) return Promise.resolve(now);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      wake = undefined;
      resolve(undefined);
    }, ms);
    wake = () => {
      clearTimeout(timer);
      wake = undefined;
      resolve(queue.shift());
    };
  });
}

function enqueue(p: Pending): void {
  queue.push(p);
  wake?.();
}

/** Collects batches and runs the model. Heartbeats come from here on purpose. */
async function batchingLoop(run: Model): Promise<void> {
  let lastBeat = 0;
  for (;;) {
    if (performance.now() - lastBeat >= BEAT_EVERY_MS) {
      heartbeat(); // only reached when the last model call returned
      lastBeat = performance.now();
    }
    const first = await next(BEAT_EVERY_MS);
    if (!first) {
      if (closed && queue.length === 0) return;
      continue;
    }
    const items = [first];
    const deadline = performance.now() + MAX_WAIT_MS;
    while (items.length < MAX_BATCH) {
      const more = await next(deadline - performance.now());
      if (!more) break;
      items.push(more);
    }
    const start = performance.now();
    try {
      const outputs = await run(items.map((p) => p.inputs));
      batch(items.length, (performance.now() - start) / 1000);
      items.forEach((p, i) => {
        p.resolve({ output: outputs[i] ?? [], batchSize: items.length });
      });
    } catch (err) {
      // A failed batch fails its requests, not the worker.
      for (const p of items) p.reject(err as Error);
    }
  }
}

// ------------------------------------------------------------------------------ HTTP

let draining = false;

function reply(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    // While draining, no connection is kept for a next request.
    ...(draining && { connection: 'close' }),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => {
      if (size > MAX_BODY) return; // already refused; the rest is read and dropped
      size += d.length;
      if (size > MAX_BODY) reject(new Error(`body over ${MAX_BODY} bytes`));
      else parts.push(d);
    });
    req.on('end', () => {
      resolve(Buffer.concat(parts).toString('utf8'));
    });
    req.on('error', reject);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === 'GET' && req.url === '/health') {
    reply(res, 200, { ok: true, worker: WORKER });
    return;
  }
  if (req.method !== 'POST' || req.url !== '/infer') {
    reply(res, 404, { error: 'not found' });
    return;
  }
  let inputs: number[];
  try {
    const body = JSON.parse(await readBody(req)) as { inputs?: unknown };
    if (!Array.isArray(body.inputs) || !body.inputs.every((x) => typeof x === 'number')) throw new Error('inputs must be a list of numbers');
    inputs = pad(body.inputs);
  } catch (err) {
    reply(res, 400, { error: `bad request: ${(err as Error).message}` });
    return;
  }
  // Requests taken and not answered yet (queued, or in the batch being run): the queue depth
  // corral serves as corral_queue_depth, the figure to autoscale on (queue() sends at most 20
  // datagrams a second, the latest value always).
  reportQueue(++waiting);
  try {
    const { output, batchSize } = await new Promise<{ output: number[]; batchSize: number }>((resolve, reject) => {
      enqueue({ inputs, resolve, reject });
    });
    reply(res, 200, { outputs: output, batch_size: batchSize, worker: WORKER, device: 'cpu' });
  } catch (err) {
    reply(res, 500, { error: (err as Error).message });
  } finally {
    reportQueue(--waiting);
  }
}

// ------------------------------------------------------------------------------ main

async function main(): Promise<void> {
  // Signals first: a SIGTERM during model loading must also end in a clean exit 0.
  let beginDrain = (): void => {
    draining = true; // handled once the server is up
  };
  const onSignal = (): void => {
    beginDrain();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  status('loading model');
  const run = loadModel();
  await run([pad([])]); // warm-up
  const loop = batchingLoop(run);

  const server = createServer((req, res) => void handle(req, res));
  let lastConnection = performance.now();
  server.on('connection', () => (lastConnection = performance.now()));
  const handle3 = listenHandle();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (handle3) server.listen(handle3, resolve);
    else server.listen(Number(process.env.PORT ?? 8000 + WORKER), process.env.HOST ?? '127.0.0.1', resolve);
  });
  // From here on an error (EMFILE on accept, say) is logged; the server keeps serving.
  server.removeAllListeners('error');
  server.on('error', (err) => {
    log(`server error: ${err.message}`);
  });

  let started = false;
  beginDrain = (): void => {
    if (started) return;
    started = true;
    draining = true;
    stopping();
    status('draining');
    log('SIGTERM: accepting what is queued, then stopping');
    // The socket is shared by the pool and still open in corral: connections already in its
    // backlog are accepted (by this worker or a sibling) while it keeps arriving; once it is
    // quiet, or DRAIN_MAX_MS after the signal, stop accepting and let the open connections finish.
    const since = performance.now();
    const poll = setInterval(() => {
      const now = performance.now();
      if (now - lastConnection < QUIET_MS && now - since < DRAIN_MAX_MS) return;
      clearInterval(poll);
      server.close(() => {
        closed = true;
        wake?.();
      });
    }, 20);
  };
  if (draining) beginDrain(); // the signal came while loading
  else {
    ready(`serving on cpu, max batch ${MAX_BATCH}, max wait ${MAX_WAIT_MS} ms`);
    log('ready on cpu');
  }

  await loop;
  log('stopped cleanly');
}

main().catch((err: unknown) => {
  process.stderr.write(`worker ${WORKER}: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
