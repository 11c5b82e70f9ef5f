import { AqeventError } from '../errors.js';
import { type RunAs, runProcess } from './run-process.js';

/** The system user the embedded server runs as when we are root (PostgreSQL refuses to run as root). */
export const SERVER_USER = 'postgres';

async function lookup(name: string): Promise<RunAs | undefined> {
  const [uid, gid] = await Promise.all([runProcess('id', ['-u', name]), runProcess('id', ['-g', name])]);
  const ids = { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  return uid.code === 0 && gid.code === 0 && ids.uid > 0 ? ids : undefined;
}

/** As root: the user to run initdb, pg_ctl and postgres as, created when missing. Otherwise: none (we run them ourselves). */
export async function serverUser(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const found = await lookup(SERVER_USER);
  if (found) return found;
  const created = await runProcess('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVER_USER]);
  const user = await lookup(SERVER_USER);
  if (user) return user;
  throw new AqeventError('connection',
    `running as root, the embedded PostgreSQL needs a system user "${SERVER_USER}" to run as, and creating it failed` +
    ` (${created.error?.message ?? created.stderr.trim()}): create it (useradd --system ${SERVER_USER}) or set DATABASE_URL`);
}

/** Whether the user may enter and write the folder (its parents must be searchable too). */
export async function canUseFolder(user: RunAs, folder: string): Promise<boolean> {
  const probe = await runProcess('/bin/sh', ['-c', 'test -d "$1" && test -w "$1" && test -x "$1"', 'sh', folder], { user });
  return probe.code === 0;
}
