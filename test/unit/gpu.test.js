// GPU discovery, placement and collection (SPEC §3, §5), against fake nvidia-smi scripts
// in test/fixtures (chosen with CORRAL_NVIDIA_SMI) and a fake exec for the timing cases.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CorralError } from '../../dist/errors.js';
import { discoverGpus, nvidiaSmiPath, parseQueryCsv } from '../../dist/gpu/discover.js';
import { planGpus } from '../../dist/gpu/assign.js';
import { GpuCollector, SAMPLE_QUERY, parseSampleCsv } from '../../dist/gpu/collect.js';
import { fixture, until } from '../helpers.js';

const MIB = 1024 * 1024;
const smi = (name) => ({ ...process.env, CORRAL_NVIDIA_SMI: fixture(name) });
const tmp = mkdtempSync(join(tmpdir(), 'corral-gpu-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A one-off fake nvidia-smi in a temp dir. */
function script(name, body) {
  const p = join(tmp, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

/** Asserts fn throws a CorralError with this code, exit 2, and a message matching re. */
function throwsCorral(fn, code, re) {
  let caught;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CorralError, `expected a CorralError, got ${caught}`);
  assert.equal(caught.code, code);
  assert.equal(caught.exitCode, 2);
  assert.match(caught.message, re);
  assert.doesNotMatch(caught.line(), /\n/);
  return caught;
}

const UUIDS = [
  'GPU-8932f937-d72c-4106-c12f-20bd9faed9f6',
  'GPU-1b2c3d4e-0000-1111-2222-333344445555',
  'GPU-2c3d4e5f-aaaa-bbbb-cccc-ddddeeeeffff',
  'GPU-3d4e5f60-9999-8888-7777-666655554444',
];
const FOUR = UUIDS.map((uuid, index) => ({ index, uuid, name: 'NVIDIA H100 80GB HBM3', memoryTotalBytes: 81559 * MIB }));
const pool = (o) => ({ name: 'infer', workers: 1, gpus: 'auto', workersPerGpu: 1, ...o });

describe('parsing', () => {
  test('discovery CSV: names with spaces and commas, [N/A], CRLF, blank and WARNING lines', () => {
    const text =
      'WARNING: infoROM is corrupted at gpu 0000:04:00.0\r\n' +
      '0, GPU-8932f937-d72c-4106-c12f-20bd9faed9f6, NVIDIA H100 80GB HBM3, 81559\r\n' +
      '\n' +
      '1, GPU-1b2c3d4e-0000-1111-2222-333344445555, Tesla T4, Rev. B,  15360 \n' +
      '2, GPU-2c3d4e5f-aaaa-bbbb-cccc-ddddeeeeffff, NVIDIA A100-SXM4-40GB, [N/A]';
    assert.deepEqual(parseQueryCsv(text), [
      { index: 0, uuid: UUIDS[0], name: 'NVIDIA H100 80GB HBM3', memoryTotalBytes: 81559 * MIB },
      { index: 1, uuid: UUIDS[1], name: 'Tesla T4, Rev. B', memoryTotalBytes: 15360 * MIB },
      { index: 2, uuid: UUIDS[2], name: 'NVIDIA A100-SXM4-40GB', memoryTotalBytes: null },
    ]);
    assert.deepEqual(parseQueryCsv(''), []);
    assert.deepEqual(parseQueryCsv('\n\n'), []);
  });

  test('discovery CSV: malformed lines are CorralErrors naming the line', () => {
    const bad = {
      'GPU 0: NVIDIA H100 (UUID: GPU-8932f937)': /line 1 .*expected index/,
      'x, GPU-8932f937, H100, 81559': /index "x"/,
      '0, 8932f937, H100, 81559': /uuid "8932f937"/,
      '0, GPU-8932f937, H100, lots': /memory.total/,
    };
    for (const [line, re] of Object.entries(bad)) throwsCorral(() => parseQueryCsv(line), 'NVIDIA_SMI', re);
    throwsCorral(() => parseQueryCsv(`0, ${UUIDS[0]}, H100, 1\n\nnope`), 'NVIDIA_SMI', /line 3 /);
  });

  test('sampling CSV: units and [N/A]', () => {
    const text =
      `0, ${UUIDS[0]}, NVIDIA H100 80GB HBM3, 97, 74213, 81559, 612.45, 71\n` +
      `1, ${UUIDS[1]}, NVIDIA A100, MIG, [N/A], [N/A], 40960, [Not Supported], [Unknown Error]\n`;
    assert.deepEqual(parseSampleCsv(text), [
      {
        index: 0,
        uuid: UUIDS[0],
        name: 'NVIDIA H100 80GB HBM3',
        utilizationRatio: 0.97,
        memoryUsedBytes: 74213 * MIB,
        memoryTotalBytes: 81559 * MIB,
        powerWatts: 612.45,
        temperatureCelsius: 71,
        lost: false,
      },
      {
        index: 1,
        uuid: UUIDS[1],
        name: 'NVIDIA A100, MIG',
        utilizationRatio: null,
        memoryUsedBytes: null,
        memoryTotalBytes: 40960 * MIB,
        powerWatts: null,
        temperatureCelsius: null,
        lost: true,
      },
    ]);
    throwsCorral(() => parseSampleCsv(`0, ${UUIDS[0]}, H100, 81559`), 'NVIDIA_SMI', /expected 8 columns/);
    throwsCorral(() => parseSampleCsv(`0, ${UUIDS[0]}, H100, 9, 1, 2, hot, 70`), 'NVIDIA_SMI', /power.draw/);
  });
});

describe('discovery', () => {
  test('nvidiaSmiPath: CORRAL_NVIDIA_SMI, else nvidia-smi on PATH', () => {
    assert.equal(nvidiaSmiPath({}), 'nvidia-smi');
    assert.equal(nvidiaSmiPath({ CORRAL_NVIDIA_SMI: '' }), 'nvidia-smi');
    assert.equal(nvidiaSmiPath({ CORRAL_NVIDIA_SMI: '/opt/bin/nvidia-smi' }), '/opt/bin/nvidia-smi');
  });

  test('4 GPUs', () => {
    assert.deepEqual(discoverGpus(smi('nvidia-smi-4gpu')), FOUR);
  });

  test('[N/A] memory is null', () => {
    const gpus = discoverGpus(smi('nvidia-smi-na'));
    assert.deepEqual(
      gpus.map((g) => g.memoryTotalBytes),
      [40960 * MIB, null],
    );
  });

  test('no nvidia-smi means no GPU', () => {
    assert.deepEqual(discoverGpus({ ...process.env, CORRAL_NVIDIA_SMI: join(tmp, 'absent') }), []);
    // Looked up on the PATH of the env given, not of the test process.
    assert.deepEqual(discoverGpus({ PATH: join(tmp, 'no-such-dir') }), []);
  });

  test('"No devices were found" means no GPU', () => {
    const p = script('no-devices', 'echo "No devices were found"; exit 6');
    assert.deepEqual(discoverGpus({ CORRAL_NVIDIA_SMI: p }), []);
  });

  test('a failing nvidia-smi is exit 2 with what it printed and how to fix it', () => {
    const e = throwsCorral(
      () => discoverGpus(smi('nvidia-smi-fail')),
      'NVIDIA_SMI',
      /nvidia-smi-fail exited with code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/,
    );
    assert.match(e.hint, /CORRAL_NVIDIA_SMI/);
    assert.match(e.hint, /--gpus none/);
    const quiet = script('quiet-fail', 'exit 3');
    throwsCorral(() => discoverGpus({ CORRAL_NVIDIA_SMI: quiet }), 'NVIDIA_SMI', /exited with code 3 and printed nothing/);
    const stderr = script('stderr-fail', 'echo "Failed to initialize NVML: Driver/library version mismatch" >&2; exit 18');
    throwsCorral(() => discoverGpus({ CORRAL_NVIDIA_SMI: stderr }), 'NVIDIA_SMI', /code 18: Failed to initialize NVML: Driver\/library version mismatch$/);
  });

  test('malformed output is exit 2', () => {
    throwsCorral(() => discoverGpus(smi('nvidia-smi-garbage')), 'NVIDIA_SMI', /cannot list the GPUs: unexpected line 1 .*index "index"/);
  });

  test('a hung nvidia-smi is killed at the timeout', () => {
    const t0 = Date.now();
    throwsCorral(() => discoverGpus(smi('nvidia-smi-slow'), 300), 'NVIDIA_SMI', /did not answer within 300 ms/);
    assert.ok(Date.now() - t0 < 5000, 'the timeout bounds discovery');
  });

  test('a nvidia-smi that cannot be run is exit 2', () => {
    const p = join(tmp, 'not-executable');
    writeFileSync(p, 'echo hi\n');
    throwsCorral(() => discoverGpus({ CORRAL_NVIDIA_SMI: p }), 'NVIDIA_SMI', /could not be run: .*EACCES/);
  });
});

describe('placement', () => {
  test('--workers gpu × 2 per GPU: 8 workers on 0,0,1,1,2,2,3,3', () => {
    assert.deepEqual(planGpus(pool({ workers: 'gpu', workersPerGpu: 2 }), FOUR, undefined), {
      workers: 8,
      devices: ['0', '0', '1', '1', '2', '2', '3', '3'],
    });
    assert.deepEqual(planGpus(pool({ workers: 'gpu', gpus: 'all' }), FOUR, undefined).devices, ['0', '1', '2', '3']);
  });

  test('a pre-set CUDA_VISIBLE_DEVICES of indexes limits the GPUs', () => {
    assert.deepEqual(planGpus(pool({ workers: 'gpu' }), FOUR, '2,3'), { workers: 2, devices: ['2', '3'] });
    assert.deepEqual(planGpus(pool({ workers: 'gpu' }), FOUR, ' 3 , 1 '), { workers: 2, devices: ['3', '1'] });
    assert.deepEqual(planGpus(pool({ workers: 3 }), FOUR, '2,3').devices, ['2', '3', '2']);
  });

  test('a pre-set CUDA_VISIBLE_DEVICES of UUIDs: workers get the UUIDs as given', () => {
    const preset = `${UUIDS[3]},${UUIDS[1]}`;
    assert.deepEqual(planGpus(pool({ workers: 'gpu' }), FOUR, preset).devices, [UUIDS[3], UUIDS[1]]);
    // Abbreviated, as CUDA allows, and a MIG device (not in --query-gpu's list) passed through.
    const mig = 'MIG-c9c5a2a5-3f5c-5a43-9c7d-1e2f3a4b5c6d';
    assert.deepEqual(planGpus(pool({ workers: 'gpu', workersPerGpu: 2 }), FOUR, `GPU-2c3d4e5f,${mig}`).devices, [
      'GPU-2c3d4e5f',
      'GPU-2c3d4e5f',
      mig,
      mig,
    ]);
    // An explicit --gpus picks among them by nvidia-smi index or UUID; the UUID is handed out.
    assert.deepEqual(planGpus(pool({ workers: 'gpu', gpus: ['1'] }), FOUR, preset).devices, [UUIDS[1]]);
    assert.deepEqual(planGpus(pool({ workers: 'gpu', gpus: [UUIDS[3]] }), FOUR, preset).devices, [UUIDS[3]]);
  });

  test('a pre-set CUDA_VISIBLE_DEVICES that names nothing hides every GPU, as in CUDA', () => {
    for (const preset of ['', '-1', 'NoDevFiles', '7', 'GPU-ffffffff']) {
      assert.deepEqual(planGpus(pool({ workers: 2 }), FOUR, preset).devices, [null, null], preset);
      throwsCorral(() => planGpus(pool({ workers: 'gpu' }), FOUR, preset), 'GPU', /--workers gpu but no GPU was found \(CUDA_VISIBLE_DEVICES=.* hides all 4/);
    }
    // CUDA stops at the first entry that names no device.
    assert.deepEqual(planGpus(pool({ workers: 'gpu' }), FOUR, '1,-1,2').devices, ['1']);
  });

  test('an explicit --gpus list by index and by UUID', () => {
    assert.deepEqual(planGpus(pool({ workers: 'gpu', gpus: ['2', '0'] }), FOUR, undefined), { workers: 2, devices: ['2', '0'] });
    assert.deepEqual(planGpus(pool({ workers: 'gpu', gpus: [UUIDS[3], 'gpu-1B2C3D4E'] }), FOUR, undefined).devices, ['3', '1']);
    assert.deepEqual(planGpus(pool({ workers: 4, gpus: ['1', '3'] }), FOUR, undefined).devices, ['1', '3', '1', '3']);
    // MIG devices are not in --query-gpu's list: trusted as given, unless a pre-set list leaves them out.
    const mig = ['MIG-c9c5a2a5-3f5c-5a43-9c7d-1e2f3a4b5c6d', 'MIG-d0d6b3b6-4a6d-6b54-ad8e-2f3a4b5c6d7e'];
    assert.deepEqual(planGpus(pool({ workers: 'gpu', gpus: mig }), FOUR, undefined).devices, mig);
    assert.deepEqual(planGpus(pool({ workers: 'gpu', gpus: [mig[1]] }), FOUR, mig.join(',')).devices, [mig[1]]);
    throwsCorral(() => planGpus(pool({ gpus: [mig[0]] }), FOUR, '0'), 'GPU', /GPU MIG-c9c5a2a5\S+ is hidden by CUDA_VISIBLE_DEVICES="0" \(usable: 0\)/);
    throwsCorral(() => planGpus(pool({ gpus: [mig[0], mig[0]] }), FOUR, undefined), 'GPU', /twice/);
  });

  test('an unknown GPU id names it and the GPUs there are', () => {
    const e = throwsCorral(() => planGpus(pool({ gpus: ['0', '7'] }), FOUR, undefined), 'GPU', /pool infer: there is no GPU "7" \(found: 0 GPU-8932f937.*3 GPU-3d4e5f60/);
    assert.match(e.hint, /nvidia-smi -L/);
    throwsCorral(() => planGpus(pool({ gpus: ['GPU-deadbeef'] }), FOUR, undefined), 'GPU', /no GPU "GPU-deadbeef"/);
    throwsCorral(() => planGpus(pool({ gpus: ['0'] }), [], undefined), 'GPU', /no GPU "0" \(nvidia-smi found none\)/);
    throwsCorral(() => planGpus(pool({ gpus: ['1'] }), FOUR, '2,3'), 'GPU', /GPU 1 is hidden by CUDA_VISIBLE_DEVICES="2,3" \(usable: 2, 3\)/);
    throwsCorral(() => planGpus(pool({ gpus: ['1', '1'] }), FOUR, undefined), 'GPU', /names GPU 1 twice/);
  });

  test('--workers gpu with no GPU is exit 2', () => {
    const e = throwsCorral(() => planGpus(pool({ workers: 'gpu' }), [], undefined), 'GPU', /^pool infer: --workers gpu but no GPU was found \(nvidia-smi found none/);
    assert.equal(e.exitCode, 2);
    throwsCorral(() => planGpus(pool({ workers: 'gpu', gpus: 'all' }), [], undefined), 'GPU', /--workers gpu but no GPU was found/);
    throwsCorral(() => planGpus(pool({ workers: 'gpu', gpus: 'none' }), FOUR, undefined), 'GPU', /--workers gpu but --gpus none/);
  });

  test('auto with no GPU is a CPU pool; explicit all with no GPU is exit 2', () => {
    assert.deepEqual(planGpus(pool({ workers: 3 }), [], undefined), { workers: 3, devices: [null, null, null] });
    throwsCorral(() => planGpus(pool({ workers: 3, gpus: 'all' }), [], undefined), 'GPU', /--gpus all but no GPU was found/);
  });

  test('--gpus none leaves CUDA_VISIBLE_DEVICES alone', () => {
    assert.deepEqual(planGpus(pool({ workers: 2, gpus: 'none' }), FOUR, undefined), { workers: 2, devices: [null, null] });
  });

  test('numeric workers go round-robin over the GPU slots', () => {
    assert.deepEqual(planGpus(pool({ workers: 6 }), FOUR, undefined).devices, ['0', '1', '2', '3', '0', '1']);
    assert.deepEqual(planGpus(pool({ workers: 5, workersPerGpu: 2 }), FOUR.slice(0, 2), undefined).devices, ['0', '0', '1', '1', '0']);
    assert.deepEqual(planGpus(pool({ workers: 1 }), FOUR, undefined).devices, ['0']);
  });

  test('bad counts are usage errors', () => {
    throwsCorral(() => planGpus(pool({ workersPerGpu: 0 }), FOUR, undefined), 'BAD_VALUE', /--workers-per-gpu must be a positive integer, got 0/);
    throwsCorral(() => planGpus(pool({ workers: 1.5 }), FOUR, undefined), 'BAD_VALUE', /--workers must be/);
    throwsCorral(() => planGpus(pool({ gpus: [] }), FOUR, undefined), 'GPU', /lists no GPU/);
  });
});

describe('collector', () => {
  test('samples from nvidia-smi, with units, at now()', async () => {
    const c = new GpuCollector({ env: smi('nvidia-smi-4gpu'), now: () => 1234 });
    assert.deepEqual(c.latest(), []);
    assert.equal(c.sampledAt, null);
    await c.collect();
    assert.equal(c.errors, 0, c.lastError);
    assert.equal(c.sampledAt, 1234);
    const s = c.latest();
    assert.equal(s.length, 4);
    assert.deepEqual(s[0], {
      index: 0,
      uuid: UUIDS[0],
      name: 'NVIDIA H100 80GB HBM3',
      utilizationRatio: 0.97,
      memoryUsedBytes: 74213 * MIB,
      memoryTotalBytes: 81559 * MIB,
      powerWatts: 612.45,
      temperatureCelsius: 71,
      lost: false,
    });
    assert.equal(s[3].utilizationRatio, 1);
  });

  test('a lost GPU: [GPU is lost] in its row, or absent from the answer (non-zero exit with the other rows): up 0, onLost once', async () => {
    const file = join(tmp, 'lost-gpu');
    const env = { ...smi('nvidia-smi-4gpu'), FAKE_NVIDIA_SMI_LOST: file };
    const lostSeen = [];
    const known = UUIDS.map((uuid, index) => ({ index, uuid }));
    const c = new GpuCollector({ env, known, onLost: (g) => lostSeen.push(g) });
    await c.collect();
    assert.deepEqual(c.up().map((g) => g.up), [true, true, true, true]);
    writeFileSync(file, 'lost 1\n');
    await c.collect();
    await c.collect();
    assert.deepEqual(c.up().map((g) => g.up), [true, false, true, true]);
    assert.deepEqual([...c.lost()].sort(), ['1', UUIDS[1]].sort());
    assert.equal(lostSeen.length, 1, 'logged once');
    assert.match(lostSeen[0].why, /GPU is lost/);
    writeFileSync(file, 'gone 2\n');
    await c.collect();
    assert.equal(c.errors, 0, 'the other rows are an answer');
    assert.equal(c.latest().length, 3);
    assert.deepEqual(c.up().map((g) => g.up), [true, true, false, true], 'GPU 1 answers again');
    assert.match(lostSeen[1].why, /absent/);
    // A GPU discovered at start but missing from the very first answer is lost too.
    const first = new GpuCollector({ env, known, onLost: () => undefined });
    await first.collect();
    assert.equal(first.up()[2].up, false);
  });

  test('[N/A] fields are null', async () => {
    const c = new GpuCollector({ env: smi('nvidia-smi-na') });
    await c.collect();
    assert.equal(c.errors, 0, c.lastError);
    const [a, b] = c.latest();
    assert.equal(a.utilizationRatio, null);
    assert.equal(a.powerWatts, null);
    assert.equal(a.temperatureCelsius, 41);
    assert.deepEqual([b.utilizationRatio, b.memoryUsedBytes, b.memoryTotalBytes, b.powerWatts, b.temperatureCelsius], [0.12, null, null, null, null]);
  });

  test('failures are counted, say why, and empty the sample', async () => {
    const env = smi('nvidia-smi-4gpu');
    const c = new GpuCollector({ env });
    await c.collect();
    assert.equal(c.latest().length, 4);
    env.CORRAL_NVIDIA_SMI = fixture('nvidia-smi-fail');
    const failing = new GpuCollector({ env });
    await failing.collect();
    await failing.collect();
    assert.equal(failing.errors, 2);
    assert.match(failing.lastError, /exited with code 9: NVIDIA-SMI has failed/);
    assert.deepEqual(failing.latest(), []);

    const garbage = new GpuCollector({ env: smi('nvidia-smi-garbage') });
    await garbage.collect();
    assert.equal(garbage.errors, 1);
    assert.match(garbage.lastError, /unexpected line 1/);

    const absent = new GpuCollector({ env: { CORRAL_NVIDIA_SMI: join(tmp, 'absent') } });
    await absent.collect();
    assert.equal(absent.errors, 1);
    assert.match(absent.lastError, /could not be run: .*ENOENT/);
  });

  test('a good run after a failure clears lastError; a failure after a good run empties latest()', async () => {
    let text = `0, ${UUIDS[0]}, H100, 1, 2, 3, 4, 5\n`;
    let code = 0;
    const exec = async () => ({ stdout: text, stderr: '', code, signal: null, timedOut: false });
    const c = new GpuCollector({ exec });
    await c.collect();
    assert.equal(c.latest().length, 1);
    code = 9;
    text = 'NVIDIA-SMI has failed';
    await c.collect();
    assert.deepEqual(c.latest(), []);
    assert.equal(c.errors, 1);
    code = 0;
    text = `0, ${UUIDS[0]}, H100, 1, 2, 3, 4, 5\n`;
    await c.collect();
    assert.equal(c.lastError, null);
    assert.equal(c.errors, 1);
    assert.equal(c.latest().length, 1);
  });

  test('a hung nvidia-smi is killed at the timeout and counted', async () => {
    const c = new GpuCollector({ env: smi('nvidia-smi-slow'), timeoutMs: 200 });
    const t0 = Date.now();
    await c.collect();
    assert.ok(Date.now() - t0 < 5000, 'the timeout bounds a run');
    assert.equal(c.errors, 1);
    assert.match(c.lastError, /did not answer within 200 ms and was killed/);
  });

  test('never two runs at once', async () => {
    const calls = [];
    const exec = (file, args, opts) =>
      new Promise((resolve) => {
        calls.push({ file, args, opts, resolve });
      });
    let t = 0;
    const c = new GpuCollector({ exec, now: () => t, env: { CORRAL_NVIDIA_SMI: '/x/nvidia-smi' }, timeoutMs: 5000, intervalMs: 10_000 });
    const first = c.collect();
    const second = c.collect();
    assert.equal(calls.length, 1);
    assert.equal(first, second);
    assert.equal(calls[0].file, '/x/nvidia-smi');
    assert.deepEqual(calls[0].args, SAMPLE_QUERY);
    assert.equal(calls[0].opts.timeoutMs, 5000);
    assert.equal(c.errors, 0, 'a run within its timeout is not an error');
    calls[0].resolve({ stdout: `0, ${UUIDS[0]}, H100, 1, 2, 3, 4, 5\n`, stderr: '', code: 0, signal: null, timedOut: false });
    await first;
    assert.equal(c.latest().length, 1);
    void c.collect();
    assert.equal(calls.length, 2, 'the next run starts once the last one is over');

    // A nvidia-smi that outlives SIGKILL (stuck in the driver): no second one beside it, and
    // each tick that finds it still there is a missed sample.
    t = 6000;
    void c.collect();
    t = 16000;
    void c.collect();
    assert.equal(calls.length, 2);
    assert.equal(c.errors, 2);
    assert.match(c.lastError, /still running 16000 ms after it was started/);
    assert.deepEqual(c.latest(), []);
    calls[1].resolve({ stdout: '', stderr: '', code: null, signal: 'SIGKILL', timedOut: true });
  });

  test('the timeout never exceeds the interval', () => {
    assert.equal(new GpuCollector({ intervalMs: 1000, timeoutMs: 5000 }).timeoutMs, 1000);
    const d = new GpuCollector();
    assert.equal(d.intervalMs, 10_000);
    assert.equal(d.timeoutMs, 5000);
  });

  test('start() samples at once and then on the timer; stop() ends it', async () => {
    let runs = 0;
    const exec = async () => {
      runs++;
      return { stdout: `0, ${UUIDS[0]}, H100, 1, 2, 3, 4, ${runs}\n`, stderr: '', code: 0, signal: null, timedOut: false };
    };
    const c = new GpuCollector({ exec, intervalMs: 20 });
    c.start();
    c.start();
    assert.equal(runs, 1, 'the first run starts at once, and only once');
    await until(() => runs >= 3, { what: 'three runs' });
    c.stop();
    const seen = runs;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(runs, seen, 'no run after stop()');
    assert.equal(c.errors, 0);
  });

  test('start() with the real fixture', async () => {
    const c = new GpuCollector({ env: smi('nvidia-smi-4gpu'), intervalMs: 50 });
    c.start();
    try {
      await until(() => c.sampledAt !== null, { what: 'a sample' });
      assert.equal(c.latest().length, 4);
    } finally {
      c.stop();
    }
  });
});
