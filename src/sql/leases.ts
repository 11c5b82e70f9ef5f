import { toInterval } from '../duration.js';
import { type DeliveredEvent, type FetchedRow, toDeliveredEvent } from '../events/schema.js';
import { query, type Queryable, RELAXED_COMMIT } from './query.js';

/** Leasing: event.fetch_events, extend_lease and release (docs/sql-reference.md, "Delivery"). */

export async function fetchEvents(db: Queryable, sessionId: string, max: number, leaseMs: number): Promise<DeliveredEvent[]> {
  const rows = await query<FetchedRow>(db, 'fetch',
    `SELECT f.id::text AS id, f.attempts, f.event::text AS event
     FROM ${RELAXED_COMMIT}, event.fetch_events($1, $2, $3::interval) AS f`,
    [sessionId, max, toInterval(leaseMs)]);
  return rows.map(toDeliveredEvent);
}

/**
 * The same lease, in a caller's transaction (the pg-boss bridge): the rows
 * as stored, the event JSON unparsed, committed with the caller's durability.
 */
export async function fetchEventRows(db: Queryable, sessionId: string, max: number, leaseMs: number): Promise<Array<{ id: string; event: string }>> {
  return query<{ id: string; event: string }>(db, 'fetch',
    'SELECT id::text AS id, event::text AS event FROM event.fetch_events($1, $2, $3::interval)', [sessionId, max, toInterval(leaseMs)]);
}

/** Renews the leases still running; returns the ids extended (a missing one lost its lease). */
export async function extendLease(db: Queryable, sessionId: string, ids: string[], leaseMs: number): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await query<{ id: string }>(db, 'extend lease',
    'SELECT id::text AS id FROM event.extend_lease($1, $2::bigint[], $3::interval) AS id', [sessionId, ids, toInterval(leaseMs)]);
  return new Set(rows.map((row) => row.id));
}

/** Gives back leased events never handled: deliverable now, the attempt not counted. */
export async function releaseEvents(db: Queryable, sessionId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return (await query<{ n: number }>(db, 'release', 'SELECT event.release($1, $2::bigint[]) AS n', [sessionId, ids]))[0]!.n;
}
