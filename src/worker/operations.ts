import type pg from 'pg';
import { toInterval } from '../duration.js';
import { fromPgError } from '../errors.js';

/** The worker's own SQL (sql/035_worker.sql). */

export async function extendLease(pool: pg.Pool, sessionId: string, ids: string[], leaseMs: number): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  try {
    const { rows } = await pool.query<{ id: string }>('SELECT id::text AS id FROM event.extend_lease($1, $2::bigint[], $3::interval) AS id',
      [sessionId, ids, toInterval(leaseMs)]);
    return new Set(rows.map((row) => row.id));
  } catch (error) {
    throw fromPgError(error, 'extend lease');
  }
}

export async function releaseEvents(pool: pg.Pool, sessionId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  try {
    const { rows } = await pool.query<{ n: number }>('SELECT event.release($1, $2::bigint[]) AS n', [sessionId, ids]);
    return rows[0]!.n;
  } catch (error) {
    throw fromPgError(error, 'release');
  }
}
