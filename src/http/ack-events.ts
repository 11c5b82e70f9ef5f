import type pg from 'pg';

const FETCH_MAX = 10000;

/**
 * Acknowledges exactly these events of the session, on a client already in a
 * transaction as the caller's role. event.ack removes queued events; events
 * still in capture chunks (never fetched) are not in event.queue yet, so a
 * fetch first makes them queue rows. Events that such a fetch takes but that
 * are not to be acknowledged are given back with event.release (their
 * delivery is not counted). Returns how many were acknowledged.
 */
export async function ackEvents(client: pg.ClientBase, sessionId: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { rows } = await client.query<{ n: number }>('SELECT event.ack($1, $2::bigint[]) AS n', [sessionId, ids]);
  let acked = rows[0]!.n;
  if (acked === ids.length) return acked;
  const wanted = new Set(ids);
  const giveBack: string[] = [];
  for (;;) {
    const fetched = await client.query<{ id: string }>(
      "SELECT id::text AS id FROM event.fetch_events($1, $2, interval '1 minute')", [sessionId, FETCH_MAX]);
    if (fetched.rows.length === 0) break;
    const mine = fetched.rows.filter((row) => wanted.has(row.id)).map((row) => row.id);
    giveBack.push(...fetched.rows.filter((row) => !wanted.has(row.id)).map((row) => row.id));
    if (mine.length === 0) break;
    acked += (await client.query<{ n: number }>('SELECT event.ack($1, $2::bigint[]) AS n', [sessionId, mine])).rows[0]!.n;
    if (fetched.rows.length < FETCH_MAX) break;
  }
  if (giveBack.length > 0) await client.query('SELECT event.release($1, $2::bigint[])', [sessionId, giveBack]);
  return acked;
}
