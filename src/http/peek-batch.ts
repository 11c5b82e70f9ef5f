import type pg from 'pg';

/** A page of one session's pending events, read without leasing. */
export interface PeekedPage {
  sessionId: string;
  rows: Array<{ id: string; operation: string; event: string }>;
}

/**
 * One statement for many sessions: event.peek for each (sessionId, after)
 * pair, at most max events each, in id order. Runs on a client already set
 * to the readers' role.
 */
export async function peekBatch(client: pg.ClientBase, cursors: ReadonlyArray<{ sessionId: string; after: string | null }>, max: number): Promise<PeekedPage[]> {
  const { rows } = await client.query<{ sid: string; id: string; operation: string; event: string }>(
    `SELECT s.sid::text AS sid, p.id::text AS id, p.event->>'operation' AS operation, p.event::text AS event
     FROM unnest($1::uuid[], $2::bigint[]) WITH ORDINALITY AS s(sid, after, n)
     CROSS JOIN LATERAL event.peek(s.sid, $3, s.after) AS p
     ORDER BY s.n, p.id`,
    [cursors.map((c) => c.sessionId), cursors.map((c) => c.after), max]);
  const pages = new Map<string, PeekedPage>(cursors.map((c) => [c.sessionId, { sessionId: c.sessionId, rows: [] }]));
  for (const row of rows) pages.get(row.sid)!.rows.push({ id: row.id, operation: row.operation, event: row.event });
  return [...pages.values()];
}
