import type pg from 'pg';
import { z } from 'zod';
import { maintainPass, purgeOld, queueSizeRow, vacuumQueue } from '../sql/maintenance.js';
import { durationOption, validate } from '../validate.js';

/**
 * Maintenance passes (sql/040_maintenance.sql). They need a role with
 * aqevent_admin (or a superuser): maintenance crosses every session.
 */

/** What one maintenance pass did (event.maintain). */
export interface MaintenanceSummary {
  /** Another pass held the lock: this one did nothing. */
  skipped: boolean;
  sessionsExpired: number;
  deadLettersPurged: number;
  leasesReclaimed: number;
  deadLettered: number;
  orphanEvents: number;
  orphanSubscriptions: number;
  /** VACUUM (ANALYZE) of event.inbox, event.change and event.listener ran after the pass (option `vacuum`, and the role may). */
  vacuumed: boolean;
}

const maintainOptionsSchema = z.object({
  /** Purge dead letters older than this; default: the dead_letter_retention_seconds setting (14 days). */
  deadLetterAge: durationOption('deadLetterAge').optional(),
  /** The clock (tests, "what would expire at T"); default the database's now(). */
  now: z.date().optional(),
  /**
   * Then VACUUM (ANALYZE) event.inbox, event.change and event.listener, when the role may (owner, superuser,
   * database owner; aqevent_admin on PostgreSQL 17+). A safety net for
   * servers where autovacuum is off or cannot keep up. Default false.
   */
  vacuum: z.boolean().default(false),
}).strict();
export type MaintainOptions = z.input<typeof maintainOptionsSchema>;

const summaryRow = z.object({
  skipped: z.boolean(),
  sessions_expired: z.number().default(0),
  dead_letters_purged: z.number().default(0),
  leases_reclaimed: z.number().default(0),
  dead_lettered: z.number().default(0),
  orphan_events: z.number().default(0),
  orphan_subscriptions: z.number().default(0),
});

/** One maintenance pass: expire sessions, purge old dead letters, reclaim leases and orphans. */
export async function maintain(pool: pg.Pool, options: MaintainOptions = {}): Promise<MaintenanceSummary> {
  const { deadLetterAge, now, vacuum } = validate(maintainOptionsSchema, options, 'maintenance options');
  const raw = await maintainPass(pool, deadLetterAge, now);
  const s = validate(summaryRow, raw, 'maintenance summary');
  const vacuumed = vacuum && !s.skipped && await vacuumQueue(pool);
  return {
    skipped: s.skipped,
    sessionsExpired: s.sessions_expired,
    deadLettersPurged: s.dead_letters_purged,
    leasesReclaimed: s.leases_reclaimed,
    deadLettered: s.dead_lettered,
    orphanEvents: s.orphan_events,
    orphanSubscriptions: s.orphan_subscriptions,
    vacuumed,
  };
}

const purgeOptionsSchema = z.object({
  /** Delete what is older than this. */
  olderThan: durationOption('olderThan'),
  /** Also delete pending (never acknowledged) events older than olderThan. Default false. */
  pending: z.boolean().default(false),
  now: z.date().optional(),
}).strict();
export type PurgeOptions = z.input<typeof purgeOptionsSchema>;

export interface PurgeResult {
  deadLetters: number;
  /** Pending events deleted (0 unless `pending`). */
  pending: number;
}

/** Deletes dead letters older than olderThan, and with `pending: true` pending events too, in one transaction. */
export async function purge(pool: pg.Pool, options: PurgeOptions): Promise<PurgeResult> {
  const { olderThan, pending, now } = validate(purgeOptionsSchema, options, 'purge options');
  return purgeOld(pool, olderThan, pending, now);
}

/** Size on disk of what holds pending events, event.inbox, event.change and event.listener (event.queue_size()): watch it for bloat. */
export interface QueueSize {
  totalBytes: number;
  tableBytes: number;
  indexBytes: number;
  liveRows: number;
  deadRows: number;
  lastAutovacuum: Date | null;
}

export async function queueSize(pool: pg.Pool): Promise<QueueSize> {
  const row = await queueSizeRow(pool);
  return {
    totalBytes: Number(row.total_bytes),
    tableBytes: Number(row.table_bytes),
    indexBytes: Number(row.index_bytes),
    liveRows: Number(row.live_rows),
    deadRows: Number(row.dead_rows),
    lastAutovacuum: row.last_autovacuum,
  };
}
