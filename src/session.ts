import type pg from 'pg';
import { z } from 'zod';
import { type EventBatch, type StreamOptions, streamBatches, streamEvents } from './consumer/event-stream.js';
import { type FollowOptions, followEvents } from './consumer/follow.js';
import type { DeliveredEvent } from './events/schema.js';
import { type EventRef, eventIds } from './events/refs.js';
import { type DeadLetter, deadLetters, requeue } from './sql/dead-letters.js';
import { fetchEvents } from './sql/leases.js';
import { peekEvents, type PeekedEvent } from './sql/peek.js';
import { type SessionDetails, sessionInfo } from './sql/session-info.js';
import {
  deleteSession, detachSession, sessionSettings, setDeliveryOrder, setMaxAttempts, setTtl,
} from './sql/sessions.js';
import { ackEach, ackEvents, nackEvents } from './sql/settle.js';
import type { DeliveryOrder } from './sql/stats.js';
import { subscribeColumn, subscribeField, subscribeRow, subscribeTable, unsubscribe } from './sql/subscriptions.js';
import { resolveTable } from './sql/tables.js';
import { parseColumn, parseKey, type RowKey, type TableTarget } from './targets.js';
import { durationOption, parseUuid, validate } from './validate.js';
import { Worker, type WorkerHandler } from './worker/worker.js';
import type { WorkerOptions } from './worker/options.js';

const fetchOptionsSchema = z.object({
  max: z.number().int().min(1).max(10000).default(100),
  lease: durationOption('lease').default(30_000).refine((ms) => ms > 0, 'lease must be longer than 0'),
}).strict();
export type FetchOptions = z.input<typeof fetchOptionsSchema>;

const subscribeOptionsSchema = z.object({
  /** A boolean SQL expression over the table's columns (docs/concepts.md, "Filters"). */
  filter: z.string().min(1).nullish(),
  /** The payload columns to keep (field_updates of others are not delivered). */
  columns: z.array(z.string().min(1)).min(1).nullish(),
  /** Deliver the current rows first (table and column grains). */
  snapshot: z.boolean().optional(),
}).strict();
export type SubscribeOptions = z.input<typeof subscribeOptionsSchema>;

function subscribeOptions(options: SubscribeOptions | undefined, allowed: Array<keyof SubscribeOptions>): SubscribeOptions {
  const parsed = validate(subscribeOptionsSchema, options ?? {}, 'subscribe options');
  for (const key of Object.keys(parsed) as Array<keyof SubscribeOptions>) {
    if (!allowed.includes(key) && parsed[key] !== undefined && parsed[key] !== null && parsed[key] !== false) {
      throw new TypeError(`subscribe options: ${key} is not available at this grain (only ${allowed.join(', ')})`);
    }
  }
  return parsed;
}

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
  /** The session's uuid (lower case). */
  readonly id: string;

  constructor(/** The pool it uses (the client's). */ readonly pool: pg.Pool, id: string) {
    this.id = parseUuid(id);
  }

  /** Every change of the table. Returns the subscription id (the same one when subscribed already). */
  async subscribeTable(table: TableTarget, options?: SubscribeOptions): Promise<string> {
    const o = subscribeOptions(options, ['filter', 'columns', 'snapshot']);
    return subscribeTable(this.pool, this.id, await resolveTable(this.pool, table), o);
  }

  /** Deletes and changes of one row (inserts have no row yet). key: its primary key value(s). */
  async subscribeRow(table: TableTarget, key: RowKey, options?: SubscribeOptions): Promise<string> {
    const o = subscribeOptions(options, ['filter', 'columns']);
    return subscribeRow(this.pool, this.id, await resolveTable(this.pool, table), parseKey(key), o);
  }

  /** Changes of one column of one row (and the row's deletion). */
  async subscribeField(table: TableTarget, key: RowKey, column: string, options?: SubscribeOptions): Promise<string> {
    const o = subscribeOptions(options, ['filter']);
    return subscribeField(this.pool, this.id, await resolveTable(this.pool, table), parseKey(key), parseColumn(column), o);
  }

  /** Inserts, deletes and changes of one column of the table. */
  async subscribeColumn(table: TableTarget, column: string, options?: SubscribeOptions): Promise<string> {
    const o = subscribeOptions(options, ['filter', 'snapshot']);
    return subscribeColumn(this.pool, this.id, await resolveTable(this.pool, table), parseColumn(column), o);
  }

  /** Removes a subscription (its queued events stay). Same as aq.unsubscribe(). */
  async unsubscribe(subscriptionId: string): Promise<void> {
    await unsubscribe(this.pool, parseUuid(subscriptionId, 'subscription id'));
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

  /** Like ack(), per id: which were acknowledged now, and which were not pending (acked before, or unknown). */
  async ackEach(events: EventRef | readonly EventRef[]): Promise<Array<{ id: string; acknowledged: boolean }>> {
    return ackEach(this.pool, this.id, eventIds(events));
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
    if (maxAttempts !== undefined) await setMaxAttempts(this.pool, this.id, maxAttempts);
    if (deliveryOrder !== undefined) await setDeliveryOrder(this.pool, this.id, deliveryOrder);
    if (ttl !== undefined) await setTtl(this.pool, this.id, ttl);
  }

  async settings(): Promise<{ maxAttempts: number; deliveryOrder: DeliveryOrder }> {
    return sessionSettings(this.pool, this.id);
  }

  /**
   * What the session is and holds: owner, state, ttl, settings, the counts
   * of event.stats() (backlog, inFlight, dead, oldestAgeMs), overflow state
   * and its subscriptions. 42704 when it does not exist or is not the caller's.
   */
  async info(): Promise<SessionDetails> {
    return sessionInfo(this.pool, this.id);
  }

  /** Marks the session detached (it keeps collecting events). */
  async detach(): Promise<void> {
    await detachSession(this.pool, this.id);
  }

  /** Deletes the session, its subscriptions, queued events and dead letters. */
  async delete(): Promise<void> {
    await deleteSession(this.pool, this.id);
  }

  /** `for await (const event of session.events())`: backlog first, then live. See StreamOptions. */
  events(options?: StreamOptions): AsyncGenerator<DeliveredEvent, void, undefined> {
    return streamEvents(this.pool, this.id, options);
  }

  /** Like events(), a batch (one fetch) at a time, to ack or nack as a whole. */
  batches(options?: StreamOptions): AsyncGenerator<EventBatch, void, undefined> {
    return streamBatches(this.pool, this.id, (ids, nackOptions) => this.nack(ids, nackOptions), options);
  }

  /**
   * Read-only live follow: the queued events (backlog, leased ones included),
   * then new ones as they are committed, each once. Never leases, acks or
   * counts an attempt: every event stays pending for the consumers. Ends
   * when options.signal aborts. See FollowOptions.
   */
  follow(options?: FollowOptions): AsyncGenerator<PeekedEvent, void, undefined> {
    return followEvents(this.pool, this.id, options);
  }

  /** A Worker running handler for this session's events (not started: call start()). See Worker. */
  work(handler: WorkerHandler, options?: WorkerOptions): Worker {
    return new Worker(this, handler, options);
  }
}
