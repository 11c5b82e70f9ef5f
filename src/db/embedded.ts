import { existsSync, realpathSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { AqeventError } from '../errors.js';
import { installedBinaries, reachableBinaries, type ServerBinaries } from './embedded-binaries.js';
import { checkoutDir, checkoutKey, defaultDataDir, embeddedHome, explicitPort, FIRST_PORT, packageRoot } from './embedded-paths.js';
import { LOG_FILE, readRecord, type RunningServer, runningServer, waitForExit, withStartLock, writeRecord } from './embedded-state.js';
import { canUseFolder, SERVER_USER, serverUser } from './embedded-user.js';
import { lastLines, type RunAs, runProcess } from './run-process.js';

export { defaultDataDir } from './embedded-paths.js';

/** Where the embedded PostgreSQL keeps its data and which port it listens on. */
export interface EmbeddedOptions {
  /** Data directory. Default: AQEVENT_DATA_DIR, else this checkout's own directory (see embeddedStatus). */
  dataDir?: string;
  /** TCP port on 127.0.0.1. Default: AQEVENT_EMBEDDED_PORT, else the port recorded at initialisation (the first free one from 54329). */
  port?: number;
}

export interface EmbeddedServer {
  connectionString: string;
  dataDir: string;
  port: number;
}

/** What `aqevent embedded status` shows. */
export interface EmbeddedStatus {
  dataDir: string;
  /** This checkout's key (folder name and hash of its install path). */
  key: string;
  /** Install path of this copy of aqevent. */
  checkout: string;
  initialised: boolean;
  running: boolean;
  pid: number | null;
  port: number | null;
  /** PostgreSQL's own state while running: ready, starting, stopping. */
  state: string | null;
  startedAt: string | null;
  /** The checkout that last started it; differs from `checkout` only when AQEVENT_DATA_DIR points two checkouts at one directory. */
  startedBy: string | null;
  binaries: string | null;
  version: string | null;
  connectionString: string | null;
  logFile: string;
}

const PASSWORD = 'aqevent';
const DATABASE = 'aqevent';

const urlFor = (port: number, database: string) => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`;

/** The environment for server processes: libpq variables would override their settings. */
function serverEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PG')));
}

function fail(message: string, cause?: unknown): AqeventError {
  return new AqeventError('connection', message, { cause });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function firstFreePort(from: number): Promise<number> {
  for (let port = from; port < from + 100 && port <= 65535; port++) if (await portIsFree(port)) return port;
  throw fail(`no free port in ${from}-${from + 99} for the embedded PostgreSQL: set AQEVENT_EMBEDDED_PORT`);
}

async function binariesFor(user: RunAs | undefined): Promise<ServerBinaries> {
  const installed = await installedBinaries();
  if (!user) return installed;
  await mkdir(embeddedHome(), { recursive: true, mode: 0o755 });
  return reachableBinaries(installed, checkoutDir()).catch((error: Error) => {
    throw fail(`could not copy the PostgreSQL binaries to ${checkoutDir()}, where user "${SERVER_USER}" can read them: ${error.message}`, error);
  });
}

async function initialise(dataDir: string, binaries: ServerBinaries, user: RunAs | undefined): Promise<void> {
  await mkdir(dirname(dataDir), { recursive: true, mode: 0o755 });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const passwordDir = await mkdtemp(join(tmpdir(), 'aqevent-initdb-'));
  try {
    const passwordFile = join(passwordDir, 'password');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    if (user) {
      await chown(dataDir, user.uid, user.gid);
      await chown(passwordDir, user.uid, user.gid);
      await chown(passwordFile, user.uid, user.gid);
      if (!(await canUseFolder(user, dataDir))) {
        throw fail(`the embedded PostgreSQL runs as user "${SERVER_USER}" (not root), which cannot enter ${dataDir}: ` +
          'set AQEVENT_DATA_DIR to a folder that user can reach (every parent searchable), or set DATABASE_URL');
      }
    }
    const result = await runProcess(binaries.initdb, [`--pgdata=${dataDir}`, '--auth=scram-sha-256', '--username=postgres',
      `--pwfile=${passwordFile}`, '--encoding=UTF8', '--no-locale'], { user, env: serverEnv() });
    if (result.code !== 0) {
      throw fail(`initdb could not create the embedded PostgreSQL in ${dataDir}: ${result.error?.message ?? lastLines(result.stderr)}`, result.error);
    }
  } finally {
    await rm(passwordDir, { recursive: true, force: true });
  }
}

async function start(dataDir: string, port: number, binaries: ServerBinaries, user: RunAs | undefined): Promise<void> {
  const logFile = join(dataDir, LOG_FILE);
  // pg_ctl daemonises the server: it outlives this process, as a server should.
  const result = await runProcess(binaries.pg_ctl, ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile,
    '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`], { user, env: serverEnv() });
  if (result.code === 0) return;
  const log = await readFile(logFile, 'utf8').catch(() => '');
  throw fail(`could not start the embedded PostgreSQL in ${dataDir} on port ${port}: ${result.error?.message ?? (lastLines(log) || lastLines(result.stderr))}`, result.error);
}

function sameDirectory(a: string, b: string): boolean {
  const real = (path: string) => {
    try {
      return realpathSync(path);
    } catch {
      return resolve(path);
    }
  };
  return real(a) === real(b);
}

/** Creates the "aqevent" database, after making sure the server on the port serves dataDir and no other. */
async function ensureDatabase(dataDir: string, port: number): Promise<void> {
  const client = new pg.Client({ connectionString: urlFor(port, 'postgres'), connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (error) {
    throw fail(`the embedded PostgreSQL in ${dataDir} does not answer on port ${port}: ${(error as Error).message}`, error);
  }
  try {
    const served = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
    if (!sameDirectory(served, dataDir)) {
      throw fail(`port ${port} is served by another PostgreSQL (data in ${served}), not the one in ${dataDir}: stop that one or set AQEVENT_EMBEDDED_PORT`);
    }
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE "${DATABASE}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04' && error.code !== '23505') throw error; // created concurrently
      });
    }
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Starts (initialising on first use) the embedded PostgreSQL and returns a
 * connection string to its "aqevent" database. The server keeps running
 * after this process exits; `stopEmbedded` (`aqevent embedded stop`) stops it.
 */
export async function ensureEmbedded(options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const dataDir = resolve(options.dataDir ?? defaultDataDir());
  const requested = options.port ?? explicitPort();
  const found = await runningServer(dataDir);
  // A server still starting is being started by a process holding the lock: taking the lock waits for it.
  const running = (found?.state === 'ready' ? found : undefined) ?? await withStartLock(dataDir, 120_000, () => startOnce(dataDir, requested))
    .catch((error: NodeJS.ErrnoException) => {
      if (error instanceof AqeventError || !error.syscall) throw error;
      throw fail(`cannot set up the embedded PostgreSQL in ${dataDir}: ${error.message}; ` +
        'set AQEVENT_DATA_DIR to a folder you may write, or DATABASE_URL to use your own server', error);
    });
  await ensureDatabase(dataDir, running.port);
  return { connectionString: urlFor(running.port, DATABASE), dataDir, port: running.port };
}

/** The running server once it is ready (after crash recovery, say); undefined when none runs. */
async function readyServer(dataDir: string): Promise<RunningServer | undefined> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const running = await runningServer(dataDir);
    if (!running || running.state === 'ready' || Date.now() > deadline) return running;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Initialises (first time) and starts the server, holding the start lock; finds it running when another process was first. */
async function startOnce(dataDir: string, requested: number | undefined): Promise<RunningServer> {
  let running = await readyServer(dataDir);
  if (!running) {
    const user = await serverUser();
    const binaries = await binariesFor(user);
    const record = await readRecord(dataDir);
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await initialise(dataDir, binaries, user);
    let port = requested ?? record?.port ?? FIRST_PORT;
    if (!(await portIsFree(port))) {
      if (requested !== undefined) throw fail(`port ${port} for the embedded PostgreSQL is in use by another program: choose another with AQEVENT_EMBEDDED_PORT`);
      port = await firstFreePort(port + 1);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await start(dataDir, port, binaries, user);
        break;
      } catch (error) {
        // Another checkout's server may have taken the free port at the same moment: take the next one.
        if (requested !== undefined || attempt === 3 || (await portIsFree(port))) throw error;
        port = await firstFreePort(port + 1);
      }
    }
    running = await runningServer(dataDir);
    if (!running) throw fail(`the embedded PostgreSQL in ${dataDir} stopped right after starting: see ${join(dataDir, LOG_FILE)}`);
    await writeRecord(dataDir, {
      checkout: packageRoot(), binaries: binaries.dir, binariesSource: binaries.source, version: binaries.version, port: running.port,
      initialisedAt: record?.initialisedAt ?? new Date().toISOString(), startedAt: running.startedAt.toISOString(), startedByPid: process.pid,
    });
  }
  return running;
}

/** The embedded server of this checkout (or of options.dataDir): where it lives, whether it runs, who started it. Starts nothing. */
export async function embeddedStatus(options: Pick<EmbeddedOptions, 'dataDir'> = {}): Promise<EmbeddedStatus> {
  const dataDir = resolve(options.dataDir ?? defaultDataDir());
  const [running, record] = await Promise.all([runningServer(dataDir), readRecord(dataDir)]);
  const port = running?.port ?? record?.port ?? null;
  return {
    dataDir,
    key: checkoutKey(),
    checkout: packageRoot(),
    initialised: existsSync(join(dataDir, 'PG_VERSION')),
    running: running !== undefined,
    pid: running?.pid ?? null,
    port,
    state: running?.state ?? null,
    startedAt: running?.startedAt.toISOString() ?? null,
    startedBy: record?.checkout ?? null,
    binaries: record?.binaries ?? null,
    version: record?.version ?? null,
    connectionString: running && port ? urlFor(port, DATABASE) : null,
    logFile: join(dataDir, LOG_FILE),
  };
}

/** Stops the embedded PostgreSQL whose data lives in dataDir (fast shutdown: sessions end, committed data stays). Resolves whether it was running. */
export async function stopEmbedded(options: Pick<EmbeddedOptions, 'dataDir'> = {}): Promise<boolean> {
  const dataDir = resolve(options.dataDir ?? defaultDataDir());
  const running = await runningServer(dataDir);
  if (!running) return false;
  try {
    process.kill(running.pid, 'SIGINT'); // PostgreSQL's "fast" shutdown
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw fail(`could not stop the embedded PostgreSQL (pid ${running.pid}) in ${dataDir}: ${(error as Error).message}`, error);
  }
  if (!(await waitForExit(running.pid, 60_000))) {
    throw fail(`the embedded PostgreSQL (pid ${running.pid}) in ${dataDir} did not stop within 60s: see ${join(dataDir, LOG_FILE)}`);
  }
  return true;
}

/** Makes a fresh directory that the server's user may own (tests). */
export async function prepareDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const owner = await serverUser();
  if (owner) await chown(dataDir, owner.uid, owner.gid);
}
