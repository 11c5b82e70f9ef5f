/** Helpers for tests of schema changes as events of the meta views. */
import type pg from 'pg';
import { newSession, queued, type QueuedEvent } from './events.js';

/** The dotted name a meta id stands for: schema, schema.relation, schema.relation.column. */
export function metaName(id: Record<string, any> | null | undefined): string {
  if (!id) return '?';
  if (id.relation_id) return `${metaName(id.relation_id)}.${id.name}`;
  if (id.schema_id) return `${id.schema_id.name}.${id.name}`;
  return String(id.name);
}

/** [operation, meta view, object name, payload] of an event of a meta view. */
export function ddlSummary(event: QueuedEvent): [string, string, string, unknown] {
  const key = event.row_id?.pk_value;
  const id = key ? JSON.parse(key) : null;
  const payload = event.operation === 'row_insert' || event.operation === 'row_delete'
    ? { ...event.payload, id: undefined, relation_id: undefined, schema_id: undefined } : event.payload;
  if (payload && typeof payload === 'object') {
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  }
  return [event.operation, `meta.${event.relation_id.name}`, metaName(id), payload];
}

/** A session subscribed to the given meta views (all three by default). */
export async function metaSession(pool: pg.Pool, views = ['schema', 'relation', 'column']): Promise<string> {
  const session = await newSession(pool);
  for (const view of views) {
    await pool.query("SELECT event.subscribe_table($1, meta.relation_id('meta', $2))", [session, view]);
  }
  return session;
}

/** The session's events as summaries, acknowledged so that the next call starts afresh. */
export async function takeDdl(pool: pg.Pool, session: string): Promise<Array<[string, string, string, unknown]>> {
  const events = await queued(pool, session);
  if (events.length) await pool.query('SELECT event.ack($1, $2::bigint[])', [session, events.map((e) => e.id)]);
  return events.map(ddlSummary);
}
