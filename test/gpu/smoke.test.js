// GPU smoke test (`npm run test:gpu`, never part of `npm test`): corral runs the Python
// example with PyTorch on the real GPU(s). Checks placement (each worker's CUDA context is on
// the GPU corral gave it), corral_gpu_* metrics with real values, batch metrics under load,
// and a clean stop. Skipped, with the reason printed, where nvidia-smi or torch+CUDA is absent.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { freePort, http, killAll, root, runCorral, sample, until } from '../helpers.js';

afterEach(killAll);

const smi = process.env.CORRAL_NVIDIA_SMI ?? 'nvidia-smi';
const run = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });

/** The GPUs nvidia-smi lists, or a reason why there is nothing to test. */
function gpus() {
  const r = run(smi, ['--query-gpu=index,uuid,name,memory.total', '--format=csv,noheader,nounits']);
  if (r.error) return { why: `${smi} not found (${r.error.code ?? r.error.message})` };
  if (r.status !== 0) return { why: `${smi} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n')[0]}` };
  const list = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [index, uuid, name] = l.split(',').map((s) => s.trim());
      return { index, uuid, name };
    });
  return list.length ? { list } : { why: `${smi} lists no GPU` };
}

/** A python with torch that sees CUDA, or a reason. */
function python() {
  const tried = [];
  for (const py of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    const r = run(py, ['-c', 'import sys, torch; print(torch.__version__, torch.cuda.is_available(), torch.cuda.device_count()); sys.exit(0 if torch.cuda.is_available() else 3)']);
    if (r.status === 0) return { py, torch: r.stdout.trim() };
    tried.push(`${py}: ${r.error ? 'not found' : r.status === 3 ? `torch without CUDA (${r.stdout.trim()})` : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`)}`);
  }
  return { why: `no python with torch and CUDA (${tried.join('; ')})` };
}

const found = gpus();
const pyFound = found.list ? python() : {};
const why = found.why ?? pyFound.why;
if (why) process.stderr.write(`# GPU smoke test skipped: ${why}\n`);

test('GPU smoke: the Python example with torch on every GPU, placement, GPU and batch metrics, clean stop', { skip: why, timeout: 300_000 }, async (t) => {
  const devices = found.list;
  const lp = await freePort();
  const hp = await freePort();
  const started = Date.now();
  const c = runCorral(
    ['--workers', 'gpu', '--ready', 'notify', '--watchdog', '60s', '--listen', `127.0.0.1:${lp}`, '--http', `127.0.0.1:${hp}`, '--', pyFound.py, join(root, 'examples', 'python-batch-worker', 'server.py')],
    { env: { PYTHONDONTWRITEBYTECODE: '1', MAX_BATCH: '32', MAX_WAIT_MS: '20' } },
  );
  const ready = await until(async () => {
    const r = await http(hp, '/readyz');
    if (r.status !== 200) return false;
    const body = JSON.parse(r.body);
    return body.pools.main.ready === devices.length ? body : false;
  }, { what: `all ${devices.length} workers ready`, timeoutMs: 180_000, intervalMs: 200 });
  const readyMs = Date.now() - started;
  assert.ok(ready);

  // Placement: worker i was given GPU i (one per GPU), and its CUDA device is that GPU.
  const status = JSON.parse((await http(hp, '/status')).body);
  const workers = status.pools.main.workers;
  assert.equal(workers.length, devices.length, JSON.stringify(status));
  const records = c.records();
  for (const w of workers) {
    const gpu = devices[w.index];
    assert.equal(String(w.gpu), gpu.index, `worker ${w.index} gpu in /status: ${JSON.stringify(w)}`);
    const line = records.find((r) => r.pool === 'main' && r.worker === w.index && typeof r.msg === 'string' && r.msg.includes('ready on'));
    assert.ok(line, `worker ${w.index} logged its device`);
    assert.match(line.msg, new RegExp(`ready on cuda:${gpu.index} \\(`), line.msg);
    // torch >= 2.0 reports the device's UUID: it must be the GPU corral assigned.
    if (line.msg.includes('GPU-')) assert.ok(line.msg.includes(gpu.uuid), `${line.msg} names ${gpu.uuid}`);
  }
  // Where nvidia-smi sees our pids (no PID namespace in between), each worker's process is on its GPU.
  const apps = run(smi, ['--query-compute-apps=pid,gpu_uuid', '--format=csv,noheader']);
  const onGpu = new Map(apps.stdout?.trim().split('\n').filter(Boolean).map((l) => l.split(',').map((s) => s.trim())).map(([pid, uuid]) => [Number(pid), uuid]) ?? []);
  let placedByPid = 0;
  for (const w of workers) {
    if (!onGpu.has(w.pid)) continue;
    assert.equal(onGpu.get(w.pid), devices[w.index].uuid, `worker ${w.index} (pid ${w.pid}) runs on the GPU it was given`);
    placedByPid++;
  }

  // Load: concurrent requests, all answered on the GPU, some batched together.
  const N = 400;
  const t0 = Date.now();
  const results = await Promise.all(Array.from({ length: N }, (_, i) => http(lp, '/infer', { method: 'POST', json: { inputs: [i, i / 2, -i, 1] } })));
  const loadMs = Date.now() - t0;
  for (const r of results) {
    assert.equal(r.status, 200, JSON.stringify(r));
    const body = JSON.parse(r.body);
    assert.equal(body.outputs.length, 16);
    assert.match(body.device, /^cuda:/);
  }
  const maxBatch = Math.max(...results.map((r) => JSON.parse(r.body).batch_size));

  // Metrics: batches counted from X_CORRAL_BATCH; GPU figures from nvidia-smi, real values.
  const metrics = await until(async () => {
    const m = (await http(hp, '/metrics')).body;
    const batches = sample(m, 'corral_batch_size_count', { pool: 'main' });
    const used = devices.map((d) => sample(m, 'corral_gpu_memory_used_bytes', { gpu: d.index, uuid: d.uuid }));
    // The collector runs every 10 s: wait for a sample taken after the CUDA contexts exist.
    return batches > 0 && sample(m, 'corral_batch_size_sum', { pool: 'main' }) >= N && used.every((u) => u > 100 * 2 ** 20) ? m : false;
  }, { what: 'batch metrics and GPU memory in use on every GPU', timeoutMs: 40_000, intervalMs: 500 });
  const figures = [];
  for (const d of devices) {
    const l = { gpu: d.index, uuid: d.uuid };
    const util = sample(metrics, 'corral_gpu_utilization_ratio', l);
    const used = sample(metrics, 'corral_gpu_memory_used_bytes', l);
    const total = sample(metrics, 'corral_gpu_memory_total_bytes', l);
    const watts = sample(metrics, 'corral_gpu_power_watts', l);
    const temp = sample(metrics, 'corral_gpu_temperature_celsius', l);
    assert.ok(util >= 0 && util <= 1, `utilization ${util}`);
    assert.ok(total > 1e9 && used > 0 && used < total, `memory ${used} of ${total}`);
    if (watts !== undefined) assert.ok(watts > 0, `power ${watts}`);
    if (temp !== undefined) assert.ok(temp > 0 && temp < 120, `temperature ${temp}`);
    assert.equal(sample(metrics, 'corral_gpu_info', { ...l, name: d.name }), 1);
    figures.push(`gpu ${d.index} ${d.name}: util ${util}, mem ${(used / 2 ** 20).toFixed(0)}/${(total / 2 ** 20).toFixed(0)} MiB, ${watts ?? 'n/a'} W, ${temp ?? 'n/a'} C`);
  }
  assert.equal(sample(metrics, 'corral_gpu_collect_errors_total', {}), 0);
  assert.ok(sample(metrics, 'corral_batch_duration_seconds_count', { pool: 'main' }) > 0);

  // Clean stop: SIGTERM, every worker drains and exits 0, corral exits 0.
  const s0 = Date.now();
  await c.kill('SIGTERM');
  const end = await c.exited;
  const stopMs = Date.now() - s0;
  assert.equal(end.code, 0, end.stderr.slice(-4000));
  for (const w of workers) assert.match(end.stdout, new RegExp(`worker ${w.index}: stopped cleanly`));

  const summary = `${devices.length} GPU(s), torch ${pyFound.torch}; all ready in ${readyMs} ms; placement checked by log${placedByPid ? ` and by nvidia-smi pid (${placedByPid})` : ''}; ${N} requests in ${loadMs} ms, max batch ${maxBatch}; stop ${stopMs} ms, exit 0; ${figures.join('; ')}`;
  t.diagnostic(summary);
  process.stderr.write(`# gpu-smoke: ${summary}\n`);
});

// SPEC §9 on a real device: a device-side assert (an index out of range on a CUDA tensor)
// leaves the worker alive and its context poisoned: corral restarts it with cuda_error. An
// allocation larger than the GPU, uncaught, ends the worker with cause cuda_oom.
const FAULTS = `
import os, sys, time, torch
sys.path.insert(0, ${JSON.stringify(join(root, 'examples', 'python-batch-worker'))})
import corral_notify
corral_notify.ready()
if sys.argv[1] == "assert":
    try:
        t = torch.zeros(4, device="cuda")
        t[torch.tensor([10], device="cuda")] = 1
        torch.cuda.synchronize()
    except RuntimeError as e:
        print(f"RuntimeError: {e}", file=sys.stderr, flush=True)
    while True:
        time.sleep(0.1)
else:
    free, total = torch.cuda.mem_get_info()
    torch.empty(int(total * 2), dtype=torch.uint8, device="cuda")
`;

test('GPU: a real device-side assert restarts the worker (cuda_error); a real CUDA OOM is cause cuda_oom', { skip: why, timeout: 180_000 }, async () => {
  const a = runCorral(['--ready', 'notify', '--restart', 'always', '--', pyFound.py, '-c', FAULTS, 'assert'], { env: { CUDA_LAUNCH_BLOCKING: '1' } });
  await until(() => a.records().some((r) => r.event === 'exit'), { timeoutMs: 120_000, what: 'the cuda_error exit' });
  const stop = a.records().find((r) => r.event === 'restart' && r.reason === 'cuda_error');
  assert.ok(stop, a.out.stderr.slice(-3000));
  assert.equal(a.records().find((r) => r.event === 'exit').cause, 'cuda_error');
  await a.kill('SIGTERM');
  await a.exited;

  const o = runCorral(['--ready', 'notify', '--', pyFound.py, '-c', FAULTS, 'oom']);
  await o.exited;
  const exit = o.records().find((r) => r.event === 'exit' && r.worker === 0);
  assert.equal(exit?.cause, 'cuda_oom', o.out.stderr.slice(-3000));
});
