import type { Command } from 'commander';
import { migrate } from '../../index.js';
import { type GlobalOptions, openContext } from '../context.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('create or upgrade the meta and event schemas (safe to run any number of times)')
    .action(async (_options, command: Command) => {
      const context = await openContext(command.optsWithGlobals<GlobalOptions>());
      try {
        const result = await migrate(context.pool);
        if (context.json) console.log(JSON.stringify(result));
        else if (result.applied.length === 0) console.log(`schema is current (version ${result.version})`);
        else console.log(`applied ${result.applied.map((v) => String(v).padStart(3, '0')).join(', ')}; schema version ${result.version}`);
      } finally {
        await context.close();
      }
    });
}
