import { query, type Queryable } from './query.js';

export type DeliveryOrder = 'strict' | 'parallel';

/** One row of event.stats(). */
export interface SessionStats {
  sessionId: string;
  /** Events deliverable now. */
  backlog: number;
  /** Events leased to a consumer or backing off after a nack. */
  inFlight: number;
  /** Dead letters. */
  dead: number;
  /** Age of the oldest queued event in milliseconds; null when the queue is empty. */
  oldestAgeMs: number | null;
  maxAttempts: number;
  deliveryOrder: DeliveryOrder;
}

/** event.stats(): one row per session the caller may see. */
export async function stats(db: Queryable): Promise<SessionStats[]> {
  const rows = await query<{ session_id: string; backlog: string; in_flight: string; dead: string; oldest_ms: string | null; max_attempts: number; delivery_order: DeliveryOrder }>(
    db, 'stats',
    `SELECT session_id, backlog, in_flight, dead, (extract(epoch FROM oldest_age) * 1000)::bigint AS oldest_ms,
            max_attempts, delivery_order FROM event.stats()`);
  return rows.map((row) => ({
    sessionId: row.session_id,
    backlog: Number(row.backlog),
    inFlight: Number(row.in_flight),
    dead: Number(row.dead),
    oldestAgeMs: row.oldest_ms === null ? null : Number(row.oldest_ms),
    maxAttempts: row.max_attempts,
    deliveryOrder: row.delivery_order,
  }));
}
