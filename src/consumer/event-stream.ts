import type pg from 'pg';
import { z } from 'zod';
import type { AqeventError } from '../errors.js';
import type { DeliveredEvent } from '../events/schema.js';
import { durationOption, validate } from '../validate.js';
import { assertPoolCanListen } from '../live/listener.js';
import { LiveQueue } from './live-queue.js';

export const streamOptionsSchema = z.object({
  /** Events per fetch (1–10000). Default 100. */
  batchSize: z.number().int().min(1).max(10000).default(100),
  /** How long fetched events stay invisible to other consumers. Default 30s. */
  lease: durationOption('lease').default(30_000).refine((ms) => ms > 0, 'lease must be longer than 0'),
  /** Fetch at least this often even without a notification. Default 2s. */
  pollInterval: durationOption('pollInterval').default(2_000).refine((ms) => ms > 0, 'pollInterval must be longer than 0'),
  /** Longest wait between reconnect attempts. Default 5s. */
  maxReconnectDelay: durationOption('maxReconnectDelay').default(5_000),
  /**
   * 'auto' (default): an event (or batch) is acknowledged once the loop asks
   * for the next one, i.e. after the loop body finished with it; acks of a
   * batch go to the database in one statement. 'manual': call ack/nack.
   */
  ack: z.enum(['auto', 'manual']).default('auto'),
  /** Ends the iteration (the loop then completes normally). */
  signal: z.instanceof(AbortSignal).optional(),
  /** Told about each transient failure (lost connection) before the retry. */
  onError: z.custom<(error: AqeventError) => void>((value) => typeof value === 'function').optional(),
}).strict();

export type StreamOptions = z.input<typeof streamOptionsSchema>;

/** A fetched batch, as session.batches() yields it. */
export interface EventBatch {
  readonly events: readonly DeliveredEvent[];
  /** Acknowledge every event of the batch (one statement). */
  ack(): Promise<void>;
  /** Return every event of the batch, for delivery again after delay (default now). */
  nack(options?: { delay?: string | number; error?: string }): Promise<void>;
}

type Nack = (ids: string[], options?: { delay?: string | number; error?: string }) => Promise<unknown>;

interface Opened {
  queue: LiveQueue;
  auto: boolean;
}

function open(pool: pg.Pool, sessionId: string, options: StreamOptions | undefined): Opened {
  const settings = validate(streamOptionsSchema, options ?? {}, 'stream options');
  assertPoolCanListen(pool, 'stream');
  const queue = new LiveQueue(pool, sessionId, {
    batchSize: settings.batchSize,
    leaseMs: settings.lease,
    pollMs: settings.pollInterval,
    maxReconnectDelayMs: settings.maxReconnectDelay,
    signal: settings.signal,
    onError: settings.onError,
  });
  return { queue, auto: settings.ack === 'auto' };
}

/**
 * Events one by one: the backlog, then live ones as they are committed.
 * Leaving the loop early (break, throw) returns the current event and the
 * rest of its batch to the queue for immediate redelivery; in 'auto' mode
 * the events finished before it are acknowledged.
 */
export function streamEvents(pool: pg.Pool, sessionId: string, options?: StreamOptions): AsyncGenerator<DeliveredEvent, void, undefined> {
  return eventsOf(open(pool, sessionId, options)); // options are checked now, not at the first next()
}

async function* eventsOf({ queue, auto }: Opened): AsyncGenerator<DeliveredEvent, void, undefined> {
  try {
    for (;;) {
      const batch = await queue.next();
      if (!batch) return;
      let position = 0;
      try {
        for (; position < batch.length; position++) yield batch[position]!;
      } finally {
        const finished = auto ? batch.slice(0, position) : [];
        // In manual mode the current event is the caller's to settle.
        const unseen = batch.slice(auto ? position : position + 1);
        await queue.settle(finished.map((e) => e.id), unseen.map((e) => e.id));
      }
    }
  } finally {
    queue.close();
  }
}

/** Batches: like streamEvents, a whole fetch at a time. */
export function streamBatches(pool: pg.Pool, sessionId: string, nack: Nack, options?: StreamOptions): AsyncGenerator<EventBatch, void, undefined> {
  return batchesOf(open(pool, sessionId, options), nack);
}

async function* batchesOf({ queue, auto }: Opened, nack: Nack): AsyncGenerator<EventBatch, void, undefined> {
  try {
    for (;;) {
      const events = await queue.next();
      if (!events) return;
      const ids = events.map((e) => e.id);
      let settled = false;
      let completed = false;
      const batch: EventBatch = {
        events,
        async ack() {
          await queue.settle(ids, []);
          settled = true;
        },
        async nack(nackOptions) {
          await nack(ids, nackOptions);
          settled = true;
        },
      };
      try {
        yield batch;
        completed = true;
      } finally {
        if (!settled && auto) await queue.settle(completed ? ids : [], completed ? [] : ids);
      }
    }
  } finally {
    queue.close();
  }
}
