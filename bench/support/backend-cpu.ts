/**
 * CPU time of PostgreSQL backends, from /proc/<pid>/stat (utime + stime),
 * for backends found in pg_stat_activity by application_name. Only works
 * when the server runs on this machine (null otherwise). Background
 * processes (WAL writer, checkpointer, autovacuum) are not counted, and
 * neither is the parent's own polling connection.
 */
import { readFile } from 'node:fs/promises';
import type pg from 'pg';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

async function ticksOf(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the whole line)
  } catch {
    return null;
  }
}

/** Backend pid → CPU ms so far, for the backends of this database named applicationName. */
export async function backendCpuMs(pool: pg.Pool, applicationName: string): Promise<Map<number, number> | null> {
  const { rows } = await pool.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [applicationName]);
  const result = new Map<number, number>();
  for (const { pid } of rows) {
    const ticks = await ticksOf(pid);
    if (ticks === null) return null;
    result.set(pid, (ticks * 1000) / TICKS_PER_SECOND);
  }
  return result;
}

/** CPU ms spent between two samples (backends that appeared in between count from 0). */
export function cpuSpentMs(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}
