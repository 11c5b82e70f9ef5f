import { toInterval } from '../duration.js';
import { query, type Queryable, RELAXED_COMMIT } from './query.js';

/** Settling: event.ack and event.nack. Both return how many of the ids were still queued. */

/**
 * relaxedCommit (default true) commits the ack without waiting for its WAL
 * flush. Inside a caller's transaction it would apply to the whole
 * transaction: pass false there (the bridge does).
 */
export async function ackEvents(db: Queryable, sessionId: string, ids: string[], { relaxedCommit = true } = {}): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await query<{ n: number }>(db, 'ack', `SELECT event.ack($1, $2::bigint[]) AS n${relaxedCommit ? ` FROM ${RELAXED_COMMIT}` : ''}`, [sessionId, ids]);
  return rows[0]!.n;
}

/** event.ack_each: acknowledges, and says per id whether it was pending (false: acked before, or not the session's). */
export async function ackEach(db: Queryable, sessionId: string, ids: string[]): Promise<Array<{ id: string; acknowledged: boolean }>> {
  if (ids.length === 0) return [];
  return query<{ id: string; acknowledged: boolean }>(db, 'ack',
    'SELECT id::text AS id, acknowledged FROM event.ack_each($1, $2::bigint[])', [sessionId, ids]);
}

export async function nackEvents(db: Queryable, sessionId: string, ids: string[], delayMs: number, error?: string): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await query<{ n: number }>(db, 'nack', 'SELECT event.nack($1, $2::bigint[], $3::interval, $4) AS n',
    [sessionId, ids, toInterval(delayMs), error ?? null]);
  return rows[0]!.n;
}
