import { toInterval } from '../duration.js';
import { query, type Queryable } from './query.js';
import type { DeliveryOrder } from './stats.js';

/** The life and settings of a session: event.session_create, _attach, _detach, _delete, set_*. */

export async function createSession(db: Queryable): Promise<string> {
  return (await query<{ id: string }>(db, 'create session', 'SELECT event.session_create() AS id'))[0]!.id;
}

/** Marks the session attached; 42704 when it does not exist (or is not the caller's). */
export async function attachSession(db: Queryable, sessionId: string): Promise<void> {
  await query(db, 'attach session', 'SELECT event.session_attach($1)', [sessionId]);
}

export async function detachSession(db: Queryable, sessionId: string): Promise<void> {
  await query(db, 'detach', 'SELECT event.session_detach($1)', [sessionId]);
}

export async function deleteSession(db: Queryable, sessionId: string): Promise<void> {
  await query(db, 'delete session', 'SELECT event.session_delete($1)', [sessionId]);
}

export async function setMaxAttempts(db: Queryable, sessionId: string, maxAttempts: number): Promise<void> {
  await query(db, 'set max attempts', 'SELECT event.set_max_attempts($1, $2)', [sessionId, maxAttempts]);
}

export async function setDeliveryOrder(db: Queryable, sessionId: string, order: DeliveryOrder): Promise<void> {
  await query(db, 'set delivery order', 'SELECT event.set_delivery_order($1, $2)', [sessionId, order]);
}

/** ttlMs null: the session never expires. */
export async function setTtl(db: Queryable, sessionId: string, ttlMs: number | null): Promise<void> {
  await query(db, 'set ttl', 'SELECT event.session_set_ttl($1, $2::interval)', [sessionId, ttlMs === null ? null : toInterval(ttlMs)]);
}

export async function sessionSettings(db: Queryable, sessionId: string): Promise<{ maxAttempts: number; deliveryOrder: DeliveryOrder }> {
  const [row] = await query<{ max_attempts: number; delivery_order: DeliveryOrder }>(db, 'settings',
    'SELECT (event._require_session($1)).max_attempts, (event._require_session($1)).delivery_order', [sessionId]);
  return { maxAttempts: row!.max_attempts, deliveryOrder: row!.delivery_order };
}
