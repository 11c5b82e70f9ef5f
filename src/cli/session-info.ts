import type pg from 'pg';
import { z } from 'zod';
import { fromPgError } from '../errors.js';
import { validate } from '../validate.js';

/**
 * What `aqevent session list|show` reads: event.session (row-level security
 * shows only the caller's sessions), event.session_info and event.stats().
 * Not in the library: these are diagnostics over storage tables whose shape
 * may change (docs/sql-reference.md).
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
  delivery_order: z.string(),
  notify_payload: z.string(),
  overflowed_at: time,
  overflow_event_id: z.string().nullable(),
  events_dropped: count,
});

export interface SessionSummary {
  id: string;
  owner: string;
  createdAt: Date;
  lastAttachedAt: Date;
  detachedAt: Date | null;
  ttlMs: number | null;
  subscriptions: number;
  backlog: number;
  inFlight: number;
  dead: number;
  oldestAgeMs: number | null;
  maxAttempts: number;
  deliveryOrder: string;
  notifyPayload: string;
  overflowedAt: Date | null;
  overflowEventId: string | null;
  eventsDropped: number;
}

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

async function query(pool: pg.Pool, what: string, sql: string, values: unknown[]): Promise<unknown[]> {
  try {
    return (await pool.query(sql, values)).rows;
  } catch (error) {
    throw fromPgError(error, what);
  }
}

/** The caller's sessions, oldest first. */
export async function listSessions(pool: pg.Pool): Promise<SessionSummary[]> {
  return (await query(pool, 'list sessions', `${SESSIONS} ORDER BY s.created_at, s.id`, [])).map(toSummary);
}

const subscriptionRow = z.object({
  id: z.string(),
  kind: z.enum(['table', 'row', 'field', 'column']),
  table: z.string(),
  key: z.array(z.string()).nullable(),
  column: z.string().nullable(),
  target: z.unknown(),
  created_at: z.date(),
});

export interface SubscriptionSummary {
  id: string;
  kind: 'table' | 'row' | 'field' | 'column';
  /** schema.table, quoted where needed. */
  table: string;
  key: string[] | null;
  column: string | null;
  /** The subscribed identifier (meta.relation_id, row_id, field_id or column_id). */
  target: unknown;
  createdAt: Date;
}

export type SessionDetails = Omit<SessionSummary, 'subscriptions'> & { subscriptionCount: number; subscriptions: SubscriptionSummary[] };

/** One session with its subscriptions; SQLSTATE 42704 when it does not exist (or is not the caller's). */
export async function showSession(pool: pg.Pool, id: string): Promise<SessionDetails> {
  // session_info raises 42704 for an unknown session, before stats() would silently find nothing.
  await query(pool, 'show session', 'SELECT event.session_info($1)', [id]);
  const [row] = await query(pool, 'show session', `${SESSIONS} WHERE s.id = $1`, [id]);
  const subscriptions = (await query(pool, 'show session',
    `SELECT s.id, s.kind, format('%I.%I', n.nspname, c.relname) AS "table", s.pk_values AS key, s.column_name AS "column",
            s.target, s.created_at
     FROM event.subscription s
     JOIN pg_class c ON c.oid = s.relation_oid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE s.session_id = $1 ORDER BY s.created_at, s.id`, [id]))
    .map((r) => {
      const s = validate(subscriptionRow, r, 'subscription row');
      return { id: s.id, kind: s.kind, table: s.table, key: s.key, column: s.column, target: s.target, createdAt: s.created_at };
    });
  const summary = toSummary(row);
  return { ...summary, subscriptionCount: summary.subscriptions, subscriptions };
}

/** Removes a subscription by id (event.unsubscribe); 42704 when unknown or not the caller's. */
export async function unsubscribe(pool: pg.Pool, subscriptionId: string): Promise<void> {
  await query(pool, 'unsubscribe', 'SELECT event.unsubscribe($1)', [subscriptionId]);
}
