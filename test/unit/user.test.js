import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveUser } from '../../dist/process/user.js';
import { CorralError } from '../../dist/errors.js';

const root = mkdtempSync(join(tmpdir(), 'corral-etc-'));
mkdirSync(join(root, 'etc'));
writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nserve:x:1000:1000::/home/serve:/bin/sh\n');
writeFileSync(join(root, 'etc/group'), 'root:x:0:\nserve:x:1000:\nvideo:x:44:serve\nrender:x:105:other,serve\naudio:x:29:other\n');

test('a user name gets its uid, primary gid, supplementary groups and HOME', () => {
  const u = resolveUser('serve', root);
  assert.equal(u.uid, 1000);
  assert.equal(u.gid, 1000);
  assert.deepEqual(u.groups.sort((a, b) => a - b), [44, 105, 1000]);
  assert.deepEqual(u.env, { HOME: '/home/serve', USER: 'serve', LOGNAME: 'serve' });
});

test('UID:GID and name:group forms', () => {
  assert.deepEqual(resolveUser('1234:99', root), { uid: 1234, gid: 99, groups: [99], env: {} });
  assert.equal(resolveUser('serve:video', root).gid, 44);
});

test('unknown user or group is a config error (exit 2)', () => {
  assert.throws(() => resolveUser('nobody-here', root), (e) => e instanceof CorralError && e.exitCode === 2 && /no user named/.test(e.message));
  assert.throws(() => resolveUser('serve:nogroup', root), (e) => e instanceof CorralError && e.exitCode === 2);
});
