import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ForwardLog } from './options.js';

const FIRST_DELAY_MS = 100;

/** Exponential backoff with jitter, from FIRST_DELAY_MS up to maxMs; reset() after a success. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly maxMs: number) {}

  next(): number {
    const nominal = Math.min(this.maxMs, FIRST_DELAY_MS * 2 ** this.attempt);
    this.attempt++;
    return Math.round(nominal * (0.5 + Math.random() / 2));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

/** Waits ms, or less when signal aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface NatsSettings {
  servers: string | string[];
  maxReconnectDelay: number;
  name: string;
  log: ForwardLog;
  signal?: AbortSignal;
}

/**
 * A NATS connection that never gives up: the first connect is retried with
 * backoff until it works (or signal aborts: undefined), and a lost
 * connection is reconnected by the client with the same backoff. Each
 * attempt and each outcome is one log line.
 */
export async function connectNats(settings: NatsSettings): Promise<NatsConnection | undefined> {
  const backoff = new Backoff(settings.maxReconnectDelay);
  const where = Array.isArray(settings.servers) ? settings.servers.join(',') : settings.servers;
  let connected = false;
  for (;;) {
    if (settings.signal?.aborted) return undefined;
    try {
      const connection = await connect({
        servers: settings.servers,
        name: settings.name,
        maxReconnectAttempts: -1,
        reconnectDelayHandler: () => {
          if (!connected) return 0; // the client asks before its first attempt too: that one is ours, below
          const ms = backoff.next();
          settings.log(`nats: reconnecting to ${where} in ${ms} ms (attempt ${backoff.attempts})`);
          return ms;
        },
      });
      connected = true;
      backoff.reset();
      settings.log(`nats: connected to ${connection.getServer()}`);
      void watchStatus(connection, backoff, settings.log);
      return connection;
    } catch (error) {
      const ms = backoff.next();
      settings.log(`nats: cannot connect to ${where} (${describe(error)}); retrying in ${ms} ms (attempt ${backoff.attempts})`);
      await pause(ms, settings.signal);
    }
  }
}

async function watchStatus(connection: NatsConnection, backoff: Backoff, log: ForwardLog): Promise<void> {
  for await (const status of connection.status()) {
    if (status.type === 'disconnect') log(`nats: lost the connection to ${status.server}`);
    if (status.type === 'reconnect') {
      backoff.reset();
      log(`nats: reconnected to ${status.server}`);
    }
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
