import pg from 'pg';
import { LISTEN_SQL, WAKE_CHANNEL } from '../../src/db/wake.js';

export type QueuedEvent = Record<string, any> & { id: number; operation: string };

/** The events in a session's inbox, oldest first. */
export async function queued(pool: pg.Pool | pg.Client, sessionId: string): Promise<QueuedEvent[]> {
  const { rows } = await pool.query<{ event: QueuedEvent }>(
    'SELECT event FROM event.pending_event WHERE session_id = $1 ORDER BY id', [sessionId]);
  return rows.map((row) => row.event);
}

export async function newSession(pool: pg.Pool | pg.Client): Promise<string> {
  const { rows } = await pool.query<{ id: string }>('SELECT event.session_create() AS id');
  return rows[0]!.id;
}

/** A compact, comparable summary: operation, key, payload. */
export function summary(event: QueuedEvent): [string, unknown, unknown] {
  return [event.operation, event.row_id?.pk_value ?? null, event.payload];
}

/** Collects NOTIFY payloads on a channel until `count` arrived (or the deadline). */
/**
 * A connection in LISTEN on the wake-up channel, registered as a listener (so
 * that writers notify): collects payloads (table oids), one per changed table
 * and transaction.
 */
export async function listen(url: string): Promise<{
  next(count: number, timeoutMs?: number): Promise<string[]>;
  close(): Promise<void>;
}> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const payloads: string[] = [];
  const waiters: Array<() => void> = [];
  client.on('notification', (message) => {
    if (message.channel === WAKE_CHANNEL) payloads.push(message.payload ?? '');
    waiters.splice(0).forEach((wake) => wake());
  });
  await client.query(LISTEN_SQL);
  return {
    async next(count: number, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (payloads.length < count && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, Math.max(1, deadline - Date.now()));
        });
      }
      return payloads.splice(0, count);
    },
    close: () => client.end(),
  };
}

/** The oid of a table, as notifications carry it. */
export async function oidOf(db: pg.Pool, table: string): Promise<string> {
  return (await db.query('SELECT $1::regclass::oid::text AS oid', [table])).rows[0].oid;
}

/** Acknowledges every pending event of a session (what it has collected and what it would collect). */
export async function clearInbox(db: pg.Pool | pg.Client | pg.PoolClient, sessionId: string): Promise<void> {
  await db.query('SELECT event.ack($1, ARRAY(SELECT id FROM event.queue WHERE session_id = $1))', [sessionId]);
}
