import type pg from 'pg';

/** A page of one session's pending events, read without leasing. */
export interface PendingPage {
  sessionId: string;
  /** False when the session does not exist for the reading role (deleted, expired, not its own). */
  exists: boolean;
  rows: Array<{ id: string; operation: string; event: string }>;
}

/** The statement's snapshot bounds (xid8 as bigint): what it could and could not see. */
export interface SnapshotBounds {
  xmin: bigint;
  xmax: bigint;
}

/**
 * One statement for many sessions: for each (sessionId, after) pair, at most
 * max pending events with a higher id, in id order, read without leasing.
 *
 * It calls event.peek_many for the sessions the role can see (in
 * event.session, under row-level security), which collects them all in one
 * pass and renders their events together; a session it cannot see is
 * reported as not existing instead of failing the statement. Returns the
 * statement's snapshot too.
 */
export async function pendingBatch(client: pg.ClientBase, cursors: ReadonlyArray<{ sessionId: string; after: string }>, max: number): Promise<{ pages: PendingPage[]; snapshot: SnapshotBounds }> {
  const { rows } = await client.query<{ xmin: string; xmax: string; sid: string | null; known: boolean; id: string | null; operation: string; event: string }>(
    `WITH c AS MATERIALIZED (
       SELECT u.sid, u.after, u.n, EXISTS (SELECT 1 FROM event.session s WHERE s.id = u.sid) AS known
       FROM unnest($1::uuid[], $2::bigint[]) WITH ORDINALITY AS u(sid, after, n)
     ), p AS MATERIALIZED (
       SELECT p.session_id, p.id, p.event
       FROM event.peek_many(ARRAY(SELECT c.sid FROM c WHERE c.known ORDER BY c.n), $3,
                            ARRAY(SELECT c.after FROM c WHERE c.known ORDER BY c.n)) p
     )
     SELECT pg_catalog.pg_snapshot_xmin(snap.s)::text AS xmin, pg_catalog.pg_snapshot_xmax(snap.s)::text AS xmax,
            c.sid::text AS sid, c.known, p.id::text AS id, p.event->>'operation' AS operation, p.event::text AS event
     FROM pg_catalog.pg_current_snapshot() AS snap(s)
     LEFT JOIN (c LEFT JOIN p ON p.session_id = c.sid) ON true
     ORDER BY c.n, p.id`,
    [cursors.map((c) => c.sessionId), cursors.map((c) => c.after), max]);
  const pages = new Map<string, PendingPage>(cursors.map((c) => [c.sessionId, { sessionId: c.sessionId, exists: true, rows: [] }]));
  for (const row of rows) {
    if (row.sid === null) continue;
    const page = pages.get(row.sid)!;
    page.exists = row.known;
    if (row.id !== null) page.rows.push({ id: row.id, operation: row.operation, event: row.event });
  }
  return { pages: [...pages.values()], snapshot: { xmin: BigInt(rows[0]!.xmin), xmax: BigInt(rows[0]!.xmax) } };
}
