// The Kubernetes example is parsed and checked against the corral config it ships with:
// probes on corral's endpoints and port, the Service on the held socket, the termination
// grace arithmetic (and the timeline comment that states it), and the autoscaler on the queue
// depth. The schemas are checked by manifests.test.js, a rollout by
// test/integration/rolling-update.test.js.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parser as promql } from '@prometheus-io/lezer-promql';
import { createMetrics } from '../../dist/metrics/metrics.js';
import { Stats } from '../../dist/metrics/stats.js';
import { corralBin, root } from '../helpers.js';

const manifest = readFileSync(join(root, 'examples/kubernetes/corral.yaml'), 'utf8');
const docs = parseAllDocuments(manifest).map((d) => d.toJS());
const byKind = (k) => docs.find((d) => d.kind === k);
const toml = byKind('ConfigMap').data['corral.toml'];
const cfg = parseToml(toml);
const seconds = (d) => Number(/^(\d+)s$/.exec(d)?.[1] ?? NaN) || Number(/^(\d+)m$/.exec(d)?.[1] ?? NaN) * 60;
const container = byKind('Deployment').spec.template.spec.containers[0];
const portOf = (name) => container.ports.find((p) => p.name === name).containerPort;

test('the shipped corral.toml is valid (corral check-config)', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'corral-k8s-')), 'corral.toml');
  writeFileSync(file, toml);
  const r = spawnSync(process.execPath, [corralBin, 'check-config', '--config', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).pools.infer.listen, '0.0.0.0:8080');
});

test('probes: liveness on /livez, readiness and startup on /readyz, all on corral\'s port', () => {
  assert.equal(portOf('corral'), Number(cfg.http.split(':').pop()));
  assert.equal(container.livenessProbe.httpGet.path, '/livez');
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  assert.equal(container.startupProbe.httpGet.path, '/readyz');
  for (const p of ['livenessProbe', 'readinessProbe', 'startupProbe']) assert.equal(container[p].httpGet.port, 'corral');
});

test('the startup probe allows the whole ready_timeout', () => {
  const s = container.startupProbe;
  assert.ok(s.periodSeconds * s.failureThreshold >= seconds(cfg.pools.infer.ready_timeout));
});

test('terminationGracePeriodSeconds >= drain_delay + grace + a margin; the timeline comment has these numbers', () => {
  const spec = byKind('Deployment').spec.template.spec;
  const drain = seconds(cfg.drain_delay);
  const grace = seconds(cfg.grace);
  const tgp = spec.terminationGracePeriodSeconds;
  assert.ok(tgp >= drain + grace + 5, `${tgp} vs ${drain} + ${grace} + 5`);
  const comment = manifest.slice(0, manifest.indexOf('apiVersion:'));
  assert.deepEqual(/drain_delay \+ grace \+ margin = (\d+) \+ (\d+) \+ (\d+) = (\d+)\./.exec(comment)?.slice(1).map(Number), [drain, grace, tgp - drain - grace, tgp]);
  // At t=0 the deleted pod leaves the endpoints (no probe involved); drain_delay is the propagation.
  assert.match(comment, /t=0 +the pod is deleted[^]*the endpoints controller removes the pod[^]*no probe has to fail/);
  assert.match(comment, new RegExp(`t=0\\.\\.${drain} +drain_delay: the removal travels to kube-proxy`));
  assert.match(comment, new RegExp(`t=${drain} +corral sends SIGTERM`));
  assert.match(comment, new RegExp(`t=${drain}\\.\\.${drain + grace} +grace:`));
  // A deleted pod leaves the endpoints at once; a container stopped without its pod being
  // deleted (a liveness restart) leaves them only when the readiness probe sees the 503, which
  // must come before the workers are signalled.
  const rp = container.readinessProbe;
  assert.ok(rp.periodSeconds * rp.failureThreshold < drain, 'readiness notices the drain within drain_delay');
  assert.match(comment, new RegExp(`periodSeconds ${rp.periodSeconds} x failureThreshold ${rp.failureThreshold}`));
});

test('the Service targets the socket corral holds; GPUs are requested; metrics are annotated', () => {
  assert.equal(portOf('http'), Number(cfg.pools.infer.listen.split(':').pop()));
  assert.equal(byKind('Service').spec.ports[0].targetPort, 'http');
  assert.ok(container.resources.limits['nvidia.com/gpu'] >= 1);
  const ann = byKind('Deployment').spec.template.metadata.annotations;
  assert.equal(ann['prometheus.io/port'], String(portOf('corral')));
  assert.equal(ann['prometheus.io/path'], '/metrics');
  assert.deepEqual(container.args, ['--config', '/etc/corral/corral.toml']);
});

// examples/kubernetes/autoscaling.yaml: the HPA, the prometheus-adapter rule and the
// Deployment agree (names, metric), and the rule's queries parse as PromQL (Prometheus' own
// grammar, @prometheus-io/lezer-promql, the parser of its web UI).
const hpaDocs = parseAllDocuments(readFileSync(join(root, 'examples/kubernetes/autoscaling.yaml'), 'utf8')).map((d) => d.toJS());
const hpa = hpaDocs.find((d) => d.kind === 'HorizontalPodAutoscaler');
const adapter = parseYaml(hpaDocs.find((d) => d.kind === 'ConfigMap').data['config.yaml']);

/** Whether text parses as PromQL without an error node. */
function promqlParses(text) {
  let ok = true;
  promql.parse(text).iterate({
    enter(node) {
      if (node.type.isError) ok = false;
    },
  });
  return ok;
}

test('autoscaling: the HPA scales the Deployment on the Pods metric the adapter rule exposes', async () => {
  assert.equal(hpa.apiVersion, 'autoscaling/v2');
  const deployment = byKind('Deployment');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
  assert.ok(hpa.spec.minReplicas >= 1 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
  const [metric] = hpa.spec.metrics;
  assert.equal(metric.type, 'Pods');
  assert.equal(metric.pods.target.type, 'AverageValue');
  assert.ok(Number(metric.pods.target.averageValue) > 0);
  const [rule] = adapter.rules;
  assert.equal(metric.pods.metric.name, rule.name.as, 'the HPA asks for the name the adapter gives');
  const series = /^([a-z_:]+)\{/.exec(rule.seriesQuery)?.[1];
  assert.equal(series, 'corral_queue_depth');
  assert.match(series, new RegExp(rule.name.matches));
  assert.deepEqual(rule.resources.overrides, { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });
  // corral serves that series, with the pool and worker labels the rule sums away.
  const view = { draining: false, live: true, pools: [{ name: 'infer', desired: 1, minReady: 1, workers: [{ pool: 'infer', index: 0, pid: 1, state: 'ready', gpu: null, restarts: 0, lastExit: null, startedAt: 0, statusText: null, queueDepth: 5, cpuSeconds: null, rssBytes: null }] }] };
  const text = await createMetrics({ snapshot: () => view, stats: new Stats(), gpu: null, version: '0' }).render();
  assert.match(text, /^corral_queue_depth\{pool="infer",worker="0"\} 5$/m);
  // The queries parse, with the adapter's template filled in as it does.
  assert.ok(promqlParses(rule.seriesQuery), rule.seriesQuery);
  const filled = rule.metricsQuery.replace('<<.Series>>', series).replace('<<.LabelMatchers>>', 'namespace="default",pod=~"llm-.*"').replace('<<.GroupBy>>', 'pod');
  assert.ok(promqlParses(filled), filled);
  assert.ok(!promqlParses('sum(corral_queue_depth{pod=~"x"}) by ('), 'the parser does reject broken PromQL');
  // The pods carry the annotations a kubernetes_sd scrape config keys on.
  assert.equal(deployment.spec.template.metadata.annotations['prometheus.io/scrape'], 'true');
});
