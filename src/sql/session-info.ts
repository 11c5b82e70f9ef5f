import { z } from 'zod';
import { validate } from '../validate.js';
import { query, type Queryable } from './query.js';
import { listSubscriptions, type SubscriptionSummary } from './subscriptions.js';

/**
 * What a session is and holds: event.session (row-level security shows only
 * the caller's sessions) with event.session_info and event.stats().
 */

const count = z.union([z.string(), z.number()]).transform(Number);
const time = z.date().nullable();

const sessionRow = z.object({
  id: z.string(),
  owner: z.string(),
  created_at: z.date(),
  last_attached_at: z.date(),
  detached_at: time,
  ttl_ms: count.nullable(),
  subscriptions: count,
  backlog: count,
  in_flight: count,
  dead: count,
  oldest_age_ms: count.nullable(),
  max_attempts: z.number(),
  delivery_order: z.enum(['strict', 'parallel']),
  notify_payload: z.string(),
  overflowed_at: time,
  overflow_event_id: z.string().nullable(),
  events_dropped: count,
});

/** One session as aq.sessions() lists it: state, settings and queue counts. */
export interface SessionSummary {
  id: string;
  owner: string;
  createdAt: Date;
  lastAttachedAt: Date;
  detachedAt: Date | null;
  ttlMs: number | null;
  /** How many subscriptions it has. */
  subscriptions: number;
  /** Events deliverable now. */
  backlog: number;
  /** Events leased or backing off after a nack. */
  inFlight: number;
  dead: number;
  oldestAgeMs: number | null;
  maxAttempts: number;
  deliveryOrder: 'strict' | 'parallel';
  notifyPayload: string;
  overflowedAt: Date | null;
  overflowEventId: string | null;
  eventsDropped: number;
}

/** session.info(): the summary with the subscriptions themselves. */
export type SessionDetails = Omit<SessionSummary, 'subscriptions'> & { subscriptionCount: number; subscriptions: SubscriptionSummary[] };

const SESSIONS = `
  SELECT s.id, i.owner_role AS owner, s.created_at, s.last_attached_at, s.detached_at,
         (extract(epoch FROM s.ttl) * 1000)::bigint AS ttl_ms, i.subscriptions,
         st.backlog, st.in_flight, st.dead, (extract(epoch FROM st.oldest_age) * 1000)::bigint AS oldest_age_ms,
         st.max_attempts, st.delivery_order, i.notify_payload, i.overflowed_at,
         i.overflow_event_id::text AS overflow_event_id, i.events_dropped
  FROM event.stats() st
  JOIN event.session s ON s.id = st.session_id
  CROSS JOIN LATERAL event.session_info(s.id) i`;

function toSummary(row: unknown): SessionSummary {
  const r = validate(sessionRow, row, 'session row');
  return {
    id: r.id, owner: r.owner, createdAt: r.created_at, lastAttachedAt: r.last_attached_at, detachedAt: r.detached_at,
    ttlMs: r.ttl_ms, subscriptions: r.subscriptions, backlog: r.backlog, inFlight: r.in_flight, dead: r.dead,
    oldestAgeMs: r.oldest_age_ms, maxAttempts: r.max_attempts, deliveryOrder: r.delivery_order,
    notifyPayload: r.notify_payload, overflowedAt: r.overflowed_at, overflowEventId: r.overflow_event_id, eventsDropped: r.events_dropped,
  };
}

/** The caller's sessions, oldest first. */
export async function listSessions(db: Queryable): Promise<SessionSummary[]> {
  return (await query(db, 'list sessions', `${SESSIONS} ORDER BY s.created_at, s.id`)).map(toSummary);
}

/** One session with its subscriptions; SQLSTATE 42704 when it does not exist (or is not the caller's). */
export async function sessionInfo(db: Queryable, sessionId: string): Promise<SessionDetails> {
  // session_info raises 42704 for an unknown session, before stats() would silently find nothing.
  await query(db, 'session info', 'SELECT event.session_info($1)', [sessionId]);
  const [row] = await query(db, 'session info', `${SESSIONS} WHERE s.id = $1`, [sessionId]);
  const summary = toSummary(row);
  return { ...summary, subscriptionCount: summary.subscriptions, subscriptions: await listSubscriptions(db, sessionId) };
}
