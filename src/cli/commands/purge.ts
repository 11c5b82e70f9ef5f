import type { Command } from 'commander';
import { z } from 'zod';
import { purge } from '../../index.js';
import { checkedOptions, duration } from '../arguments.js';
import { type GlobalOptions, openContext } from '../context.js';

const optionsSchema = z.object({ olderThan: z.number(), pending: z.boolean().optional() });

/** aqevent purge --older-than <duration> [--pending] */
export function registerPurge(program: Command): void {
  program
    .command('purge')
    .description('delete dead letters older than a duration (and, with --pending, unacknowledged events too); needs aqevent_admin')
    .requiredOption('--older-than <duration>', 'age, e.g. 7d, 12h, PT30M', duration)
    .option('--pending', 'also delete pending (never acknowledged) events older than that: they are lost')
    .action(async (raw: unknown, command: Command) => {
      const options = checkedOptions(optionsSchema, raw, 'purge options');
      const context = await openContext(command.optsWithGlobals<GlobalOptions>());
      try {
        const result = await purge(context.pool, { olderThan: options.olderThan, pending: options.pending ?? false });
        console.log(context.json ? JSON.stringify(result) : `purged ${result.deadLetters} dead letters and ${result.pending} pending events`);
      } finally {
        await context.close();
      }
    });
}
