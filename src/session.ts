import type pg from 'pg';
import { z } from 'zod';
import { type EventBatch, type StreamOptions, streamBatches, streamEvents } from './consumer/event-stream.js';
import { assertUuid } from './consumer/live-queue.js';
import {
  ackEvents, type DeadLetter, deadLetters, type DeliveryOrder, type EventRef, eventIds, fetchEvents, nackEvents, peekEvents,
  type PeekedEvent, requeue,
} from './delivery/operations.js';
import { fromPgError } from './errors.js';
import type { DeliveredEvent } from './events/schema.js';
import { parseColumn, parseKey, resolveTable, type RowKey, type TableTarget } from './targets.js';
import { toInterval } from './duration.js';
import { durationOption, validate } from './validate.js';
import { Worker, type WorkerHandler } from './worker/worker.js';
import type { WorkerOptions } from './worker/options.js';

const fetchOptionsSchema = z.object({
  max: z.number().int().min(1).max(10000).default(100),
  lease: durationOption('lease').default(30_000).refine((ms) => ms > 0, 'lease must be longer than 0'),
}).strict();
export type FetchOptions = z.input<typeof fetchOptionsSchema>;

const nackOptionsSchema = z.object({
  delay: durationOption('delay').default(0),
  error: z.string().optional(),
}).strict();
export type NackOptions = z.input<typeof nackOptionsSchema>;

const peekOptionsSchema = z.object({
  max: z.number().int().min(1).max(10000).default(100),
  /** Only events with a higher id (paging). */
  after: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative(), z.bigint().nonnegative()]).transform(String).optional(),
}).strict();
export type PeekOptions = z.input<typeof peekOptionsSchema>;

export const sessionSettingsSchema = z.object({
  /** Deliveries before an event becomes a dead letter (default 5). */
  maxAttempts: z.number().int().min(1).optional(),
  /** 'strict' (default): one batch in flight, id order. 'parallel': concurrent consumers. */
  deliveryOrder: z.enum(['strict', 'parallel']).optional(),
  /** Delete the session when it has not been attached for this long ("7d", "PT12H", ms); null: never. */
  ttl: durationOption('ttl').refine((ms) => ms > 0, 'ttl must be longer than 0').nullable().optional(),
}).strict();
export type SessionSettings = z.input<typeof sessionSettingsSchema>;

/**
 * A handle on one session: its subscriptions and its inbox. Cheap; holds no
 * connection (events() takes one for LISTEN while it runs).
 */
export class Session {
  constructor(/** The pool it uses (the client's). */ readonly pool: pg.Pool, readonly id: string) {
    assertUuid(id);
  }

  private async call<R extends pg.QueryResultRow>(what: string, sql: string, values: unknown[]): Promise<R | undefined> {
    try {
      return (await this.pool.query<R>(sql, [this.id, ...values])).rows[0];
    } catch (error) {
      throw fromPgError(error, what);
    }
  }

  private async subscribe(what: string, sql: string, values: unknown[]): Promise<string> {
    return (await this.call<{ id: string }>(what, `SELECT ${sql} AS id`, values))!.id;
  }

  /** Every change of the table. Returns the subscription id (the same one when subscribed already). */
  async subscribeTable(table: TableTarget): Promise<string> {
    const t = await resolveTable(this.pool, table);
    return this.subscribe('subscribe table', 'event.subscribe_table($1, meta.relation_id($2, $3))', [t.schema, t.table]);
  }

  /** Deletes and changes of one row (inserts have no row yet). key: its primary key value(s). */
  async subscribeRow(table: TableTarget, key: RowKey): Promise<string> {
    const t = await resolveTable(this.pool, table);
    return this.subscribe('subscribe row', 'event.subscribe_row($1, event.row_id($2, $3, $4::text[]))', [t.schema, t.table, parseKey(key)]);
  }

  /** Changes of one column of one row (and the row's deletion). */
  async subscribeField(table: TableTarget, key: RowKey, column: string): Promise<string> {
    const t = await resolveTable(this.pool, table);
    return this.subscribe('subscribe field',
      "event.subscribe_field($1, jsonb_build_object('row_id', event.row_id($2, $3, $4::text[])::jsonb, 'column_id', meta.column_id($2, $3, $5)::jsonb)::meta.field_id)",
      [t.schema, t.table, parseKey(key), parseColumn(column)]);
  }

  /** Inserts, deletes and changes of one column of the table. */
  async subscribeColumn(table: TableTarget, column: string): Promise<string> {
    const t = await resolveTable(this.pool, table);
    return this.subscribe('subscribe column', 'event.subscribe_column($1, meta.column_id($2, $3, $4))', [t.schema, t.table, parseColumn(column)]);
  }

  async unsubscribe(subscriptionId: string): Promise<void> {
    const id = validate(z.string().uuid(), subscriptionId, 'subscription id');
    try {
      await this.pool.query('SELECT event.unsubscribe($1)', [id]);
    } catch (error) {
      throw fromPgError(error, 'unsubscribe');
    }
  }

  /** Lease up to max (default 100) deliverable events, oldest first, for lease (default 30s). */
  async fetch(options?: FetchOptions): Promise<DeliveredEvent[]> {
    const { max, lease } = validate(fetchOptionsSchema, options ?? {}, 'fetch options');
    return fetchEvents(this.pool, this.id, max, lease);
  }

  /**
   * Look without taking: up to max (default 100) queued events in id order,
   * leased or not, read only. Unlike fetch, no lease and no attempt is counted.
   */
  async peek(options?: PeekOptions): Promise<PeekedEvent[]> {
    const { max, after } = validate(peekOptionsSchema, options ?? {}, 'peek options');
    return peekEvents(this.pool, this.id, max, after ?? null);
  }

  /** Done with these events: removed for good. Returns how many were still queued. */
  async ack(events: EventRef | readonly EventRef[]): Promise<number> {
    return ackEvents(this.pool, this.id, eventIds(events));
  }

  /** Not done: deliver again after delay (default now). Returns how many were still queued. */
  async nack(events: EventRef | readonly EventRef[], options?: NackOptions): Promise<number> {
    const { delay, error } = validate(nackOptionsSchema, options ?? {}, 'nack options');
    return nackEvents(this.pool, this.id, eventIds(events), delay, error);
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return deadLetters(this.pool, this.id);
  }

  /** Dead letters back into the queue at their old place, attempts reset. No argument: all of them. */
  async requeue(events?: EventRef | readonly EventRef[]): Promise<number> {
    return requeue(this.pool, this.id, events === undefined ? null : eventIds(events));
  }

  async configure(settings: SessionSettings): Promise<void> {
    const { maxAttempts, deliveryOrder, ttl } = validate(sessionSettingsSchema, settings, 'session settings');
    if (maxAttempts !== undefined) await this.call('set max attempts', 'SELECT event.set_max_attempts($1, $2)', [maxAttempts]);
    if (deliveryOrder !== undefined) await this.call('set delivery order', 'SELECT event.set_delivery_order($1, $2)', [deliveryOrder]);
    if (ttl !== undefined) await this.call('set ttl', 'SELECT event.session_set_ttl($1, $2::interval)', [ttl === null ? null : toInterval(ttl)]);
  }

  async settings(): Promise<{ maxAttempts: number; deliveryOrder: DeliveryOrder }> {
    const row = await this.call<{ max_attempts: number; delivery_order: DeliveryOrder }>('settings',
      'SELECT (event._require_session($1)).max_attempts, (event._require_session($1)).delivery_order', []);
    return { maxAttempts: row!.max_attempts, deliveryOrder: row!.delivery_order };
  }

  /** Marks the session detached (it keeps collecting events). */
  async detach(): Promise<void> {
    await this.call('detach', 'SELECT event.session_detach($1)', []);
  }

  /** Deletes the session, its subscriptions, queued events and dead letters. */
  async delete(): Promise<void> {
    await this.call('delete session', 'SELECT event.session_delete($1)', []);
  }

  /** `for await (const event of session.events())`: backlog first, then live. See StreamOptions. */
  events(options?: StreamOptions): AsyncGenerator<DeliveredEvent, void, undefined> {
    return streamEvents(this.pool, this.id, options);
  }

  /** Like events(), a batch (one fetch) at a time, to ack or nack as a whole. */
  batches(options?: StreamOptions): AsyncGenerator<EventBatch, void, undefined> {
    return streamBatches(this.pool, this.id, (ids, nackOptions) => this.nack(ids, nackOptions), options);
  }

  /** A Worker running handler for this session's events (not started: call start()). See Worker. */
  work(handler: WorkerHandler, options?: WorkerOptions): Worker {
    return new Worker(this, handler, options);
  }
}
