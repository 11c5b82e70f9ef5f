import type { Command } from 'commander';
import { z } from 'zod';
import { bridgeToPgBoss } from '../../index.js';
import { checkedOptions, positiveInt, sessionId as sessionIdArgument } from '../arguments.js';
import { type GlobalOptions, openContext } from '../context.js';
import { startBoss, stopSignal } from '../pg-boss.js';

const optionsSchema = z.object({
  queue: z.string().min(1),
  batchSize: z.number().int().min(1).max(10000),
  schema: z.string().min(1),
  untilEmpty: z.boolean().optional(),
});

/** aqevent bridge <session> --queue <name>: moves the session's events into a pg-boss queue. */
export function registerBridge(program: Command): void {
  program
    .command('bridge')
    .description('move a session\'s events into a pg-boss queue, atomically, until SIGINT/SIGTERM')
    .argument('<session>', 'session id', sessionIdArgument)
    .requiredOption('--queue <name>', 'pg-boss queue (created when missing)')
    .option('--batch-size <n>', 'events moved per transaction (1-10000)', positiveInt, 100)
    .option('--schema <name>', 'pg-boss schema', 'pgboss')
    .option('--until-empty', 'stop once the session has nothing deliverable')
    .action(async (sessionId: string, raw: unknown, command: Command) => {
      const options = checkedOptions(optionsSchema, raw, 'bridge options');
      const signal = stopSignal();
      const context = await openContext(command.optsWithGlobals<GlobalOptions>());
      try {
        const boss = await startBoss(context, options.schema);
        try {
          if (!context.json) console.error(`bridging session ${sessionId} to pg-boss queue "${options.queue}"`);
          const result = await bridgeToPgBoss({
            pool: context.pool, sessionId, boss, queue: options.queue, schema: options.schema,
            batchSize: options.batchSize, untilEmpty: options.untilEmpty ?? false, signal,
            onError: (error) => console.error(`aqevent: ${error.message} (retrying)`),
          });
          console.log(context.json ? JSON.stringify(result) : `moved ${result.moved} events`);
        } finally {
          await boss.stop({ graceful: false, wait: true });
        }
      } finally {
        await context.close();
      }
    });
}
