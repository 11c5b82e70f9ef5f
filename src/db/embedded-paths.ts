import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AqeventError } from '../errors.js';

/** The major version of the embedded PostgreSQL; part of the data directory's name. */
export const PG_DIR = 'pg17';
/** The port the first checkout's server listens on; later ones take the next free port. */
export const FIRST_PORT = 54329;

/** Where this copy of aqevent is installed (src/db and dist/db are both two levels down). */
export function packageRoot(): string {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  try {
    return realpathSync(root);
  } catch {
    return resolve(root);
  }
}

/**
 * A name for one installed copy of aqevent: its folder name and a hash of its
 * path. Each checkout keys its server by it, so two checkouts never share a
 * server (or its binaries) by accident.
 */
export function checkoutKey(root: string = packageRoot()): string {
  const name = basename(root).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'aqevent';
  return `${name}-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`;
}

const isRoot = () => process.getuid?.() === 0;

/**
 * The folder holding every checkout's embedded server: per user; as root
 * /var/lib/aqevent, since the server then runs as the "postgres" system user,
 * which cannot enter /root.
 */
export function embeddedHome(env: NodeJS.ProcessEnv = process.env): string {
  if (isRoot()) return '/var/lib/aqevent';
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'aqevent');
}

/** This checkout's folder in embeddedHome: its data directory and (as root) its copy of the binaries. */
export function checkoutDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(embeddedHome(env), checkoutKey());
}

/** The default data directory: AQEVENT_DATA_DIR, else this checkout's own. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.AQEVENT_DATA_DIR || join(checkoutDir(env), PG_DIR));
}

/** AQEVENT_EMBEDDED_PORT, when set. */
export function explicitPort(env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (!env.AQEVENT_EMBEDDED_PORT) return undefined;
  const port = Number(env.AQEVENT_EMBEDDED_PORT);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new AqeventError('invalid_argument', `AQEVENT_EMBEDDED_PORT must be a TCP port, not "${env.AQEVENT_EMBEDDED_PORT}"`);
  }
  return port;
}
