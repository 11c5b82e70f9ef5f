import type pg from 'pg';
import { z } from 'zod';
import type { AqeventError } from '../errors.js';
import type { DeliveredEvent } from '../events/schema.js';
import { assertPoolCanListen } from '../live/listener.js';
import { peekEvents, type PeekedEvent } from '../sql/peek.js';
import { durationOption, validate } from '../validate.js';
import { LiveQueue } from './live-queue.js';

export const followOptionsSchema = z.object({
  /** Only events whose timestamp is at or after this moment; older ones are skipped (they stay queued). */
  since: z.date().optional(),
  /** Look at least this often without a notification. Default 2s. */
  pollInterval: durationOption('pollInterval').default(2_000).refine((ms) => ms > 0, 'pollInterval must be longer than 0'),
  /** Longest wait between reconnect attempts. Default 5s. */
  maxReconnectDelay: durationOption('maxReconnectDelay').default(5_000),
  /** Ends the iteration (the loop then completes normally). */
  signal: z.instanceof(AbortSignal).optional(),
  /** Told about each transient failure (lost connection) before the retry. */
  onError: z.custom<(error: AqeventError) => void>((value) => typeof value === 'function').optional(),
}).strict();

export type FollowOptions = z.input<typeof followOptionsSchema>;

const PAGE = 1000;
const MAX_PER_WAKE = 500;

/**
 * Finds the queued events of a session not returned before, read with peek:
 * no lease is taken and no attempt counted.
 *
 * It scans the queue from its head rather than from the highest id seen:
 * ids are drawn when a writer's statement runs but become visible at commit,
 * so an event can appear below ids already returned. Ids returned (or
 * skipped by the filter) are remembered while they are queued; a complete
 * scan forgets those that left the queue. The cost is a read of the
 * session's queue per wake-up: fine for watching; to consume, use events().
 */
class QueueFollower {
  private readonly known = new Set<string>();
  private present = new Set<string>();
  private resumeAfter: string | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly sessionId: string,
    private readonly accept: (event: DeliveredEvent) => boolean,
  ) {}

  async next(max: number): Promise<PeekedEvent[]> {
    const fresh: PeekedEvent[] = [];
    let after = this.resumeAfter;
    if (after === undefined) this.present = new Set();
    for (;;) {
      const page = await peekEvents(this.pool, this.sessionId, PAGE, after ?? null);
      for (const event of page) {
        this.present.add(event.id);
        if (this.known.has(event.id)) continue;
        this.known.add(event.id);
        if (this.accept(event)) fresh.push(event);
      }
      if (page.length < PAGE) {
        for (const id of this.known) if (!this.present.has(id)) this.known.delete(id);
        this.resumeAfter = undefined;
        return fresh;
      }
      after = page.at(-1)!.id;
      if (fresh.length >= max) {
        this.resumeAfter = after;
        return fresh;
      }
    }
  }
}

/**
 * A read-only live follow of a session: its queued events (backlog), then
 * new ones as they are committed, each once, through the same reconnecting
 * LISTEN loop as events(). Never leases, acks or counts an attempt: the
 * events stay pending for the session's consumers.
 */
export function followEvents(pool: pg.Pool, sessionId: string, options?: FollowOptions): AsyncGenerator<PeekedEvent, void, undefined> {
  const settings = validate(followOptionsSchema, options ?? {}, 'follow options'); // checked now, not at the first next()
  assertPoolCanListen(pool, 'follow');
  const since = settings.since?.getTime();
  const follower = new QueueFollower(pool, sessionId, (event) => since === undefined || Date.parse(event.timestamp) >= since);
  const queue = new LiveQueue(pool, sessionId, {
    batchSize: MAX_PER_WAKE,
    leaseMs: 1, // nothing is leased
    pollMs: settings.pollInterval,
    maxReconnectDelayMs: settings.maxReconnectDelay,
    signal: settings.signal,
    onError: settings.onError,
    fetch: () => follower.next(MAX_PER_WAKE),
  });
  return followed(queue);
}

async function* followed(queue: LiveQueue): AsyncGenerator<PeekedEvent, void, undefined> {
  try {
    for (;;) {
      const batch = await queue.next();
      if (!batch) return;
      yield* batch as PeekedEvent[];
    }
  } finally {
    queue.close();
  }
}
