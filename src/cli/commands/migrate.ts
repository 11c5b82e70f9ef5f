import type { Command } from 'commander';
import { installGaps, migrate, migrateStatus } from '../../index.js';
import { type GlobalOptions, openContext } from '../context.js';

interface MigrateOptions {
  status?: boolean;
  dryRun?: boolean;
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('install or upgrade the meta and event schemas (safe to run any number of times)')
    .option('--status', 'print the installed and the current version and what migrate would run; change nothing')
    .option('--dry-run', 'the same as --status')
    .action(async (options: MigrateOptions, command: Command) => {
      const context = await openContext(command.optsWithGlobals<GlobalOptions>());
      try {
        if (options.status || options.dryRun) {
          const status = await migrateStatus(context.pool);
          if (context.json) console.log(JSON.stringify(status));
          else {
            console.log(`installed: ${status.installed ?? 'none'}; this release: ${status.target}`);
            console.log(status.plan.length ? `would run: ${status.plan.map((s) => `sql/${s}`).join(', ')}` : 'nothing to do');
          }
          return;
        }
        const result = await migrate(context.pool);
        const health = await installGaps(context.pool);
        if (context.json) console.log(JSON.stringify({ ...result, missing: health }));
        else {
          if (result.applied.length === 0) console.log(`schema is current (version ${result.version})`);
          else console.log(`ran ${result.applied.map((s) => `sql/${s}`).join(', ')}; schema version ${result.version}`);
          for (const gap of health) console.error(`warning: no ${gap.missing} (installed without a superuser): ${gap.consequence}; run aqevent migrate as a superuser to add it`);
        }
      } finally {
        await context.close();
      }
    });
}
