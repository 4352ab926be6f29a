// --user UID[:GID]|NAME[:GROUP]: who the workers run as. Looked up in /etc/passwd and
// /etc/group (no NSS: containers rarely have more), with the supplementary groups the
// user has there — GPU device nodes are often group `video` or `render`, and Node's own
// spawn would drop them (it calls setgroups(0, NULL)).

import { readFileSync } from 'node:fs';
import { CorralError } from '../errors.js';

export interface WorkerUser {
  uid: number;
  gid: number;
  groups: number[];
  /** HOME, USER and LOGNAME for the worker, when the user has a passwd entry. */
  env: Record<string, string>;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function readTable(path: string): string[][] {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    return [];
  }
}

function passwd(root: string): PasswdEntry[] {
  return readTable(`${root}/etc/passwd`).map((f) => ({ name: f[0] ?? '', uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' }));
}

const isId = (s: string): boolean => /^\d+$/.test(s);

/** Resolves a --user value; `root` is for tests (a directory holding etc/passwd, etc/group). */
export function resolveUser(spec: string, root = ''): WorkerUser {
  const [userPart = '', groupPart] = spec.split(':', 2);
  const users = passwd(root);
  const groupsTable = readTable(`${root}/etc/group`);
  const entry = isId(userPart) ? users.find((u) => u.uid === Number(userPart)) : users.find((u) => u.name === userPart);
  if (!entry && !isId(userPart)) {
    throw new CorralError('BAD_VALUE', `--user: no user named "${userPart}" in /etc/passwd`, {
      hint: 'create the user in the image (useradd) or give a numeric UID[:GID]',
    });
  }
  const uid = entry ? entry.uid : Number(userPart);
  let gid = entry ? entry.gid : uid;
  if (groupPart !== undefined && groupPart !== '') {
    if (isId(groupPart)) gid = Number(groupPart);
    else {
      const g = groupsTable.find((f) => f[0] === groupPart);
      if (!g) throw new CorralError('BAD_VALUE', `--user: no group named "${groupPart}" in /etc/group`, { hint: 'create the group or give a numeric GID' });
      gid = Number(g[2]);
    }
  }
  const groups = new Set<number>([gid]);
  if (entry) {
    for (const g of groupsTable) {
      const members = (g[3] ?? '').split(',');
      if (members.includes(entry.name)) groups.add(Number(g[2]));
    }
  }
  const env: Record<string, string> = entry ? { HOME: entry.home, USER: entry.name, LOGNAME: entry.name } : {};
  return { uid, gid, groups: [...groups], env };
}
