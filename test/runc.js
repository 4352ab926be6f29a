// Real OCI containers for the tests: runc (the runtime under Docker, containerd and
// Kubernetes) runs corral as the container's PID 1. The rootfs is an overlay whose lower
// layer is the host's `/` (so node and python3 are inside), the checkout is bind-mounted
// read-only at /corral, and the host's network is kept (no network namespace) so the test
// reaches the container's ports on 127.0.0.1. rlimits and cgroup resources are left out
// of the config: root here lacks CAP_SYS_RESOURCE.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './helpers.js';

/** Why container tests cannot run here, or null when they can. */
export function runcMissing() {
  if (process.getuid?.() !== 0) return 'the container tests need root (runc, overlay mounts)';
  if (spawnSync('runc', ['--version']).status !== 0) return 'runc is not installed (apt-get install runc; .ci/run does it)';
  const dir = mkdtempSync(join(tmpdir(), 'corral-overlay-'));
  try {
    for (const d of ['upper', 'work', 'root']) mkdirSync(join(dir, d));
    const r = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=/,upperdir=${dir}/upper,workdir=${dir}/work`, `${dir}/root`], { encoding: 'utf8' });
    if (r.status !== 0) return `an overlay of / cannot be mounted here: ${r.stderr.trim()}`;
    spawnSync('umount', [`${dir}/root`]);
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// CORRAL_TEST_ROOTFS (scripts/image-test.sh): the rootfs of a built image instead of the
// host's `/`, with corral installed in it and the image's environment (JSON list of
// K=V in CORRAL_TEST_IMAGE_ENV) as docker run would set it.
const imageRoot = process.env.CORRAL_TEST_ROOTFS;
const imageEnv = imageRoot ? JSON.parse(process.env.CORRAL_TEST_IMAGE_ENV ?? '[]') : [];

/** Inside the container, corral as a user would type it: `corral ARGS...`. */
export const corral = (...args) => (imageRoot ? ['corral', ...args] : ['/usr/bin/node', '/corral/bin/corral.js', ...args]);
/** A test fixture's path inside the container. */
export const inside = (name) => `/corral/test/fixtures/${name}`;

const live = new Set();

/**
 * A bundle for one container. `args`: the process (the image's ENTRYPOINT + CMD);
 * `terminal`: docker run -t; `user`: { uid, gid } (docker run --user); `readonly`:
 * docker run --read-only; `caps`: the capability list (Docker's default set unless
 * given; [] = --cap-drop ALL); `env`: extra variables.
 */
export function bundle({ args, terminal = false, user = { uid: 0, gid: 0 }, readonly = false, caps, env = {} }) {
  const dir = mkdtempSync(join(tmpdir(), 'corral-ctr-'));
  const id = `corral-test-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  for (const d of ['upper', 'work', 'rootfs', 'state']) mkdirSync(join(dir, d));
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${imageRoot ?? '/'},upperdir=${dir}/upper,workdir=${dir}/work`, `${dir}/rootfs`]);
  mkdirSync(join(dir, 'rootfs', 'corral'), { recursive: true });
  // The checkout through an overlay of its own whose top folder is opened to every user:
  // a clone in a 0700 temp dir stays readable by the container's non-root user, and the
  // checkout itself is never changed.
  for (const d of ['src-upper', 'src-work', 'src']) mkdirSync(join(dir, d));
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${root},upperdir=${dir}/src-upper,workdir=${dir}/src-work`, `${dir}/src`]);
  chmodSync(join(dir, 'src'), 0o755);
  execFileSync('runc', ['spec'], { cwd: dir });
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const docker = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];
  const capList = caps ?? docker;
  // docker run -e: the image's environment, then the test's variables over it.
  const base = imageRoot ? imageEnv : ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/tmp'];
  config.process = {
    ...config.process,
    terminal,
    args,
    user,
    cwd: '/',
    env: Object.entries({ ...Object.fromEntries(base.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])), ...(terminal && { TERM: 'xterm' }), ...env }).map(([k, v]) => `${k}=${v}`),
    capabilities: { bounding: capList, effective: capList, permitted: capList, ambient: user.uid === 0 ? [] : capList },
    rlimits: [],
    noNewPrivileges: true,
  };
  config.root = { path: join(dir, 'rootfs'), readonly };
  config.hostname = 'corral-test';
  config.mounts = config.mounts.filter((m) => m.destination !== '/sys/fs/cgroup');
  config.mounts.push({ destination: '/corral', type: 'bind', source: join(dir, 'src'), options: ['rbind', 'ro'] });
  delete config.linux.resources;
  config.linux.namespaces = config.linux.namespaces.filter((n) => n.type !== 'network');
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const runc = (...a) => ['--root', join(dir, 'state'), ...a];
  const c = {
    id,
    dir,
    /** `runc run` in the foreground with pipes (docker run without -t); or pass a spawner. */
    run(spawner) {
      const argv = runc('run', '--bundle', dir, id);
      const child = spawner ? spawner('runc', argv) : spawn('runc', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      c.child = child;
      return child;
    },
    /** docker kill --signal SIG / the first half of docker stop. */
    kill(sig) {
      return spawnSync('runc', runc('kill', id, sig), { encoding: 'utf8' });
    },
    /** docker exec (HEALTHCHECK runs its command this way). */
    exec(argv, timeoutMs = 10_000) {
      return spawnSync('runc', runc('exec', id, ...argv), { encoding: 'utf8', timeout: timeoutMs });
    },
    /** The container's processes, as host pids. */
    pids() {
      const r = spawnSync('runc', runc('ps', '--format', 'json', id), { encoding: 'utf8' });
      return r.status === 0 ? JSON.parse(r.stdout || '[]') : [];
    },
    state() {
      const r = spawnSync('runc', runc('state', id), { encoding: 'utf8' });
      return r.status === 0 ? JSON.parse(r.stdout).status : 'gone';
    },
    cleanup() {
      spawnSync('runc', runc('kill', id, 'KILL'));
      spawnSync('runc', runc('delete', '--force', id));
      spawnSync('umount', ['-l', join(dir, 'rootfs')]);
      spawnSync('umount', ['-l', join(dir, 'src')]);
      rmSync(dir, { recursive: true, force: true });
      live.delete(c);
    },
  };
  live.add(c);
  return c;
}

/** Removes every container a test left behind (use in afterEach). */
export function cleanupContainers() {
  for (const c of [...live]) c.cleanup();
}
