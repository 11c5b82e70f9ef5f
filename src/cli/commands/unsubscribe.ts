import type { Command } from 'commander';
import { subscriptionId } from '../arguments.js';
import { withContext } from '../context.js';
import { out, toJson } from '../format.js';

/** aqevent unsubscribe <subscription> */
export function registerUnsubscribe(program: Command): void {
  program
    .command('unsubscribe')
    .description('remove a subscription (its events already queued stay)')
    .argument('<subscription>', 'subscription id', subscriptionId)
    .action(async (id: string, _options, command: Command) => {
      await withContext(command, async ({ aq, json }) => {
        await aq.unsubscribe(id);
        out(json ? toJson({ id, unsubscribed: true }) : `unsubscribed ${id}`);
      });
    });
}
