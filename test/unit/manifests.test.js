// Every Kubernetes object shipped under examples/ is valid against the Kubernetes API schemas
// (kubernetes-models: the OpenAPI schemas of the API server, compiled to validators). A YAML
// document is a Kubernetes object when it has apiVersion and kind; other YAML (a GitHub
// Actions workflow) is left alone. The prometheus-adapter rule of autoscaling.yaml is no custom
// resource: it is the data of a v1 ConfigMap, validated as such here, and its content (rules,
// PromQL) is checked by kubernetes.test.js.
//
// The schemas accept unknown fields (the API server prunes or rejects those, depending on its
// field validation), so a misspelt key is not caught here; wrong types, missing required
// fields and wrong enums are.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { root } from '../helpers.js';

/** Every .yaml / .yml file under dir, as paths relative to the repository. */
function yamlFiles(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => relative(root, join(e.parentPath ?? e.path, e.name)))
    .sort();
}

const files = yamlFiles(join(root, 'examples')).map((file) => {
  const parsed = parseAllDocuments(readFileSync(join(root, file), 'utf8'));
  for (const d of parsed) assert.deepEqual(d.errors, [], `${file}: YAML errors`);
  return { file, docs: parsed.map((d) => d.toJS()).filter((d) => d !== null) };
});
const objects = files.flatMap(({ file, docs }) => docs.filter((d) => typeof d === 'object' && 'apiVersion' in d && 'kind' in d).map((doc) => ({ file, doc })));

/** The kubernetes-models class for an apiVersion and kind: apps/v1 -> kubernetes-models/apps/v1. */
async function modelOf(apiVersion, kind) {
  const mod = await import(`kubernetes-models/${apiVersion}`).catch(() => ({}));
  const Model = mod[kind];
  assert.ok(Model, `no schema for ${apiVersion} ${kind} in kubernetes-models (a custom resource needs its CRD's schema)`);
  return Model;
}

/** The schema's complaints about doc, as `path: message` lines (empty when valid). */
async function complaints(doc) {
  const Model = await modelOf(doc.apiVersion, doc.kind);
  try {
    new Model(doc).validate();
    return [];
  } catch (err) {
    return (err.errors ?? [{ instancePath: '', message: err.message }]).map((e) => `${e.instancePath || '/'}: ${e.message}`);
  }
}

test('every Kubernetes object under examples/ is valid against the API schemas', async () => {
  // Counted so that this cannot pass on nothing: corral.yaml (ConfigMap, Deployment, Service) and
  // autoscaling.yaml (HorizontalPodAutoscaler, the prometheus-adapter ConfigMap).
  assert.deepEqual(
    objects.map(({ file, doc }) => `${file}: ${doc.apiVersion} ${doc.kind} ${doc.metadata?.name}`),
    [
      'examples/kubernetes/autoscaling.yaml: autoscaling/v2 HorizontalPodAutoscaler llm',
      'examples/kubernetes/autoscaling.yaml: v1 ConfigMap prometheus-adapter-corral',
      'examples/kubernetes/corral.yaml: v1 ConfigMap llm-corral',
      'examples/kubernetes/corral.yaml: apps/v1 Deployment llm',
      'examples/kubernetes/corral.yaml: v1 Service llm',
    ],
  );
  for (const { file, doc } of objects) assert.deepEqual(await complaints(doc), [], `${file}: ${doc.kind} ${doc.metadata?.name}`);
});

test('no YAML document under examples/ is half a Kubernetes object (apiVersion without kind, or kind without apiVersion)', () => {
  const half = files.flatMap(({ file, docs }) => docs.filter((d) => typeof d === 'object' && ('apiVersion' in d) !== ('kind' in d)).map(() => file));
  assert.deepEqual(half, []);
});

test('negative controls: broken copies of the shipped objects fail validation', async () => {
  const find = (kind) => JSON.parse(JSON.stringify(objects.find(({ doc }) => doc.kind === kind).doc));
  const broken = [
    ['a string where an integer is required', 'Deployment', (d) => (d.spec.replicas = '2'), /^\/spec\/replicas: must be integer$/],
    ['a probe period as a string', 'Deployment', (d) => (d.spec.template.spec.containers[0].readinessProbe.periodSeconds = '2s'), /readinessProbe\/periodSeconds: must be integer/],
    ['a container without its required name', 'Deployment', (d) => delete d.spec.template.spec.containers[0].name, /containers\/0: must have required property '?name'?$/],
    ['no selector', 'Deployment', (d) => delete d.spec.selector, /^\/spec: must have required property '?selector'?$/],
    ['a list where a map is required', 'ConfigMap', (d) => (d.data = ['corral.toml']), /^\/data: must be object$/],
    ['a Service port as a string', 'Service', (d) => (d.spec.ports[0].port = 'eighty'), /ports\/0\/port: must be integer/],
    ['an HPA without maxReplicas', 'HorizontalPodAutoscaler', (d) => delete d.spec.maxReplicas, /^\/spec: must have required property '?maxReplicas'?$/],
  ];
  for (const [what, kind, breakIt, expected] of broken) {
    const doc = find(kind);
    breakIt(doc);
    const found = await complaints(doc);
    assert.ok(found.some((c) => expected.test(c)), `${what}: expected ${expected}, got ${JSON.stringify(found)}`);
  }
  // And a kind the library has no schema for is an error, not a silent pass.
  await assert.rejects(modelOf('example.com/v1', 'Widget'), /no schema for example\.com\/v1 Widget/);
});
