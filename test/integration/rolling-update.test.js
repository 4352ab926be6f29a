// A Kubernetes rolling update of examples/kubernetes/corral.yaml drops no request: a kubelet,
// an endpoints controller, a load balancer and a Deployment controller, simulated in this file
// with the numbers of the manifest, around real corral pods.
//
// Each pod is a real corral, PID 1 of its own PID namespace (so a SIGKILL of it kills the whole
// container), with the ConfigMap's drain_delay and grace; its pool is replaced by the test's:
// two Python workers (test/fixtures/listen.py) on a held socket, notify readiness. The pod's
// container ports (http, corral) are free local ports.
// - kubelet: the Deployment's httpGet probes with their periodSeconds, timeoutSeconds,
//   successThreshold, failureThreshold and initialDelaySeconds (Kubernetes' defaults where the
//   manifest has none): the startup probe until it succeeds, then readiness (run at once when the
//   startup probe succeeds, as the kubelet does) and liveness. On deletion: SIGTERM to corral
//   (no preStop hook), liveness and startup probes stopped, SIGKILL of the container after
//   terminationGracePeriodSeconds.
// - endpoints controller: a pod is an endpoint while it is ready and not deleted. Deleting a pod
//   removes it from the endpoints at the very moment the kubelet sends SIGTERM: the readiness
//   probe has no part in that. Each change reaches the load balancer after a random 1-5 s
//   (kube-proxy / ingress propagation); a state older than one already delivered is dropped.
// - load balancer: an HTTP proxy, round robin over the endpoints it currently knows, without
//   retries (kube-proxy's iptables and IPVS rules never retry a refused or reset connection).
// - Deployment controller: the strategy's maxSurge and maxUnavailable; with the shipped 1 and 0,
//   one new pod, and once it is ready one old pod deleted, and so on.
// Load: four clients in a loop through the load balancer, plus, on each pod deletion, one long
// request (drain_delay + 5 s, a long generation) sent to that pod just before it is deleted
// (not in the first negative control, where it would only postpone the failures).
//
// The shipped values, in real time: two rollouts of the two replicas (four pod replacements),
// 0 failed requests, every deleted pod still served requests after its deletion (the lag was
// there and drain_delay covered it), every long request finished, no kubelet SIGKILL.
// Negative controls, with one value changed each: drain_delay = 0s must fail requests (the load
// balancer still sends to a pod whose workers have stopped); terminationGracePeriodSeconds =
// drain_delay + 2 s, shorter than drain_delay plus the workers' drain of a long request, must
// show the long requests cut by the kubelet's SIGKILL. The three scenarios run side by side.
//
// Not simulated: kube-proxy's fallback to terminating endpoints when no ready one is left (never
// the case with maxUnavailable 0), the kubelet's status-update latency, ingress controllers that
// retry on another endpoint (which would hide the first control's failures).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { parseAllDocuments } from 'yaml';
import { parseDuration } from '../../dist/config/units.js';
import { fixture, freePort, killAll, root, runCorral, until } from '../helpers.js';

after(killAll);

// ---- The manifest's numbers --------------------------------------------------------------

const docs = parseAllDocuments(readFileSync(join(root, 'examples/kubernetes/corral.yaml'), 'utf8')).map((d) => d.toJS());
const deployment = docs.find((d) => d.kind === 'Deployment');
const corralToml = parseToml(docs.find((d) => d.kind === 'ConfigMap').data['corral.toml']);
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers[0];
const seconds = (s) => s * 1000;

/** A container probe with Kubernetes' defaults filled in, in milliseconds. */
function probe(p) {
  assert.ok(p.httpGet, 'only httpGet probes are simulated');
  return {
    path: p.httpGet.path,
    port: p.httpGet.port,
    initialDelayMs: seconds(p.initialDelaySeconds ?? 0),
    periodMs: seconds(p.periodSeconds ?? 10),
    timeoutMs: seconds(p.timeoutSeconds ?? 1),
    successThreshold: p.successThreshold ?? 1,
    failureThreshold: p.failureThreshold ?? 3,
  };
}

const { maxSurge, maxUnavailable } = deployment.spec.strategy.rollingUpdate;
assert.ok(Number.isInteger(maxSurge) && Number.isInteger(maxUnavailable), 'percentages are not simulated');
const shipped = {
  replicas: deployment.spec.replicas,
  maxSurge,
  maxUnavailable,
  terminationGraceMs: seconds(podSpec.terminationGracePeriodSeconds ?? 30),
  probes: { startup: probe(container.startupProbe), readiness: probe(container.readinessProbe), liveness: probe(container.livenessProbe) },
  drainDelayMs: parseDuration(corralToml.drain_delay ?? '0s'),
  graceMs: parseDuration(corralToml.grace ?? '25s'),
};
const LAG_MS = [1000, 5000];
const LONG_MS = shipped.drainDelayMs + 5000;
const CLIENTS = 4;

// ---- HTTP ----------------------------------------------------------------------------------

/** One GET on its own connection: { status, body } or { status: 0, error }. */
function get(port, path, { timeoutMs = 30_000, onConnect } = {}) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (err) => resolve({ status: 0, error: err.code ?? err.message }));
    });
    req.on('socket', (s) => s.once('connect', () => onConnect?.()));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, error: err.code ?? err.message }));
    req.end();
  });
}

/** The load balancer: round robin over the endpoints it has been told of, no retries. */
class LoadBalancer {
  known = [];
  version = 0;
  rr = 0;
  /** One record per request: { pod, t0, t1, status, error }. */
  log = [];

  /** An endpoints state arrives; an older one than the last delivered is stale and dropped. */
  deliver(version, endpoints) {
    if (version <= this.version) return;
    const now = Date.now();
    for (const p of this.known) if (!endpoints.includes(p)) p.at.lbRemoved = now;
    for (const p of endpoints) if (!this.known.includes(p)) p.at.lbAdded ??= now;
    this.version = version;
    this.known = endpoints;
  }

  async listen() {
    this.server = createServer((req, res) => {
      const rec = { pod: null, t0: Date.now() };
      this.log.push(rec);
      const fail = (error) => {
        rec.error ??= error;
        rec.t1 = Date.now();
        if (!res.headersSent) res.writeHead(502).end(`${rec.pod?.name ?? 'no endpoint'}: ${error}`);
        else res.destroy();
      };
      if (this.known.length === 0) return fail('no endpoints');
      rec.pod = this.known[this.rr++ % this.known.length];
      const up = request({ host: '127.0.0.1', port: rec.pod.ports.http, path: req.url, agent: false }, (r) => {
        rec.status = r.statusCode;
        res.writeHead(r.statusCode, r.headers);
        r.on('error', (err) => fail(err.code ?? err.message));
        r.on('end', () => (rec.t1 = Date.now()));
        r.pipe(res);
      });
      up.on('error', (err) => fail(err.code ?? err.message));
      req.pipe(up);
    });
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    return this.server.address().port;
  }

  close() {
    this.server?.closeAllConnections();
    this.server?.close();
  }
}

// ---- Pods and the kubelet --------------------------------------------------------------------

const taken = new Set();

/** A free port that no other pod of this file was given (pods of side-by-side scenarios). */
async function port() {
  for (;;) {
    const p = await freePort();
    if (taken.has(p)) continue;
    taken.add(p);
    return p;
  }
}

/** Signals a pod's corral (PID 1 of its namespace: a SIGKILL ends the whole container). */
function signal(pod, sig) {
  try {
    process.kill(pod.pid, sig);
  } catch (err) {
    if (err.code !== 'ESRCH') throw err; // it has just exited
  }
}

class Pod {
  /** Times (epoch ms) of what happened to the pod. */
  at = {};
  ready = false;
  started = false;
  /** The last answer of each probe, for the timeline. */
  lastProbe = {};
  wakers = new Map();

  constructor(cluster, name, revision, ports) {
    Object.assign(this, { cluster, name, revision, ports });
    const v = cluster.values;
    this.at.created = Date.now();
    this.c = runCorral(
      ['--listen', `127.0.0.1:${ports.http}`, '--http', `127.0.0.1:${ports.corral}`, '--drain-delay', `${v.drainDelayMs}ms`, '--grace', `${v.graceMs}ms`, '--workers', '2', '--ready', 'notify', '--', 'python3', fixture('listen.py'), '--notify'],
      { pid1: true },
    );
    void this.c.exited.then((r) => {
      this.exit = r;
      this.at.exited = Date.now();
      clearTimeout(this.killTimer);
      if (this.at.deleted === undefined && !cluster.closing) cluster.problems.push(`${name} exited without being deleted: ${r.code ?? r.signal}\n${r.stderr.slice(-2000)}`);
      for (const wake of this.wakers.values()) wake();
      cluster.publish();
    });
    this.pidKnown = this.c.corralPid().then((pid) => (this.pid = pid));
    const { startup, readiness, liveness } = v.probes;
    void this.prober('startup', startup, (ok) => {
      if (!ok) cluster.problems.push(`${name}: startup probe failed ${startup.failureThreshold} times (the kubelet would restart the container)`);
      this.started = ok;
      this.at.started = Date.now();
      this.wakers.get('readiness')?.();
      return false;
    });
    void this.prober('readiness', readiness, (ok) => {
      this.ready = ok;
      if (ok) this.at.ready ??= Date.now();
      cluster.publish();
      return true;
    });
    void this.prober('liveness', liveness, (ok) => {
      if (!ok) cluster.problems.push(`${name}: liveness probe failed ${liveness.failureThreshold} times`);
      return ok;
    });
  }

  /** The container port that a probe names (by name or number) -> this pod's local port. */
  portOf(port) {
    const name = typeof port === 'number' ? container.ports.find((p) => p.containerPort === port)?.name : port;
    return this.ports[name];
  }

  /**
   * A kubelet prober worker: a probe at once (after initialDelaySeconds), then one per tick of
   * a periodSeconds ticker (or when woken); a result counts once it came failureThreshold (or
   * successThreshold) times in a row. `onResult(ok)` returns whether to keep probing. Readiness
   * and liveness wait for the startup probe to succeed; liveness and startup probes stop when
   * the pod is deleted, readiness goes on until the container exits.
   */
  async prober(kind, spec, onResult) {
    const t0 = this.at.created + spec.initialDelayMs;
    let last;
    let run = 0;
    for (let at = t0; ; at = t0 + Math.ceil((Date.now() + 1 - t0) / spec.periodMs) * spec.periodMs) {
      await this.tick(kind, at);
      if (this.at.exited !== undefined || (kind !== 'readiness' && this.at.deleted !== undefined)) return;
      if (kind !== 'startup' && !this.started) continue;
      const r = await get(this.portOf(spec.port), spec.path, { timeoutMs: spec.timeoutMs });
      this.lastProbe[kind] = r.status || r.error;
      if (this.at.exited !== undefined) return;
      const ok = r.status >= 200 && r.status < 400;
      run = ok === last ? run + 1 : 1;
      last = ok;
      if (run >= (ok ? spec.successThreshold : spec.failureThreshold) && !onResult(ok)) return;
    }
  }

  /** The kubelet's ticker: resolves at `at`, when the prober is woken, or when the pod exits. */
  tick(kind, at) {
    return new Promise((resolve) => {
      const timer = setTimeout(wake, at - Date.now());
      function wake() {
        clearTimeout(timer);
        resolve();
      }
      this.wakers.set(kind, wake);
      if (this.at.exited !== undefined) wake();
    });
  }
}

class Cluster {
  pods = [];
  problems = [];
  lb = new LoadBalancer();
  timers = new Set();
  version = 0;
  published = '';
  long = [];

  constructor(values, { longRequests }) {
    this.values = values;
    this.longRequests = longRequests;
  }

  async createPod(revision) {
    const ports = { http: await port(), corral: await port() };
    const pod = new Pod(this, `${revision}-${this.pods.length}`, revision, ports);
    this.pods.push(pod);
    await pod.pidKnown;
    return pod;
  }

  /**
   * The pod is deleted (marked terminating): at that moment the kubelet sends SIGTERM and the
   * endpoints controller drops it; the kubelet SIGKILLs the container after
   * terminationGracePeriodSeconds. Just before, a long request is sent to it (if the scenario
   * has them).
   */
  async deletePod(pod) {
    if (this.longRequests) await this.sendLong(pod);
    pod.at.deleted = Date.now();
    signal(pod, 'SIGTERM');
    this.publish();
    pod.killTimer = setTimeout(() => {
      pod.at.killed = Date.now();
      signal(pod, 'SIGKILL');
    }, this.values.terminationGraceMs);
  }

  /** A long request straight to the pod; resolves once it is connected. */
  sendLong(pod) {
    return new Promise((connected) => {
      const rec = { pod, t0: Date.now(), long: true };
      this.long.push(rec);
      rec.done = get(pod.ports.http, `/?delay=${LONG_MS / 1000}`, { timeoutMs: LONG_MS + 60_000, onConnect: connected }).then((r) => {
        Object.assign(rec, r, { t1: Date.now() });
        connected();
      });
    });
  }

  /** The endpoints controller: ready pods that are not deleted, sent on with a random lag. */
  publish() {
    const endpoints = this.pods.filter((p) => p.ready && p.at.deleted === undefined && p.at.exited === undefined);
    const key = endpoints.map((p) => p.name).join();
    if (key === this.published) return;
    this.published = key;
    const version = ++this.version;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.lb.deliver(version, endpoints);
    }, LAG_MS[0] + Math.random() * (LAG_MS[1] - LAG_MS[0]));
    this.timers.add(timer);
  }

  /** The Deployment controller rolls every pod to `revision` (maxSurge, maxUnavailable). */
  async rollout(revision) {
    const { replicas, maxSurge, maxUnavailable } = this.values;
    const active = () => this.pods.filter((p) => p.at.deleted === undefined && p.at.exited === undefined);
    const state = () => active().map((p) => `${p.name}:${p.ready}`).join();
    for (;;) {
      const before = state();
      const fresh = active().filter((p) => p.revision === revision);
      const old = active().filter((p) => p.revision !== revision);
      if (old.length === 0 && fresh.length === replicas && fresh.every((p) => p.ready)) return;
      for (let n = active().length, f = fresh.length; n < replicas + maxSurge && f < replicas; n++, f++) await this.createPod(revision);
      // Old pods go, unready ones first, while replicas - maxUnavailable stay available.
      let canDelete = active().length - (replicas - maxUnavailable) - active().filter((p) => p.revision === revision && !p.ready).length;
      for (const p of old.sort((a, b) => a.ready - b.ready)) {
        if (p.ready && canDelete <= 0) break;
        await this.deletePod(p);
        canDelete--;
      }
      if (state() === before) await until(() => this.healthy() && state() !== before, { timeoutMs: 120_000, intervalMs: 20, what: `a change during the rollout to ${revision}` });
    }
  }

  /** True, or throws what went wrong with a pod (for the predicates of `until`). */
  healthy() {
    if (this.problems.length > 0) throw new Error(this.problems.join('\n'));
    return true;
  }

  shutdown() {
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    for (const p of this.pods) {
      clearTimeout(p.killTimer);
      if (p.at.exited === undefined && p.pid) signal(p, 'SIGKILL');
    }
    this.lb.close();
  }
}

/** Clients in a loop through the load balancer; `stop()` ends them. */
function load(port, n) {
  let on = true;
  const counts = { served: 0, failed: 0 };
  const loops = Array.from({ length: n }, async () => {
    while (on) {
      const r = await get(port, '/');
      if (r.status === 200) counts.served++;
      else counts.failed++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
  return { counts, stop: () => ((on = false), Promise.all(loops)) };
}

/**
 * A Deployment of `values` under load, rolled `rollouts` times. Returns the cluster (pods,
 * load balancer log, long requests) and the start of each rollout.
 */
async function scenario(values, rollouts, { longRequests = true } = {}) {
  const cluster = new Cluster(values, { longRequests });
  try {
    const port = await cluster.lb.listen();
    for (let i = 0; i < values.replicas; i++) await cluster.createPod('r0');
    await until(() => cluster.healthy() && cluster.lb.known.length === values.replicas, { timeoutMs: 120_000, what: 'the first pods in the load balancer' });
    const clients = load(port, CLIENTS);
    await until(() => clients.counts.served > 20, { what: 'load flowing' });
    const starts = [Date.now()];
    for (let r = 1; r <= rollouts; r++) {
      if (r > 1) starts.push(Date.now());
      await cluster.rollout(`r${r}`);
    }
    await until(() => cluster.pods.every((p) => p.at.deleted === undefined || p.at.exited !== undefined) && cluster.timers.size === 0, {
      timeoutMs: values.terminationGraceMs + 30_000,
      intervalMs: 50,
      what: 'every deleted pod gone and the endpoints delivered',
    });
    const served = clients.counts.served;
    await until(() => clients.counts.served > served + 20, { what: 'load on the last pods' });
    await clients.stop();
    await Promise.all(cluster.long.map((l) => l.done));
    return { cluster, starts, end: Date.now(), clients: clients.counts };
  } catch (err) {
    err.message += `\n${timeline(cluster)}`;
    throw err;
  } finally {
    cluster.shutdown();
  }
}

const ok = (r) => r.status === 200 && r.error === undefined;
const since = (pod, t) => (t === undefined || pod?.at.deleted === undefined ? '-' : `${((t - pod.at.deleted) / 1000).toFixed(1)}s`);

/** Served and failed requests of each rollout (long ones included), and the failures. */
function tally({ cluster, starts, end }) {
  const all = [...cluster.lb.log, ...cluster.long];
  const windows = starts.map((t0, i) => {
    const reqs = all.filter((r) => r.t0 >= t0 && r.t0 < (starts[i + 1] ?? end + 1));
    return { served: reqs.filter(ok).length, failed: reqs.filter((r) => !ok(r)).length };
  });
  const failures = all.filter((r) => !ok(r));
  const explain = (r) => `${r.long ? 'long ' : ''}${r.pod?.name ?? '-'} ${r.status ?? 0} ${r.error ?? ''} sent ${since(r.pod, r.t0)} ended ${since(r.pod, r.t1)} after deletion`;
  return { windows, failures, explain };
}

function timeline(cluster) {
  return cluster.pods
    .map((p) => `${p.name}: ${Object.entries(p.at).map(([k, t]) => `${k} ${((t - p.at.created) / 1000).toFixed(1)}`).join(', ')}; probes ${JSON.stringify(p.lastProbe)}; exit ${p.exit?.code ?? p.exit?.signal ?? '-'}`)
    .join('\n');
}

describe('a rolling update of examples/kubernetes/corral.yaml', { concurrency: true }, () => {
  test('with the shipped values: two rollouts under constant load, 0 failed requests', { timeout: 300_000 }, async (t) => {
    const run = await scenario(shipped, 2);
    const { cluster } = run;
    const { windows, failures, explain } = tally(run);
    t.diagnostic(`rollouts: ${windows.map((w, i) => `#${i + 1} ${w.served} served, ${w.failed} failed`).join('; ')}`);
    const info = `\n${timeline(cluster)}\n${failures.slice(0, 20).map(explain).join('\n')}`;
    assert.deepEqual(cluster.problems, []);
    assert.equal(failures.length, 0, `failed requests:${info}`);
    assert.equal(run.clients.failed, 0);
    const deleted = cluster.pods.filter((p) => p.at.deleted !== undefined);
    assert.equal(deleted.length, 2 * shipped.replicas, `every pod replaced twice over${info}`);
    for (const p of deleted) {
      assert.equal(p.exit.code, 0, `${p.name} stopped within its grace${info}`);
      assert.equal(p.at.killed, undefined, `${p.name} was not SIGKILLed by the kubelet`);
      // The lag is real: the load balancer kept sending to the deleted pod, which served it.
      const after = cluster.lb.log.filter((r) => r.pod === p && r.t0 > p.at.deleted);
      assert.ok(after.length > 0 && after.every(ok), `${p.name} served requests after its deletion${info}`);
    }
    assert.equal(cluster.long.length, deleted.length);
    for (const l of cluster.long) assert.ok(ok(l) && l.t1 - l.pod.at.deleted > shipped.drainDelayMs, `the long request on ${l.pod.name} finished after the workers were signalled`);
    for (const w of windows) assert.ok(w.served > 50, `load in every rollout: ${JSON.stringify(windows)}`);
  });

  test('negative control: drain_delay = 0s fails requests the load balancer still sends', { timeout: 300_000 }, async (t) => {
    // Without long requests, which would keep the pod's socket open (and the refused
    // connections queued) until they end.
    const run = await scenario({ ...shipped, drainDelayMs: 0 }, 1, { longRequests: false });
    const { cluster } = run;
    const { windows, failures, explain } = tally(run);
    t.diagnostic(`rollout: ${windows[0].served} served, ${windows[0].failed} failed; e.g. ${failures.slice(0, 3).map(explain).join('; ')}`);
    assert.ok(failures.length > 0, `drain_delay = 0 must fail requests\n${timeline(cluster)}`);
    for (const f of failures) {
      assert.ok(f.pod?.at.deleted !== undefined, explain(f));
      // Sent before the load balancer heard of the deletion, failed after the deletion.
      assert.ok(f.t0 <= f.pod.at.lbRemoved && f.t1 >= f.pod.at.deleted, explain(f));
    }
  });

  test('negative control: terminationGracePeriodSeconds < drain_delay + the drain cuts long requests', { timeout: 300_000 }, async (t) => {
    const values = { ...shipped, terminationGraceMs: shipped.drainDelayMs + 2000 };
    assert.ok(values.terminationGraceMs < LONG_MS, 'the SIGKILL comes while the workers still drain the long request');
    const run = await scenario(values, 1);
    const { cluster } = run;
    const { windows, failures, explain } = tally(run);
    t.diagnostic(`rollout: ${windows[0].served} served, ${windows[0].failed} failed; ${failures.map(explain).join('; ')}`);
    const deleted = cluster.pods.filter((p) => p.at.deleted !== undefined);
    assert.equal(deleted.length, shipped.replicas);
    for (const p of deleted) assert.ok(p.at.killed !== undefined && p.exit.code !== 0, `the kubelet SIGKILLed ${p.name}\n${timeline(cluster)}`);
    // Every long request was in flight at the SIGKILL and cut by it; nothing else failed.
    assert.equal(failures.filter((f) => f.long).length, deleted.length, failures.map(explain).join('\n'));
    for (const f of failures) assert.ok(f.long && f.t0 < f.pod.at.killed && f.t1 >= f.pod.at.killed, explain(f));
  });
});
