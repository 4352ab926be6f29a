// The Kubernetes example is parsed and checked against the corral config it ships with:
// probes on corral's endpoints and port, the Service on the held socket, and the
// termination grace arithmetic.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { parseAllDocuments } from 'yaml';
import { corralBin, root } from '../helpers.js';

const docs = parseAllDocuments(readFileSync(join(root, 'examples/kubernetes/corral.yaml'), 'utf8')).map((d) => d.toJS());
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

test('terminationGracePeriodSeconds >= drain_delay + grace + a margin; readiness notices the drain within drain_delay', () => {
  const spec = byKind('Deployment').spec.template.spec;
  const drain = seconds(cfg.drain_delay);
  const grace = seconds(cfg.grace);
  assert.ok(spec.terminationGracePeriodSeconds >= drain + grace + 5, `${spec.terminationGracePeriodSeconds} vs ${drain} + ${grace} + 5`);
  const rp = container.readinessProbe;
  assert.ok(rp.periodSeconds * rp.failureThreshold < drain, 'the pod leaves the endpoints before the workers are signalled');
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
