import type pg from 'pg';
import { AqeventError, fromPgError } from '../errors.js';
import { ackEvents, fetchEvents, nackEvents } from '../delivery/operations.js';
import type { DeliveredEvent } from '../events/schema.js';
import { LISTEN_SQL } from '../db/wake.js';

export interface LiveQueueSettings {
  batchSize: number;
  leaseMs: number;
  pollMs: number;
  maxReconnectDelayMs: number;
  signal?: AbortSignal;
  onError?: (error: AqeventError) => void;
  /** Replaces the leasing fetch, for followers that only look (the CLI's tail without --ack). */
  fetch?: () => Promise<DeliveredEvent[]>;
}

/** SQLSTATEs after which waiting and trying again is right: connection loss, shutdown, overload, lock conflicts. */
const TRANSIENT = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01', '55P03']);

export function isTransient(error: AqeventError): boolean {
  return error.code === 'connection' || (error.sqlstate !== undefined && (error.sqlstate.startsWith('08') || TRANSIENT.has(error.sqlstate)));
}

const FIRST_RETRY_MS = 50;
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
 * same way. Connection failures are retried with exponential backoff; the
 * queue in the database is the state, so nothing is lost by reconnecting.
 */
export class LiveQueue {
  private listener: pg.PoolClient | undefined;
  private notified = 0;
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly sessionId: string,
    private readonly settings: LiveQueueSettings,
  ) {
    settings.signal?.addEventListener('abort', () => this.wake?.(), { once: true });
  }

  private get stopped(): boolean {
    return this.closed || this.settings.signal?.aborted === true;
  }

  /** The next non-empty batch, or undefined once closed or aborted. */
  async next(): Promise<DeliveredEvent[] | undefined> {
    return this.retrying(async () => {
      for (;;) {
        if (this.stopped) return undefined;
        await this.listen();
        const seen = this.notified;
        const batch = await (this.settings.fetch?.() ?? fetchEvents(this.pool, this.sessionId, this.settings.batchSize, this.settings.leaseMs));
        if (batch.length > 0) return batch;
        if (this.notified === seen && this.listener) await this.sleep(this.settings.pollMs);
      }
    });
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
    }, SETTLE_ATTEMPTS);
  }

  close(): void {
    this.closed = true;
    this.dropListener();
    this.wake?.();
  }

  /** Runs step until it succeeds; transient failures wait and retry. maxAttempts: give up after that many (settle). */
  private async retrying<T>(step: () => Promise<T>, maxAttempts?: number): Promise<T | undefined> {
    let delay = FIRST_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await step();
      } catch (caught) {
        const error = fromPgError(caught);
        if (!isTransient(error)) throw error;
        this.settings.onError?.(error);
        this.dropListener();
        if (maxAttempts === undefined ? this.stopped : attempt >= maxAttempts) return undefined;
        await this.sleep(delay, maxAttempts !== undefined);
        delay = Math.min(delay * 2, this.settings.maxReconnectDelayMs);
      }
    }
  }

  private async listen(): Promise<void> {
    if (this.listener) return;
    const client = await this.pool.connect();
    const drop = () => {
      if (this.listener === client) this.dropListener(true);
    };
    client.on('notification', () => {
      this.notified++;
      this.wake?.();
    });
    client.on('error', (error: unknown) => {
      this.settings.onError?.(fromPgError(error, 'listener connection lost'));
      drop();
    });
    client.on('end', drop);
    this.listener = client;
    try {
      await client.query(LISTEN_SQL);
    } catch (error) {
      this.dropListener(true);
      throw error;
    }
  }

  private dropListener(broken = true): void {
    const client = this.listener;
    if (!client) return;
    this.listener = undefined;
    // A broken client must not go back to the pool; a healthy one is still
    // LISTENing, so it is not given back either.
    client.removeAllListeners('notification');
    client.on('error', () => {});
    client.release(broken);
    this.wake?.();
  }

  /** Waits ms, or less: until a notification, a lost listener, close or abort (unless ignoreStop). */
  private sleep(ms: number, ignoreStop = false): Promise<void> {
    if (this.stopped && !ignoreStop) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (!ignoreStop) this.wake = done;
    });
  }
}

/** Checked by callers before anything is fetched: the session id becomes a LISTEN channel. */
export function assertUuid(id: string): void {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
    throw new AqeventError('invalid_argument', `session id "${id}" is not a uuid`);
  }
}
