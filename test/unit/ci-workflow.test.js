// The CI workflow example: code images on every commit, model images on model-vX tags, with
// image names and paths that match the Kubernetes example and the Dockerfiles it builds.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { root } from '../helpers.js';

const wf = parse(readFileSync(join(root, 'examples/ci/images.yml'), 'utf8'));
const k8s = parseAllDocuments(readFileSync(join(root, 'examples/kubernetes/corral.yaml'), 'utf8')).map((d) => d.toJS());
const pod = k8s.find((d) => d.kind === 'Deployment').spec.template.spec;
const repoOf = (image) => image.slice(0, image.lastIndexOf(':'));
const tagOf = (image) => image.slice(image.lastIndexOf(':') + 1);
const build = (job) => wf.jobs[job].steps.find((s) => s.uses?.startsWith('docker/build-push-action')).with;
const expand = (s) => s.replace(/\$\{\{ env\.(\w+) \}\}/g, (_, k) => wf.env[k]);

test('triggers: every branch push and pull request; model-v* tags', () => {
  assert.deepEqual(wf.on.push.branches, ['**']);
  assert.deepEqual(wf.on.push.tags, ['model-v*']);
  assert.ok('pull_request' in wf.on);
});

test('code image: after the README test command, from Dockerfile.example, named as the Kubernetes app container', () => {
  assert.match(wf.jobs.test.steps.at(-1).run, /npm ci && npm test/);
  for (const job of ['test', 'code-image']) assert.match(wf.jobs[job].if, /!startsWith\(github\.ref, 'refs\/tags\/'\)/);
  assert.equal(wf.jobs['code-image'].needs, 'test');
  const w = build('code-image');
  assert.equal(w.file, 'Dockerfile.example');
  assert.ok(existsSync(join(root, w.file)));
  assert.match(w.tags, /\$\{\{ env\.CODE_IMAGE \}\}:\$\{\{ github\.sha \}\}/);
  assert.equal(w.push, "${{ github.event_name == 'push' }}");
  assert.equal(wf.env.CODE_IMAGE, repoOf(pod.containers[0].image));
});

test('model image: only on model-v tags, tagged with the Git tag, named and laid out as the init container expects', () => {
  assert.equal(wf.jobs['model-image'].if, "${{ startsWith(github.ref, 'refs/tags/model-v') }}");
  assert.ok(!wf.jobs['model-image'].needs, 'a model release does not wait for code tests');
  const w = build('model-image');
  assert.equal(expand(w.tags), `${wf.env.MODEL_IMAGE}:\${{ github.ref_name }}`);
  const init = pod.initContainers.find((c) => c.name === 'model');
  assert.equal(repoOf(init.image), wf.env.MODEL_IMAGE);
  assert.match(tagOf(init.image), /^model-v\d+$/, 'the init container pins a tag the workflow produces');
  const dockerfile = readFileSync(join(root, w.file), 'utf8');
  assert.match(dockerfile, /^COPY \. \/model\/$/m);
  assert.deepEqual(init.command.slice(0, 3), ['cp', '-r', '/model/.']);
  assert.equal(w.context, 'model');
  assert.ok(wf.jobs['model-image'].steps[0].with.lfs, 'weights come from Git LFS');
});
