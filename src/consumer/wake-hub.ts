import type pg from 'pg';
import { type AqeventError, fromPgError, isTransient } from '../errors.js';
import { channelsFor, DEFAULT_NOTIFY_MODE, listenSql, type NotifyMode, quoteChannel } from './notify-channel.js';

export interface WakeHubOptions {
  /** Opens the dedicated LISTEN connection. */
  connect: () => Promise<pg.Client>;
  /** Closes it (default end(); a pool's client: release(true), never back into the pool). */
  dispose?: (client: pg.Client) => void;
  mode?: NotifyMode;
  /** A session whose events may have changed (session mode), or null: maybe any (shared mode, after a reconnect). */
  onWake: (sessionId: string | null, payload: string | undefined) => void;
  onError?: (error: AqeventError) => void;
  maxReconnectDelayMs?: number;
}

/**
 * One LISTEN connection for any number of followed sessions. In session mode
 * it LISTENs on each followed session's channel; in shared mode on the one
 * channel. After the connection is lost it reconnects with backoff and wakes
 * everything (notifications sent meanwhile are gone; the readers re-read).
 */
export class WakeHub {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private readonly followed = new Map<string, number>();
  private listening = new Set<string>();
  private closed = false;
  private delay = 50;
  private sync: Promise<void> = Promise.resolve();
  private readonly mode: NotifyMode;

  constructor(private readonly options: WakeHubOptions) {
    this.mode = options.mode ?? DEFAULT_NOTIFY_MODE;
  }

  /** Follows a session (counted: follow twice, unfollow twice). Resolves once LISTENing. */
  async follow(sessionId: string): Promise<void> {
    this.followed.set(sessionId, (this.followed.get(sessionId) ?? 0) + 1);
    await this.reconcile();
  }

  unfollow(sessionId: string): void {
    const count = (this.followed.get(sessionId) ?? 0) - 1;
    if (count > 0) this.followed.set(sessionId, count);
    else this.followed.delete(sessionId);
    void this.reconcile().catch(() => {});
  }

  /** Whether the LISTEN connection is up. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    if (client) this.dispose(client);
  }

  private dispose(client: pg.Client): void {
    if (this.options.dispose) this.options.dispose(client);
    else client.end().catch(() => {});
  }

  /** Brings LISTENs in line with what is followed; one reconcile at a time. */
  private reconcile(): Promise<void> {
    this.sync = this.sync.catch(() => {}).then(() => this.apply());
    return this.sync;
  }

  private async apply(): Promise<void> {
    if (this.closed) return;
    await this.ensureConnected();
    const client = this.client;
    if (!client) return;
    const wanted = new Set(channelsFor(this.mode, this.followed.keys()));
    const add = [...wanted].filter((channel) => !this.listening.has(channel));
    const drop = [...this.listening].filter((channel) => !wanted.has(channel));
    if (add.length + drop.length === 0) return;
    const sql = [...add.map(listenSql), ...drop.map((c) => `UNLISTEN ${quoteChannel(c)}`)].join(';');
    await client.query(sql);
    this.listening = wanted;
  }

  private ensureConnected(): Promise<void> {
    if (this.client || this.closed) return Promise.resolve();
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<void> {
    const client = await this.options.connect();
    client.on('notification', (message) => {
      this.options.onWake(this.mode === 'shared' ? null : message.channel, message.payload);
    });
    const lost = (error?: unknown) => {
      if (this.client !== client) return;
      this.client = undefined;
      this.listening = new Set();
      if (error) this.options.onError?.(fromPgError(error, 'LISTEN connection lost'));
      this.dispose(client);
      this.reconnectLater();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    this.client = client;
    this.delay = 50;
  }

  private reconnectLater(): void {
    if (this.closed) return;
    setTimeout(() => {
      this.reconcile().then(
        () => this.options.onWake(null, undefined),
        (error: unknown) => {
          const failure = fromPgError(error, 'LISTEN reconnect');
          if (!isTransient(failure)) this.options.onError?.(failure);
          this.delay = Math.min(this.delay * 2, this.options.maxReconnectDelayMs ?? 5000);
          this.reconnectLater();
        },
      );
    }, this.delay).unref();
  }
}

/** WakeHub's connection taken from a pool and never given back (release(true) destroys it). */
export function poolListener(pool: pg.Pool): Pick<WakeHubOptions, 'connect' | 'dispose'> {
  return {
    connect: async () => pool.connect(),
    dispose: (client) => (client as pg.PoolClient).release(true),
  };
}
