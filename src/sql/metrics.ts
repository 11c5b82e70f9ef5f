import { query, type Queryable } from './query.js';

/** One row of event.metrics(): a session's gauges and counters. */
export interface SessionMetrics {
  sessionId: string;
  /** The owning role's name; null when the role no longer exists. */
  owner: string | null;
  /** Events deliverable now. */
  backlog: number;
  /** Events leased or backing off after a nack. */
  inFlight: number;
  deadLetters: number;
  /** Age of the oldest pending event in milliseconds; null when none is pending. */
  oldestPendingMs: number | null;
  /** Events the session's reader made since the session was created. */
  eventsCaptured: number;
  /** Events acknowledged (event.ack, event.ack_each) since the session was created. */
  eventsAcknowledged: number;
  /** Events dropped past the pending cap since the last resume. */
  eventsDropped: number;
  subscriptions: number;
  overflowed: boolean;
}

/** event.metrics(): one row per session the caller may see, after collecting each. */
export async function sessionMetrics(db: Queryable): Promise<SessionMetrics[]> {
  const rows = await query<{
    session_id: string; owner: string | null; backlog: string; in_flight: string; dead_letters: string; oldest_ms: string | null;
    events_captured: string; events_acknowledged: string; events_dropped: string; subscriptions: string; overflowed: boolean;
  }>(db, 'metrics',
    `SELECT session_id, owner, backlog, in_flight, dead_letters,
            (extract(epoch FROM oldest_pending_age) * 1000)::bigint AS oldest_ms,
            events_captured, events_acknowledged, events_dropped, subscriptions, overflowed
     FROM event.metrics()`);
  return rows.map((row) => ({
    sessionId: row.session_id,
    owner: row.owner,
    backlog: Number(row.backlog),
    inFlight: Number(row.in_flight),
    deadLetters: Number(row.dead_letters),
    oldestPendingMs: row.oldest_ms === null ? null : Number(row.oldest_ms),
    eventsCaptured: Number(row.events_captured),
    eventsAcknowledged: Number(row.events_acknowledged),
    eventsDropped: Number(row.events_dropped),
    subscriptions: Number(row.subscriptions),
    overflowed: row.overflowed,
  }));
}
