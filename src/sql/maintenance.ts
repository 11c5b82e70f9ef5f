import { toInterval } from '../duration.js';
import { query, type Queryable } from './query.js';

/** Maintenance statements: event.maintain, purge_*, queue_size, and the VACUUM they may be followed by. */

/** One pass; returns event.maintain's summary (jsonb) as it came. */
export async function maintainPass(db: Queryable, deadLetterAgeMs: number | undefined, now: Date | undefined): Promise<unknown> {
  const rows = await query<{ s: unknown }>(db, 'maintain', 'SELECT event.maintain($1::interval, coalesce($2::timestamptz, now())) AS s',
    [deadLetterAgeMs === undefined ? null : toInterval(deadLetterAgeMs), now ?? null]);
  return rows[0]!.s;
}

/** VACUUM cannot run in a function or transaction: a statement of its own, when the role may. Returns whether it ran. */
export async function vacuumQueue(db: Queryable): Promise<boolean> {
  const what = 'vacuum event.inbox, event.change, event.listener';
  if (!(await query<{ ok: boolean }>(db, what, 'SELECT event.may_vacuum_queue() AS ok'))[0]!.ok) return false;
  await query(db, what, 'VACUUM (ANALYZE) event.inbox, event.change, event.listener');
  return true;
}

export async function purgeOld(db: Queryable, olderThanMs: number, pending: boolean, now: Date | undefined): Promise<{ deadLetters: number; pending: number }> {
  const [row] = await query<{ dead: string; pending: string }>(db, 'purge',
    `SELECT event.purge_dead_letters($1::interval, coalesce($2::timestamptz, now())) AS dead,
            CASE WHEN $3 THEN event.purge_pending($1::interval, coalesce($2::timestamptz, now())) ELSE 0 END AS pending`,
    [toInterval(olderThanMs), now ?? null, pending]);
  return { deadLetters: Number(row!.dead), pending: Number(row!.pending) };
}

export interface QueueSizeRow {
  total_bytes: string;
  table_bytes: string;
  index_bytes: string;
  live_rows: string;
  dead_rows: string;
  last_autovacuum: Date | null;
}

export async function queueSizeRow(db: Queryable): Promise<QueueSizeRow> {
  return (await query<QueueSizeRow>(db, 'queue size', 'SELECT * FROM event.queue_size()'))[0]!;
}
