import type pg from 'pg';
import type PgBoss from 'pg-boss';
import { z } from 'zod';
import { isTransient } from '../consumer/live-queue.js';
import { AqeventError, fromPgError } from '../errors.js';
import { parseLosslessJson } from '../events/lossless-json.js';
import { ensureQueue } from '../pgboss/ensure-queue.js';
import { durationOption, uuidSchema, validate } from '../validate.js';
import { eventJobId } from './job-id.js';

const bridgeOptionsSchema = z.object({
  /** Where the session lives (aq.pool). The bridge takes one connection of it for as long as it runs. */
  pool: z.custom<pg.Pool>((value) => typeof (value as pg.Pool | undefined)?.connect === 'function', 'expected a pg.Pool'),
  sessionId: uuidSchema,
  /** A started PgBoss on the same database. */
  boss: z.custom<PgBoss>((value) => typeof (value as PgBoss | undefined)?.insert === 'function', 'expected a PgBoss instance'),
  /** The pg-boss queue the events go to (created when missing). */
  queue: z.string().min(1),
  /** pg-boss's schema (its `schema` option). Default 'pgboss'. */
  schema: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,49}$/, 'a plain identifier').default('pgboss'),
  /** Events moved per transaction (1–10000). Default 100. */
  batchSize: z.number().int().min(1).max(10000).default(100),
  /** Look for events at least this often without a notification. Default 2s. */
  pollInterval: durationOption('pollInterval').default(2_000).refine((ms) => ms > 0, 'pollInterval must be longer than 0'),
  /** Options of every job (pg-boss's own names); the queue's settings apply otherwise. */
  jobOptions: z.object({
    retryLimit: z.number().int().min(0).optional(),
    retryDelay: z.number().int().min(0).optional(),
    retryBackoff: z.boolean().optional(),
    expireInSeconds: z.number().int().min(1).optional(),
    priority: z.number().int().optional(),
  }).strict().default({}),
  /** Return once the session has nothing deliverable (instead of waiting for more). */
  untilEmpty: z.boolean().default(false),
  /** Ends the bridge after the current transaction. */
  signal: z.instanceof(AbortSignal).optional(),
  /** Told after each committed move. */
  onMoved: z.custom<(count: number) => void>((value) => typeof value === 'function').optional(),
  /** Told about each lost connection before the retry. */
  onError: z.custom<(error: AqeventError) => void>((value) => typeof value === 'function').optional(),
}).strict();

export type BridgeOptions = z.input<typeof bridgeOptionsSchema>;
type Settings = z.output<typeof bridgeOptionsSchema>;

export interface BridgeResult {
  /** Events moved into pg-boss. */
  moved: number;
}

/** The bridge marks the session attached this often, so that a ttl does not expire a session it serves. */
const ATTACH_EVERY_MS = 60_000;
const LEASE = '5 minutes'; // never seen by others: the move commits (and acks) or rolls back (and unleases)
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 5_000;

/**
 * Moves a session's events into a pg-boss queue until `signal` aborts (or,
 * with `untilEmpty`, until the session is empty).
 *
 * Each move is one transaction on one connection: fetch a batch, insert
 * its jobs through pg-boss with that connection as pg-boss's `db`, check
 * that every job is there, acknowledge the events, commit. Killed at any
 * point, the transaction commits whole or not at all, so every event is
 * either still in the session or a job in the queue: never both, never
 * neither. Job ids are derived from the session and event ids, so even a
 * repeated move cannot create a second job. A job's data is the event
 * (numbers beyond JavaScript's precision as strings, as the library gives
 * them).
 */
export async function bridgeToPgBoss(options: BridgeOptions): Promise<BridgeResult> {
  const settings = validate(bridgeOptionsSchema, options, 'bridge options');
  await ensureQueue(settings.boss, settings.queue);
  const bridge = new Bridge(settings);
  try {
    return await bridge.run();
  } finally {
    bridge.close();
  }
}

class Bridge {
  private client: pg.PoolClient | undefined;
  private notified = 0;
  private wake: (() => void) | undefined;
  private attachedAt = 0;
  private moved = 0;
  private readonly countJobs: string;

  constructor(private readonly settings: Settings) {
    settings.signal?.addEventListener('abort', () => this.wake?.(), { once: true });
    this.countJobs = `SELECT count(*)::int AS n FROM "${settings.schema}".job WHERE name = $1 AND id = ANY ($2::uuid[])`;
  }

  private get stopped(): boolean {
    return this.settings.signal?.aborted === true;
  }

  async run(): Promise<BridgeResult> {
    let delay = FIRST_RETRY_MS;
    while (!this.stopped) {
      try {
        const seen = this.notified;
        const count = await this.moveBatch();
        delay = FIRST_RETRY_MS;
        if (count > 0) continue;
        if (this.settings.untilEmpty) break;
        if (this.notified === seen) await this.sleep(this.settings.pollInterval);
      } catch (caught) {
        const error = fromPgError(caught, 'bridge');
        this.dropClient();
        if (!isTransient(error)) throw error;
        this.settings.onError?.(error);
        await this.sleep(delay);
        delay = Math.min(delay * 2, MAX_RETRY_MS);
      }
    }
    return { moved: this.moved };
  }

  /** One transaction: fetch, insert jobs, verify, ack. Returns how many events moved. */
  private async moveBatch(): Promise<number> {
    const client = await this.connect();
    const { sessionId, queue, boss, batchSize, jobOptions } = this.settings;
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ id: string; event: string }>(
        'SELECT id::text AS id, event::text AS event FROM event.fetch_events($1, $2, $3::interval)',
        [sessionId, batchSize, LEASE]);
      if (rows.length > 0) {
        const jobs = rows.map((row) => ({
          ...jobOptions, id: eventJobId(sessionId, row.id), name: queue, data: parseLosslessJson(row.event) as object,
        }));
        const db = { executeSql: (text: string, values: unknown[]) => client.query(text, values) };
        await boss.insert(jobs, { db });
        // pg-boss skips a job silently when the queue is gone or a queue
        // policy's unique index refuses it: never ack an event without its job.
        const present = (await client.query<{ n: number }>(this.countJobs, [queue, jobs.map((job) => job.id)])).rows[0]!.n;
        if (present !== jobs.length) {
          throw new AqeventError('database', `bridge: pg-boss accepted ${present} of ${jobs.length} jobs in queue "${queue}" `
            + '(does the queue exist, with the standard policy?); nothing was moved');
        }
        const acked = (await client.query<{ n: number }>('SELECT event.ack($1, $2::bigint[]) AS n',
          [sessionId, rows.map((row) => row.id)])).rows[0]!.n;
        // Jobs commit only together with the acks of all their events.
        if (acked !== rows.length) {
          throw new AqeventError('database', `bridge: acknowledged ${acked} of ${rows.length} events of session ${sessionId}; nothing was moved`);
        }
      }
      await client.query('COMMIT');
      this.moved += rows.length;
      if (rows.length > 0) this.settings.onMoved?.(rows.length);
      return rows.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  }

  /** The bridge's connection: LISTENing on the session's channel, the session attached. */
  private async connect(): Promise<pg.PoolClient> {
    if (this.client && Date.now() - this.attachedAt < ATTACH_EVERY_MS) return this.client;
    if (!this.client) {
      const client = await this.settings.pool.connect();
      this.client = client;
      client.on('notification', () => {
        this.notified++;
        this.wake?.();
      });
      client.on('error', () => this.dropClient());
      await client.query(`LISTEN "${this.settings.sessionId}"`); // a validated uuid
    }
    await this.client.query('SELECT event.session_attach($1)', [this.settings.sessionId]);
    this.attachedAt = Date.now();
    return this.client;
  }

  private dropClient(): void {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    client.removeAllListeners('notification');
    client.on('error', () => {});
    client.release(true); // it LISTENs (or broke): not for the pool
  }

  close(): void {
    this.dropClient();
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
