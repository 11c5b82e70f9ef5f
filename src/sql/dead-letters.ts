import { parseLosslessJson } from '../events/lossless-json.js';
import { withStoredText } from '../events/schema.js';
import { query, type Queryable } from './query.js';

/** An event given up on after max attempts. `event` is parsed, not validated: it may predate this version. */
export interface DeadLetter {
  id: string;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  diedAt: Date;
  event: unknown;
}

export async function deadLetters(db: Queryable, sessionId: string): Promise<DeadLetter[]> {
  const rows = await query<{ id: string; attempts: number; last_error: string | null; created_at: Date; died_at: Date; event: string }>(
    db, 'dead letters',
    'SELECT id::text AS id, attempts, last_error, created_at, died_at, event::text AS event FROM event.dead_letters($1)',
    [sessionId]);
  return rows.map((row) => ({
    id: row.id,
    attempts: row.attempts,
    lastError: row.last_error,
    createdAt: row.created_at,
    diedAt: row.died_at,
    event: storedEvent(row.event),
  }));
}

function storedEvent(text: string): unknown {
  const event = parseLosslessJson(text);
  return typeof event === 'object' && event !== null ? withStoredText(event, text) : event;
}

/** Dead letters back into the queue (ids null: all of them); returns how many. */
export async function requeue(db: Queryable, sessionId: string, ids: string[] | null): Promise<number> {
  return (await query<{ n: number }>(db, 'requeue', 'SELECT event.requeue($1, $2::bigint[]) AS n', [sessionId, ids]))[0]!.n;
}
