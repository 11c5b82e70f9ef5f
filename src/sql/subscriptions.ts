import { z } from 'zod';
import { validate } from '../validate.js';
import { query, type Queryable } from './query.js';

/** Subscriptions: event.subscribe_table / _row / _field / _column, unsubscribe, and the list of a session's. */

type Table = { schema: string; table: string };

/** What narrows a subscription (validated by the caller): a filter, payload columns, an initial snapshot. */
export interface SubscribeOptions {
  filter?: string | null;
  columns?: string[] | null;
  snapshot?: boolean;
}

async function subscribe(db: Queryable, what: string, call: string, values: unknown[]): Promise<string> {
  return (await query<{ id: string }>(db, what, `SELECT ${call} AS id`, values))[0]!.id;
}

export function subscribeTable(db: Queryable, sessionId: string, t: Table, o: SubscribeOptions = {}): Promise<string> {
  return subscribe(db, 'subscribe table',
    'event.subscribe_table($1, meta.relation_id($2, $3), filter => $4, columns => $5::text[], snapshot => $6)',
    [sessionId, t.schema, t.table, o.filter ?? null, o.columns ?? null, o.snapshot ?? false]);
}

export function subscribeRow(db: Queryable, sessionId: string, t: Table, key: string[], o: SubscribeOptions = {}): Promise<string> {
  return subscribe(db, 'subscribe row', 'event.subscribe_row($1, event.row_id($2, $3, $4::text[]), filter => $5, columns => $6::text[])',
    [sessionId, t.schema, t.table, key, o.filter ?? null, o.columns ?? null]);
}

export function subscribeField(db: Queryable, sessionId: string, t: Table, key: string[], column: string,
  o: SubscribeOptions = {}): Promise<string> {
  return subscribe(db, 'subscribe field',
    "event.subscribe_field($1, jsonb_build_object('row_id', event.row_id($2, $3, $4::text[])::jsonb, 'column_id', meta.column_id($2, $3, $5)::jsonb)::meta.field_id, filter => $6)",
    [sessionId, t.schema, t.table, key, column, o.filter ?? null]);
}

export function subscribeColumn(db: Queryable, sessionId: string, t: Table, column: string, o: SubscribeOptions = {}): Promise<string> {
  return subscribe(db, 'subscribe column', 'event.subscribe_column($1, meta.column_id($2, $3, $4), filter => $5, snapshot => $6)',
    [sessionId, t.schema, t.table, column, o.filter ?? null, o.snapshot ?? false]);
}

/** Removes a subscription by id; 42704 when unknown or not the caller's. */
export async function unsubscribe(db: Queryable, subscriptionId: string): Promise<void> {
  await query(db, 'unsubscribe', 'SELECT event.unsubscribe($1)', [subscriptionId]);
}

const subscriptionRow = z.object({
  id: z.string(),
  kind: z.enum(['table', 'row', 'field', 'column']),
  table: z.string(),
  key: z.array(z.string()).nullable(),
  column: z.string().nullable(),
  filter: z.string().nullable(),
  columns: z.array(z.string()).nullable(),
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
  /** The filter as PostgreSQL deparsed it, or null. */
  filter: string | null;
  /** The payload columns kept, or null for all. */
  columns: string[] | null;
  /** The subscribed identifier (meta.relation_id, row_id, field_id or column_id). */
  target: unknown;
  createdAt: Date;
}

/** A session's subscriptions, oldest first (event.subscription: row-level security shows only the caller's). */
export async function listSubscriptions(db: Queryable, sessionId: string): Promise<SubscriptionSummary[]> {
  const rows = await query(db, 'list subscriptions',
    `SELECT s.id, s.kind, format('%I.%I', n.nspname, c.relname) AS "table", s.pk_values AS key, s.column_name AS "column",
            s.filter, s.columns, s.target, s.created_at
     FROM event.subscription s
     JOIN pg_class c ON c.oid = s.relation_oid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE s.session_id = $1 ORDER BY s.created_at, s.id`, [sessionId]);
  return rows.map((r) => {
    const s = validate(subscriptionRow, r, 'subscription row');
    return { id: s.id, kind: s.kind, table: s.table, key: s.key, column: s.column, filter: s.filter, columns: s.columns, target: s.target, createdAt: s.created_at };
  });
}
