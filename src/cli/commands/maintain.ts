import type { Command } from 'commander';
import { z } from 'zod';
import { maintain, type MaintenanceSummary, scheduleMaintenance } from '../../index.js';
import { checkedOptions, duration } from '../arguments.js';
import { type GlobalOptions, openContext } from '../context.js';
import { startBoss, stopSignal } from '../pg-boss.js';

const optionsSchema = z.object({
  once: z.boolean().optional(),
  cron: z.string().min(1),
  deadLetterAge: z.number().optional(),
  schema: z.string().min(1),
  vacuum: z.boolean().optional(),
});

function print(summary: MaintenanceSummary, json: boolean): void {
  if (json) console.log(JSON.stringify(summary));
  else if (summary.skipped) console.log('skipped: another maintenance pass is running');
  else console.log(`expired ${summary.sessionsExpired} sessions, purged ${summary.deadLettersPurged} dead letters, `
    + `reclaimed ${summary.leasesReclaimed} leases (${summary.deadLettered} to dead letters), `
    + `removed ${summary.orphanEvents} orphan events and ${summary.orphanSubscriptions} orphan subscriptions`
    + (summary.vacuumed ? '; vacuumed event.inbox, event.change and event.listener' : ''));
}

/** aqevent maintain: retention, expiry and lease reclaim, on pg-boss's cron or once. */
export function registerMaintain(program: Command): void {
  program
    .command('maintain')
    .description('run maintenance (expire sessions, purge old dead letters, reclaim leases) on pg-boss\'s scheduler until SIGINT/SIGTERM; needs aqevent_admin')
    .option('--once', 'one pass now, then exit (no pg-boss)')
    .option('--cron <expr>', 'schedule (cron, UTC)', '*/5 * * * *')
    .option('--dead-letter-age <duration>', 'purge dead letters older than this (default: the dead_letter_retention_seconds setting)', duration)
    .option('--schema <name>', 'pg-boss schema', 'pgboss')
    .option('--vacuum', 'VACUUM (ANALYZE) the inbox, the change log and the listener table after each pass (when autovacuum is off or lags)')
    .action(async (raw: unknown, command: Command) => {
      const options = checkedOptions(optionsSchema, raw, 'maintain options');
      const passOptions = {
        ...(options.deadLetterAge === undefined ? {} : { deadLetterAge: options.deadLetterAge }),
        vacuum: options.vacuum ?? false,
      };
      const signal = options.once ? undefined : stopSignal();
      const context = await openContext(command.optsWithGlobals<GlobalOptions>());
      try {
        if (options.once) {
          print(await maintain(context.pool, passOptions), context.json);
          return;
        }
        const boss = await startBoss(context, options.schema);
        try {
          const schedule = await scheduleMaintenance({
            pool: context.pool, boss, cron: options.cron, ...passOptions,
            onPass: (summary) => print(summary, context.json),
            onError: (error) => console.error(`aqevent: ${error.message}`),
          });
          if (!context.json) console.error(`maintenance scheduled (${options.cron}); stop with Ctrl-C`);
          await new Promise<void>((resolve) => signal!.addEventListener('abort', () => resolve(), { once: true }));
          await schedule.stop();
        } finally {
          await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
        }
      } finally {
        await context.close();
      }
    });
}
