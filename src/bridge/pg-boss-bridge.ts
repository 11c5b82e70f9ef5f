import type pg from 'pg';
import type PgBoss from 'pg-boss';
import { z } from 'zod';
import { AqeventError, fromPgError } from '../errors.js';
import { parseLosslessJson } from '../events/lossless-json.js';
import { retryTransient } from '../live/backoff.js';
import { Listener } from '../live/listener.js';
import { sessionWake } from '../live/session-wake.js';
import { ensureQueue } from '../pgboss/ensure-queue.js';
import { fetchEventRows } from '../sql/leases.js';
import { countJobs } from '../sql/pgboss-jobs.js';
import { attachSession } from '../sql/sessions.js';
import { ackEvents } from '../sql/settle.js';
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
const LEASE_MS = 300_000; // never seen by others: the move commits (and acks) or rolls back (and unleases)

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
  /** The bridge's one connection: it LISTENs, and every move runs on it. */
  private readonly listener: Listener;
  private attachedOn: pg.PoolClient | undefined;
  private attachedAt = 0;
  private moved = 0;

  constructor(private readonly settings: Settings) {
    this.listener = new Listener(settings.pool, { ...sessionWake(settings.sessionId), signal: settings.signal });
  }

  async run(): Promise<BridgeResult> {
    try {
      return await this.moveUntilStopped();
    } catch (error) {
      throw fromBridge(fromPgError(error));
    }
  }

  private async moveUntilStopped(): Promise<BridgeResult> {
    const listener = this.listener;
    while (!listener.stopped) {
      const moved = await retryTransient(async () => {
        const seen = listener.count;
        return { count: await this.moveBatch(), seen };
      }, {
        onError: (error) => {
          listener.drop();
          this.settings.onError?.(fromBridge(error));
        },
        giveUp: () => listener.stopped,
        sleep: (ms) => listener.wait(ms),
      });
      if (!moved) break;
      if (moved.count > 0) continue;
      if (this.settings.untilEmpty) break;
      if (listener.count === moved.seen) await listener.wait(this.settings.pollInterval);
    }
    return { moved: this.moved };
  }

  /** One transaction: fetch, insert jobs, verify, ack. Returns how many events moved. */
  private async moveBatch(): Promise<number> {
    const client = await this.connect();
    const { sessionId, queue, boss, batchSize, jobOptions, schema } = this.settings;
    await client.query('BEGIN');
    try {
      const rows = await fetchEventRows(client, sessionId, batchSize, LEASE_MS);
      if (rows.length > 0) {
        const jobs = rows.map((row) => ({
          ...jobOptions, id: eventJobId(sessionId, row.id), name: queue, data: parseLosslessJson(row.event) as object,
        }));
        const db = { executeSql: (text: string, values: unknown[]) => client.query(text, values) };
        await boss.insert(jobs, { db });
        // pg-boss skips a job silently when the queue is gone or a queue
        // policy's unique index refuses it: never ack an event without its job.
        const present = await countJobs(client, schema, queue, jobs.map((job) => job.id));
        if (present !== jobs.length) {
          throw new AqeventError('database', `pg-boss accepted ${present} of ${jobs.length} jobs in queue "${queue}" `
            + '(does the queue exist, with the standard policy?); nothing was moved');
        }
        const acked = await ackEvents(client, sessionId, rows.map((row) => row.id), { relaxedCommit: false });
        // Jobs commit only together with the acks of all their events.
        if (acked !== rows.length) {
          throw new AqeventError('database', `acknowledged ${acked} of ${rows.length} events of session ${sessionId}; nothing was moved`);
        }
      }
      await client.query('COMMIT');
      this.moved += rows.length;
      if (rows.length > 0) this.settings.onMoved?.(rows.length);
      return rows.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      this.listener.drop(); // in doubt about the connection: a fresh one next time
      throw error;
    }
  }

  /** The LISTENing connection, the session marked attached at least every ATTACH_EVERY_MS. */
  private async connect(): Promise<pg.PoolClient> {
    const client = await this.listener.connection();
    if (client !== this.attachedOn || Date.now() - this.attachedAt >= ATTACH_EVERY_MS) {
      await attachSession(client, this.settings.sessionId);
      this.attachedOn = client;
      this.attachedAt = Date.now();
    }
    return client;
  }

  close(): void {
    this.listener.close();
  }
}

/** Errors as the bridge reports them: "bridge: …". */
function fromBridge(error: AqeventError): AqeventError {
  return new AqeventError(error.code, `bridge: ${error.message}`, error.details);
}
