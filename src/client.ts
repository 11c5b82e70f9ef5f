import type pg from 'pg';
import { z } from 'zod';
import { type ConnectionOptions, createPool, resolveConnection } from './db/connect.js';
import { migrate, type MigrateResult } from './db/migrate.js';
import { AqeventError } from './errors.js';
import { Session, type SessionSettings } from './session.js';
import { listSessions, type SessionSummary } from './sql/session-info.js';
import { attachSession, createSession } from './sql/sessions.js';
import { type SessionMetrics, sessionMetrics } from './sql/metrics.js';
import { type SessionStats, stats } from './sql/stats.js';
import { unsubscribe } from './sql/subscriptions.js';
import { parseUuid, validate } from './validate.js';

export interface AqeventOptions extends ConnectionOptions {
  /** Size of the pool aqevent creates (ignored with `pool`). Default 10. */
  poolSize?: number;
  /** Apply pending migrations on connect. Default false. */
  migrate?: boolean;
  /**
   * Default true: leases and acks wait for their WAL flush, so a lease
   * survives a server crash (docs/guarantees.md). false: they commit without
   * waiting, a little less latency per fetch (bench: latency, drain), and a
   * lease may be lost in a crash (the event then comes again early). Not
   * with `pool`: set aqevent.durable_leases = off on its connections instead.
   */
  durableLeases?: boolean;
}

const optionsSchema = z.object({
  connectionString: z.string().optional(),
  pool: z.custom<pg.Pool>((value) => typeof value === 'object' && value !== null && typeof (value as pg.Pool).connect === 'function', 'expected a pg.Pool').optional(),
  embedded: z.object({ dataDir: z.string().optional(), port: z.number().int().min(1).max(65535).optional() }).strict().optional(),
  env: z.record(z.string(), z.string().optional()).optional(),
  poolSize: z.number().int().min(2, 'poolSize must be at least 2 (a live stream keeps one connection for LISTEN)').max(1000).optional(),
  migrate: z.boolean().optional(),
  durableLeases: z.boolean().optional(),
}).strict().refine((o) => !(o.pool && o.durableLeases === false), {
  message: 'durableLeases: false applies to pools aqevent creates; with your own pool, set aqevent.durable_leases = off on its connections',
  path: ['durableLeases'],
});

/**
 * The entry point: a connection to one database.
 *
 *   const aq = await Aqevent.connect({ connectionString });
 *   const session = await aq.createSession();
 */
export class Aqevent {
  private closed = false;

  private constructor(
    /** The pool every operation uses; yours when you passed one. */
    readonly pool: pg.Pool,
    /** Where it points, for people (no password). */
    readonly description: string,
    private readonly ownsPool: boolean,
  ) {}

  /** Connects with a connection string, a pg.Pool you own, DATABASE_URL / PG*, or the embedded server. */
  static async connect(options: AqeventOptions = {}): Promise<Aqevent> {
    const settings = validate(optionsSchema, options, 'connection options');
    let client: Aqevent;
    if (settings.pool) {
      client = new Aqevent(settings.pool, 'the pool given', false);
    } else {
      const resolved = await resolveConnection(settings);
      client = new Aqevent(createPool(resolved, settings.poolSize ?? 10, { durableLeases: settings.durableLeases }), resolved.description, true);
    }
    if (settings.migrate) await client.migrate();
    return client;
  }

  private get live(): pg.Pool {
    if (this.closed) throw new AqeventError('closed', 'this Aqevent client is closed');
    return this.pool;
  }

  /** Creates or upgrades the schemas (safe to call any number of times, concurrently too). */
  migrate(): Promise<MigrateResult> {
    return migrate(this.live);
  }

  /** A new session owned by the current role. */
  async createSession(settings: SessionSettings = {}): Promise<Session> {
    const session = new Session(this.pool, await createSession(this.live));
    if (Object.keys(settings).length > 0) await session.configure(settings);
    return session;
  }

  /** Reattach to an existing session (marks it attached); fails with SQLSTATE 42704 when it does not exist. */
  async attachSession(id: string): Promise<Session> {
    const sessionId = parseUuid(id);
    await attachSession(this.live, sessionId);
    return new Session(this.pool, sessionId);
  }

  /** A handle on an existing session, without attaching it (nothing is checked until it is used). */
  session(id: string): Session {
    return new Session(this.live, id);
  }

  /** Deletes a session and everything in it. */
  async deleteSession(id: string): Promise<void> {
    await new Session(this.live, id).delete();
  }

  /** The caller's sessions, oldest first, each with its state, settings and queue counts (see SessionSummary). */
  async sessions(): Promise<SessionSummary[]> {
    return listSessions(this.live);
  }

  /** Removes a subscription by id, whichever of the caller's sessions it belongs to; 42704 when unknown. */
  async unsubscribe(subscriptionId: string): Promise<void> {
    await unsubscribe(this.live, parseUuid(subscriptionId, 'subscription id'));
  }

  /** Per session: backlog, in flight, dead letters, age of the oldest event. */
  stats(): Promise<SessionStats[]> {
    return stats(this.live);
  }

  /** Per session: stats() and counters since creation (events captured, acknowledged, dropped). */
  metrics(): Promise<SessionMetrics[]> {
    return sessionMetrics(this.live);
  }

  /** Ends the pool when aqevent created it. Running iterators stop with errors. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsPool) await this.pool.end();
  }
}
