import type pg from 'pg';
import { z } from 'zod';
import { toInterval } from '../duration.js';
import { fromPgError } from '../errors.js';
import { type DeliveredEvent, type FetchedRow, toDeliveredEvent, withStoredText } from '../events/schema.js';
import { parseLosslessJson } from '../events/lossless-json.js';
import { validate } from '../validate.js';

/**
 * The SQL behind delivery, one statement each (docs/sql-reference.md,
 * "Delivery"). Callers validate options; these only bind values.
 */

/** Something that names an event: its id, or the event itself. */
export type EventRef = string | number | bigint | { readonly id: string | number | bigint };

const eventIdSchema = z.union([
  z.string().regex(/^\d+$/, 'an event id is a non-negative integer'),
  z.number().int().nonnegative(),
  z.bigint().nonnegative(),
]).transform(String);
const eventRefsSchema = z.array(z.union([eventIdSchema, z.object({ id: eventIdSchema }).transform((e) => e.id)]));

/** Event ids as the decimal strings PostgreSQL's bigint[] accepts. */
export function eventIds(refs: EventRef | readonly EventRef[]): string[] {
  return validate(eventRefsSchema, Array.isArray(refs) ? refs : [refs], 'event ids');
}

async function run<R extends pg.QueryResultRow>(pool: pg.Pool, what: string, sql: string, values: unknown[]): Promise<R[]> {
  try {
    return (await pool.query<R>(sql, values)).rows;
  } catch (error) {
    throw fromPgError(error, what);
  }
}

/**
 * Leases and acks commit without waiting for their WAL flush
 * (synchronous_commit = off for that one statement). Safe: a lease or ack
 * lost in a server crash only means the event is delivered again, which
 * at-least-once delivery allows; it halves the consumer's commit latency.
 */
const RELAXED_COMMIT = "(SELECT pg_catalog.set_config('synchronous_commit', 'off', true)) AS relaxed_commit";

export async function fetchEvents(pool: pg.Pool, sessionId: string, max: number, leaseMs: number): Promise<DeliveredEvent[]> {
  const rows = await run<FetchedRow>(pool, 'fetch',
    `SELECT f.id::text AS id, f.attempts, f.event::text AS event
     FROM ${RELAXED_COMMIT}, event.fetch_events($1, $2, $3::interval) AS f`,
    [sessionId, max, toInterval(leaseMs)]);
  return rows.map(toDeliveredEvent);
}

export async function ackEvents(pool: pg.Pool, sessionId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await run<{ n: number }>(pool, 'ack', `SELECT event.ack($1, $2::bigint[]) AS n FROM ${RELAXED_COMMIT}`, [sessionId, ids]);
  return rows[0]!.n;
}

export async function nackEvents(pool: pg.Pool, sessionId: string, ids: string[], delayMs: number, error?: string): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await run<{ n: number }>(pool, 'nack', 'SELECT event.nack($1, $2::bigint[], $3::interval, $4) AS n',
    [sessionId, ids, toInterval(delayMs), error ?? null]);
  return rows[0]!.n;
}

/** An event given up on after max attempts. `event` is parsed, not validated: it may predate this version. */
export interface DeadLetter {
  id: string;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  diedAt: Date;
  event: unknown;
}

export async function deadLetters(pool: pg.Pool, sessionId: string): Promise<DeadLetter[]> {
  const rows = await run<{ id: string; attempts: number; last_error: string | null; created_at: Date; died_at: Date; event: string }>(
    pool, 'dead letters',
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

/** A queued event seen without leasing it: attempts so far, and until when it is leased (null: deliverable). */
export type PeekedEvent = DeliveredEvent & { readonly leasedUntil: Date | null };

/** Up to max queued events after afterId, in id order, read only (event.peek): no lease, no attempt counted. */
export async function peekEvents(pool: pg.Pool, sessionId: string, max: number, afterId: string | null): Promise<PeekedEvent[]> {
  const rows = await run<FetchedRow & { visible_at: Date | null }>(pool, 'peek',
    'SELECT id::text AS id, attempts, visible_at, event::text AS event FROM event.peek($1, $2, $3::bigint)',
    [sessionId, max, afterId]);
  const now = Date.now();
  return rows.map((row) => {
    const event = toDeliveredEvent(row);
    const leasedUntil = row.visible_at !== null && row.visible_at.getTime() > now ? row.visible_at : null;
    return withStoredText({ ...event, leasedUntil }, row.event);
  });
}

export async function requeue(pool: pg.Pool, sessionId: string, ids: string[] | null): Promise<number> {
  const rows = await run<{ n: number }>(pool, 'requeue', 'SELECT event.requeue($1, $2::bigint[]) AS n', [sessionId, ids]);
  return rows[0]!.n;
}

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

export type DeliveryOrder = 'strict' | 'parallel';

export async function stats(pool: pg.Pool): Promise<SessionStats[]> {
  const rows = await run<{ session_id: string; backlog: string; in_flight: string; dead: string; oldest_ms: string | null; max_attempts: number; delivery_order: DeliveryOrder }>(
    pool, 'stats',
    `SELECT session_id, backlog, in_flight, dead, (extract(epoch FROM oldest_age) * 1000)::bigint AS oldest_ms,
            max_attempts, delivery_order FROM event.stats()`, []);
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
