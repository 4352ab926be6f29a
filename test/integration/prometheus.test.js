// examples/prometheus/corral-alerts.yml and examples/grafana/corral-dashboard.json against the
// real thing: promtool checks the rules and runs their unit tests; a real Prometheus scrapes a
// corral that serves the Python batch example under load (a fake 4-GPU nvidia-smi with GPU 3
// lost, worker 0 SIGKILLed and restarted once), answers every query of the dashboard, and
// evaluates the alert rules; `promtool check metrics` has nothing to say about corral_* names.
// Without prometheus or promtool (Debian: apt-get install prometheus) these tests are skipped.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { createMetrics } from '../../dist/metrics/metrics.js';
import { Stats } from '../../dist/metrics/stats.js';
import { fixture, freePort, http, infer, killAll, root, runCorral, sample, until } from '../helpers.js';

const rulesFile = join(root, 'examples', 'prometheus', 'corral-alerts.yml');
const rulesTestFile = join(root, 'examples', 'prometheus', 'corral-alerts.test.yml');
const dashboardFile = join(root, 'examples', 'grafana', 'corral-dashboard.json');
const server = join(root, 'examples', 'python-batch-worker', 'server.py');

/** A skip reason when `bin` cannot be run, else false. */
function missing(bin) {
  const r = spawnSync(bin, ['--version'], { stdio: 'ignore' });
  return r.error || r.status !== 0 ? `${bin} not installed: apt-get install prometheus` : false;
}
const noPromtool = missing('promtool');
const noPrometheus = missing('prometheus') || noPromtool;

/** Runs a command to its end: { code, out } (stdout and stderr together). */
function run(cmd, args, { input, cwd = root } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
    child.stdin.end(input);
  });
}

// What a test started beyond corral (Prometheus, a temp dir, the load), undone in afterEach.
const cleanups = [];
afterEach(async () => {
  killAll();
  for (const undo of cleanups.splice(0).reverse()) await undo();
});

const rules = () => parseYaml(readFileSync(rulesFile, 'utf8')).groups.flatMap((g) => g.rules);

test('every alert of corral-alerts.yml reads served metrics, and its unit tests see it firing and not firing', async () => {
  // The names a real registry serves (as test/unit/grafana.test.js reads them), plus what
  // Prometheus and prom-client add: `up`, and the start time that tells a restarted corral.
  const view = { draining: false, live: true, pools: [{ name: 'main', desired: 1, minReady: 1, workers: [] }] };
  const text = await createMetrics({ snapshot: () => view, stats: new Stats(), gpu: { errors: 0, latest: () => [], up: () => [] }, version: '0' }).render();
  const served = new Set(['up']);
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) served.add(m[1]);
  assert.ok(served.has('process_start_time_seconds'));

  const all = rules();
  assert.ok(all.length >= 10, `${all.length} alerts`);
  for (const r of all) {
    assert.match(r.alert, /^Corral[A-Z][A-Za-z]+$/, 'CamelCase names');
    assert.ok(['critical', 'warning'].includes(r.labels?.severity), `${r.alert}: severity`);
    assert.ok(r.annotations?.summary && r.annotations?.description, `${r.alert}: summary and description`);
    // Metric names: identifiers not followed by `(` (functions) and not inside a label matcher or by/without list.
    const bare = r.expr.replace(/\{[^}]*\}/g, '').replace(/\b(?:by|without|on|ignoring)\s*\([^)]*\)/g, '');
    for (const [name] of bare.matchAll(/\b[a-z_][a-z0-9_]*\b(?!\s*\()/g)) {
      if (['and', 'or', 'unless', 'offset', 'bool'].includes(name)) continue;
      assert.ok(served.has(name), `${r.alert}: ${name} is not served`);
    }
  }

  const tests = parseYaml(readFileSync(rulesTestFile, 'utf8')).tests.flatMap((t) => t.alert_rule_test);
  for (const r of all) {
    const mine = tests.filter((t) => t.alertname === r.alert);
    assert.ok(mine.some((t) => t.exp_alerts.length > 0), `${r.alert} is tested firing`);
    assert.ok(mine.some((t) => t.exp_alerts.length === 0), `${r.alert} is tested not firing`);
  }
});

test('promtool: the rules check, and their unit tests pass', { skip: noPromtool, timeout: 60_000 }, async () => {
  const check = await run('promtool', ['check', 'rules', rulesFile]);
  assert.equal(check.code, 0, check.out);
  assert.match(check.out, new RegExp(`SUCCESS: ${rules().length} rules found`));
  const unit = await run('promtool', ['test', 'rules', rulesTestFile]);
  assert.equal(unit.code, 0, unit.out);
  assert.match(unit.out, /SUCCESS/);
});

/** A dashboard query with Grafana's variables replaced by what Grafana would send. */
function grafanaExpr(expr) {
  const vars = { __rate_interval: '1m', __interval: '1s', __range: '5m', __range_s: '300', pool: 'main', instance: '.*', job: 'corral' };
  const out = expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (m, a, b) => vars[a ?? b] ?? m);
  assert.ok(!out.includes('$'), `an unknown variable in ${expr}`);
  return out;
}

test('a real Prometheus scraping corral: every dashboard query answers, the alert rules evaluate, promtool check metrics says nothing of corral_*', { skip: noPrometheus, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-prom-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  // GPU 3 reports [GPU is lost] from the first sample; the two workers sit on GPUs 0 and 1.
  const lostFile = join(dir, 'lost-gpu');
  writeFileSync(lostFile, 'lost 3\n');
  const lp = await freePort();
  const hp = await freePort();
  const pp = await freePort();
  const c = runCorral(['--workers', '2', '--ready', 'notify', '--watchdog', '30s', '--listen', `127.0.0.1:${lp}`, '--http', `127.0.0.1:${hp}`, '--', 'python3', server], {
    env: { PYTHONDONTWRITEBYTECODE: '1', MAX_BATCH: '8', MAX_WAIT_MS: '30', CORRAL_NVIDIA_SMI: fixture('nvidia-smi-4gpu'), FAKE_NVIDIA_SMI_LOST: lostFile },
  });

  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }',
      `rule_files: [${JSON.stringify(rulesFile)}]`,
      'scrape_configs:',
      `  - { job_name: corral, static_configs: [{ targets: ["127.0.0.1:${hp}"] }] }`,
      '',
    ].join('\n'),
  );
  const prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${pp}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let promLog = '';
  prom.stdout.on('data', (d) => (promLog += d));
  prom.stderr.on('data', (d) => (promLog += d));
  const promClosed = new Promise((resolve) => prom.on('close', resolve));
  cleanups.push(async () => {
    prom.kill('SIGKILL');
    await promClosed;
  });
  const query = async (q) => {
    const r = await http(pp, `/api/v1/query?query=${encodeURIComponent(q)}`);
    return { code: r.status, ...JSON.parse(r.body || '{}') };
  };
  /** The value of a query that gives one series (NaN when it gives none). */
  const scalar = async (q) => Number((await query(q)).data?.result?.[0]?.value?.[1] ?? NaN);

  await until(async () => {
    const r = await http(hp, '/readyz');
    return r.status === 200 && JSON.parse(r.body).pools.main.ready === 2;
  }, { what: 'both workers ready', timeoutMs: 30_000, intervalMs: 100 });

  // Load: 4 clients, one request after another, until the queries are done.
  let loading = true;
  let answered = 0;
  const load = Promise.all(
    Array.from({ length: 4 }, async (_, k) => {
      for (let i = k; loading; i += 4) if ((await infer(lp, i)).status === 200) answered++;
    }),
  );
  cleanups.push(async () => {
    loading = false;
    await load;
  });

  await until(async () => (await http(pp, '/-/ready')).status === 200, { what: `Prometheus ready\n${promLog}`, timeoutMs: 30_000, intervalMs: 100 });
  // Scraped several times before the restart: corral serves its restart and exit counters at
  // 0 from the start, so the restart below shows as an increase (a series born at 1 would not).
  await until(async () => (await scalar('count_over_time(up{job="corral"}[1m])')) >= 3, {
    what: `3 scrapes\n${promLog}`,
    timeoutMs: 30_000,
    intervalMs: 200,
  });

  // One restart: SIGKILL from outside (cause `killed`, reason `signal`).
  const before = JSON.parse((await http(hp, '/status')).body).pools.main.workers[0];
  process.kill(before.pid, 'SIGKILL');
  await until(async () => {
    const w = JSON.parse((await http(hp, '/status')).body).pools.main.workers[0];
    return w.restarts === 1 && w.state === 'ready' && w.pid !== before.pid;
  }, { what: 'worker 0 restarted and ready', timeoutMs: 30_000, intervalMs: 100 });
  // Prometheus has seen the restart and the pool whole again, then a few scrapes more.
  await until(async () => (await scalar('sum(corral_worker_ready)')) === 2 && (await scalar('sum(corral_worker_restarts_total{reason="signal"})')) === 1, {
    what: 'the restart in Prometheus',
    timeoutMs: 20_000,
    intervalMs: 200,
  });
  const scrapes = await scalar('count_over_time(up{job="corral"}[10m])');
  await until(async () => (await scalar('count_over_time(up{job="corral"}[10m])')) >= scrapes + 3, { what: '3 more scrapes', timeoutMs: 20_000, intervalMs: 200 });
  assert.equal(await scalar('min_over_time(up{job="corral"}[10m])'), 1, 'every scrape succeeded');
  assert.ok(answered > 0);

  // Every query of every panel: no error; a result, except where nothing can be there.
  const metrics = (await http(hp, '/metrics')).body;
  const expectedEmpty = {
    // The example server writes no {"kind":"feedback"} line: corral_feedback_records_total has no series.
    'Feedback records per second/A': true,
    // No series without a memory limit on corral's cgroup (SPEC §10): empty exactly when corral serves none.
    'Container memory vs limit (bytes)/B': !/^corral_container_memory_limit_bytes /m.test(metrics),
  };
  const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8'));
  const results = new Map();
  let count = 0;
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      const id = `${panel.title}/${target.refId}`;
      const r = await query(grafanaExpr(target.expr));
      assert.equal(r.code, 200, `${id}: ${target.expr}: ${JSON.stringify(r)}`);
      assert.equal(r.status, 'success', id);
      assert.equal(r.data.resultType, 'vector', id);
      assert.deepEqual(r.warnings ?? [], [], id);
      const empty = expectedEmpty[id] ?? false;
      assert.equal(r.data.result.length === 0, empty, `${id}: ${target.expr} ${empty ? 'should be empty' : 'gave no series'}: ${JSON.stringify(r.data.result)}`);
      results.set(id, r.data.result);
      count++;
    }
  }
  assert.ok(count >= 24, `${count} queries`);
  for (const id of Object.keys(expectedEmpty)) assert.ok(results.has(id), `${id} is a target of the dashboard`);
  const of = (id, labels) => {
    const s = results.get(id).find((x) => Object.entries(labels).every(([k, v]) => x.metric[k] === v));
    return s ? Number(s.value[1]) : undefined;
  };
  // What happened shows, the first restart and exit included (their series were at 0 before).
  assert.ok(of('Restarts by reason (per 5m)/A', { pool: 'main', reason: 'signal' }) > 0, JSON.stringify(results.get('Restarts by reason (per 5m)/A')));
  assert.ok(of('Worker exits by cause (per 5m)/A', { pool: 'main', cause: 'killed' }) > 0, JSON.stringify(results.get('Worker exits by cause (per 5m)/A')));
  assert.equal(of('Worker exits by cause (per 5m)/A', { pool: 'main', cause: 'oom_kill' }), 0);
  assert.equal(of('Workers by state/A', { pool: 'main', state: 'ready' }), 2);
  assert.equal(of('Ready/A', {}), 1);
  assert.equal(of('GPU up (0 = lost)/A', { gpu: '3' }), 0);
  assert.equal(of('GPU up (0 = lost)/A', { gpu: '0' }), 1);
  assert.ok(of('Batches per second/A', { pool: 'main' }) > 0);

  // The alert rules, loaded by this Prometheus: all evaluate without error; only CorralGpuLost
  // is active (pending: its `for` is 1m), for GPU 3.
  const ruleCount = rules().length;
  let loaded = [];
  await until(async () => {
    loaded = JSON.parse((await http(pp, '/api/v1/rules?type=alert')).body).data.groups.flatMap((g) => g.rules);
    return loaded.length === ruleCount && loaded.every((r) => r.health === 'ok');
  }, { what: 'every rule evaluated, health ok', timeoutMs: 15_000, intervalMs: 200 }).catch((err) => {
    throw new Error(`${err.message}: ${JSON.stringify(loaded.map((r) => [r.name, r.health, r.lastError]))}`);
  });
  let alerts = [];
  await until(async () => {
    alerts = JSON.parse((await http(pp, '/api/v1/alerts')).body).data.alerts;
    return alerts.length === 1 && alerts[0].labels.alertname === 'CorralGpuLost';
  }, { what: 'CorralGpuLost alone', timeoutMs: 15_000, intervalMs: 200 }).catch((err) => {
    throw new Error(`${err.message}: ${JSON.stringify(alerts)}`);
  });
  assert.equal(alerts[0].labels.gpu, '3');
  assert.equal(alerts[0].labels.uuid, 'GPU-3d4e5f60-9999-8888-7777-666655554444');
  assert.equal(alerts[0].labels.severity, 'critical');
  assert.equal(alerts[0].labels.job, 'corral');
  assert.equal(alerts[0].state, 'pending');
  assert.equal(alerts[0].annotations.summary, `GPU 3 on 127.0.0.1:${hp} is lost`);

  // promtool's lint of corral's own exposition: prom-client's nodejs_active_*_total gauges are
  // the only complaints it may have (exit 3 means lint problems; 1 would be a parse error).
  const lint = await run('promtool', ['check', 'metrics'], { input: metrics });
  assert.ok(lint.code === 0 || lint.code === 3, lint.out);
  const complaints = lint.out.split('\n').filter(Boolean);
  assert.deepEqual(complaints.filter((l) => l.includes('corral_')), [], lint.out);
  assert.deepEqual(complaints.filter((l) => !l.startsWith('nodejs_')), [], lint.out);
  // The lint does read corral_ names: a counter-named gauge is a complaint.
  const control = await run('promtool', ['check', 'metrics'], { input: '# HELP corral_x_total x\n# TYPE corral_x_total gauge\ncorral_x_total 1\n' });
  assert.equal(control.code, 3, control.out);
  assert.match(control.out, /corral_x_total/);

  loading = false;
  await load;
  assert.equal(sample(metrics, 'corral_worker_restarts_total', { pool: 'main', worker: '1', reason: 'signal' }), 0);
  await c.kill('SIGTERM');
  const end = await c.exited;
  assert.equal(end.code, 0, end.stderr.slice(-3000));
});
