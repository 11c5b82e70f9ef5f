import type pg from 'pg';
import type { AqeventError } from '../errors.js';
import type { DeliveredEvent } from '../events/schema.js';
import { retryTransient } from '../live/backoff.js';
import { Listener } from '../live/listener.js';
import { sessionWake } from '../live/session-wake.js';
import { fetchEvents } from '../sql/leases.js';
import { ackEvents, nackEvents } from '../sql/settle.js';

export interface LiveQueueSettings {
  batchSize: number;
  leaseMs: number;
  pollMs: number;
  maxReconnectDelayMs: number;
  signal?: AbortSignal;
  onError?: (error: AqeventError) => void;
  /** Replaces the leasing fetch, for followers that only look (session.follow()). */
  fetch?: () => Promise<DeliveredEvent[]>;
}

const SETTLE_ATTEMPTS = 6;

/**
 * The queue of one session as a source of batches: backlog first, then live.
 *
 * It LISTENs before every fetch that follows a (re)connect, and fetches
 * "whatever is deliverable" rather than "after id X", so an event committed
 * at any moment -- before, during or after the backlog drain -- is found by
 * a later fetch; there is no cursor to skip past it. Notifications only cut
 * the wait short: when they are lost (disconnect) the poll timer fetches
 * anyway, and lease ends and nack delays, which notify nobody, are found the
 * same way. Transient failures are retried with backoff (live/backoff.ts);
 * the queue in the database is the state, so nothing is lost by reconnecting.
 * Any other error ends next() with it.
 */
export class LiveQueue {
  private readonly listener: Listener;

  constructor(
    private readonly pool: pg.Pool,
    private readonly sessionId: string,
    private readonly settings: LiveQueueSettings,
  ) {
    this.listener = new Listener(pool, { ...sessionWake(sessionId), signal: settings.signal, onError: settings.onError });
  }

  /** The next non-empty batch, or undefined once closed or aborted. */
  async next(): Promise<DeliveredEvent[] | undefined> {
    const listener = this.listener;
    return this.retrying(async () => {
      for (;;) {
        if (listener.stopped) return undefined;
        await listener.connection();
        const seen = listener.count;
        const batch = await (this.settings.fetch?.() ?? fetchEvents(this.pool, this.sessionId, this.settings.batchSize, this.settings.leaseMs));
        if (batch.length > 0) return batch;
        if (listener.count === seen && listener.listening) await listener.wait(this.settings.pollMs);
      }
    }, () => listener.stopped);
  }

  /**
   * Acknowledge and return events, retrying through a short connection loss.
   * After SETTLE_ATTEMPTS failures it gives up (reported through onError):
   * the events then come back when their lease ends, as after a crash.
   */
  async settle(ackIds: string[], returnIds: string[]): Promise<void> {
    await this.retrying(async () => {
      await ackEvents(this.pool, this.sessionId, ackIds);
      ackIds = [];
      await nackEvents(this.pool, this.sessionId, returnIds, 0);
    }, (attempt) => attempt >= SETTLE_ATTEMPTS, true);
  }

  close(): void {
    this.listener.close();
  }

  /** retryTransient, dropping the listener after each failure (it LISTENs again on the next fetch). */
  private retrying<T>(step: () => Promise<T>, giveUp: (attempt: number) => boolean, untilTimeout = false): Promise<T | undefined> {
    return retryTransient(step, {
      maxDelayMs: this.settings.maxReconnectDelayMs,
      onError: (error) => {
        this.settings.onError?.(error);
        this.listener.drop();
      },
      giveUp,
      sleep: (ms) => this.listener.wait(ms, { untilTimeout }),
    });
  }
}
