import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { eventually } from './roles.js';

/** Kills (SIGKILL) the worker processes still running: a test's cleanup. */
export function killRunning(children: WorkerProcess[]): void {
  for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

const CHILD = fileURLToPath(new URL('../fixtures/worker-child.ts', import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts test/fixtures/worker-child.ts as a real process. */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}

export async function createWorkLog(pool: pg.Pool): Promise<void> {
  await pool.query(`CREATE TABLE public.work_log (event_id bigint NOT NULL, pid int NOT NULL, phase text NOT NULL,
                    attempts int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`);
}

export async function logged(pool: pg.Pool, phase: string): Promise<Array<{ event_id: string; pid: number; attempts: number }>> {
  const { rows } = await pool.query('SELECT event_id::text, pid, attempts FROM public.work_log WHERE phase = $1 ORDER BY at', [phase]);
  return rows;
}

export async function queueSize(pool: pg.Pool, sessionId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM event.pending_event WHERE session_id = $1', [sessionId]);
  return rows[0]!.n;
}

export function untilQueueEmpty(pool: pg.Pool, sessionId: string, ms = 20_000): Promise<true> {
  return eventually(async () => ((await queueSize(pool, sessionId)) === 0 ? true : undefined), 'an empty queue', ms);
}
