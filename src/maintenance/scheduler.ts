import type pg from 'pg';
import type PgBoss from 'pg-boss';
import { z } from 'zod';
import { type AqeventError, fromPgError } from '../errors.js';
import { ensureQueue } from '../pgboss/ensure-queue.js';
import { durationOption, validate } from '../validate.js';
import { maintain, type MaintenanceSummary } from './operations.js';

const scheduleOptionsSchema = z.object({
  /** Needs aqevent_admin (or a superuser). */
  pool: z.custom<pg.Pool>((value) => typeof (value as pg.Pool | undefined)?.query === 'function', 'expected a pg.Pool'),
  /** A started PgBoss (with its scheduler, the default) on the same database. */
  boss: z.custom<PgBoss>((value) => typeof (value as PgBoss | undefined)?.schedule === 'function', 'expected a PgBoss instance'),
  /** When to run (cron, UTC). Default every 5 minutes. */
  cron: z.string().min(1).default('*/5 * * * *'),
  /** The pg-boss queue of the maintenance job. Default 'aqevent-maintenance'. */
  queue: z.string().min(1).default('aqevent-maintenance'),
  /** Purge dead letters older than this; default the dead_letter_retention_seconds setting. */
  deadLetterAge: durationOption('deadLetterAge').optional(),
  /** VACUUM (ANALYZE) event.inbox, event.change and event.listener after each pass (see maintain). Default false. */
  vacuum: z.boolean().default(false),
  /** How often this process's worker looks for the job (seconds, pg-boss's polling). Default 2. */
  pollingIntervalSeconds: z.number().min(0.5).default(2),
  /** Told after each pass this process ran. */
  onPass: z.custom<(summary: MaintenanceSummary) => void>((value) => typeof value === 'function').optional(),
  /** Told when a pass failed (pg-boss retries the job). */
  onError: z.custom<(error: AqeventError) => void>((value) => typeof value === 'function').optional(),
}).strict();

export type ScheduleMaintenanceOptions = z.input<typeof scheduleOptionsSchema>;

export interface MaintenanceSchedule {
  /** Stops this process's maintenance worker (the schedule stays for other processes). */
  stop(): Promise<void>;
}

/**
 * Runs maintenance on pg-boss's scheduler: the schedule (one job per cron
 * slot, however many processes schedule it: pg-boss's cron is a singleton
 * per slot) goes to a 'singleton' queue (at most one job active), worked by
 * every process that calls this. event.maintain's advisory lock makes a
 * pass that still overlaps another one a no-op.
 */
export async function scheduleMaintenance(options: ScheduleMaintenanceOptions): Promise<MaintenanceSchedule> {
  const settings = validate(scheduleOptionsSchema, options, 'maintenance schedule options');
  const { boss, queue } = settings;
  await ensureQueue(boss, queue, { policy: 'singleton', retryLimit: 2, retryDelay: 10 });
  await boss.schedule(queue, settings.cron, {}, { tz: 'UTC' });
  const workerId = await boss.work(queue, { pollingIntervalSeconds: settings.pollingIntervalSeconds }, async () => {
    try {
      const summary = await maintain(settings.pool, {
        vacuum: settings.vacuum, ...(settings.deadLetterAge === undefined ? {} : { deadLetterAge: settings.deadLetterAge }),
      });
      settings.onPass?.(summary);
      return summary;
    } catch (error) {
      const failure = fromPgError(error, 'maintenance');
      settings.onError?.(failure);
      throw failure;
    }
  });
  return { stop: () => boss.offWork({ id: workerId }) };
}
