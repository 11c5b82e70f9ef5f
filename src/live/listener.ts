import type pg from 'pg';
import { WAKE_CHANNEL } from '../db/wake.js';
import { AqeventError, fromPgError } from '../errors.js';

export interface ListenOptions {
  /** The channels to LISTEN on (quoted as identifiers). */
  channels: readonly string[];
  /** Which notifications wake a waiter, by payload and channel. Default: every one. */
  accept?: (payload: string, channel: string) => boolean;
  /** Aborting wakes a waiter, and later waits return at once. */
  signal?: AbortSignal;
  /** Told when the LISTEN connection breaks. */
  onError?: (error: AqeventError) => void;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The one LISTEN/wake helper: a pool connection LISTENing on some channels,
 * and a wait that a notification cuts short. Notifications only shorten
 * waits, they are never the data: whoever waits reads the state afterwards
 * (fetch, peek), and a poll timer covers notifications lost with a
 * connection. A lost connection is dropped (not returned to the pool) and
 * wakes the waiter; the next connection() LISTENs again.
 */
export class Listener {
  private client: pg.PoolClient | undefined;
  private accepted = 0;
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(private readonly pool: pg.Pool, private readonly options: ListenOptions) {
    options.signal?.addEventListener('abort', () => this.wake?.(), { once: true });
  }

  /** Closed or aborted. */
  get stopped(): boolean {
    return this.closed || this.options.signal?.aborted === true;
  }

  /** True while a connection is LISTENing. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Accepted notifications so far: compare before and after a read to know whether to wait. */
  get count(): number {
    return this.accepted;
  }

  /** The LISTENing connection, connecting and LISTENing first when there is none. Queries may run on it. */
  async connection(): Promise<pg.PoolClient> {
    if (this.client) return this.client;
    const client = await this.pool.connect();
    client.on('notification', (message) => {
      if (this.options.accept && !this.options.accept(message.payload ?? '', message.channel)) return;
      this.accepted++;
      this.wake?.();
    });
    client.on('error', (error: unknown) => {
      this.options.onError?.(fromPgError(error, 'listener connection lost'));
      if (this.client === client) this.drop();
    });
    client.on('end', () => {
      if (this.client === client) this.drop();
    });
    this.client = client;
    try {
      for (const channel of this.options.channels) await client.query(`LISTEN ${quoteIdent(channel)}`);
      // writers notify only while a reader is registered (sql/schema/listener.sql)
      if (this.options.channels.includes(WAKE_CHANNEL)) await client.query('SELECT event.listener_register()');
    } catch (error) {
      if (this.client === client) this.drop();
      throw error;
    }
    return client;
  }

  /**
   * Waits ms, or less: until an accepted notification, a lost connection,
   * close() or abort. untilTimeout: only the timer ends it (a retry's pause
   * that must not be cut short by stopping).
   */
  wait(ms: number, { untilTimeout = false } = {}): Promise<void> {
    if (this.stopped && !untilTimeout) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (!untilTimeout) this.wake = done;
    });
  }

  /**
   * Lets the connection go, as broken: it LISTENs (or failed), so it must
   * not serve anyone else from the pool. Wakes a waiter.
   */
  drop(): void {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    client.removeAllListeners('notification');
    client.on('error', () => {});
    client.release(true);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.drop();
    this.wake?.();
  }
}

/** A consumer keeps one connection in LISTEN: its reads need another. what: 'stream', 'run a worker', … */
export function assertPoolCanListen(pool: pg.Pool, what: string): void {
  const poolMax = (pool as { options?: { max?: number } }).options?.max;
  if (poolMax !== undefined && poolMax < 2) {
    throw new AqeventError('invalid_argument', `a pool of ${poolMax} connection cannot ${what}: one connection stays in LISTEN, the queries need another`);
  }
}
