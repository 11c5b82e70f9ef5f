import type { Command } from 'commander';
import { durationOption, eventId, many, sessionId } from '../arguments.js';
import { withContext } from '../context.js';
import { out, toJson } from '../format.js';

/** aqevent ack <session> <id...>  and  aqevent nack <session> <id...> [--delay d] [--error text] */
export function registerAck(program: Command): void {
  program
    .command('ack')
    .description('acknowledge events: they are removed for good')
    .argument('<session>', 'session id', sessionId)
    .argument('<id...>', 'event ids', many(eventId))
    .action(async (id: string, ids: string[], _options, command: Command) => {
      await withContext(command, async ({ aq, json }) => {
        const each = await aq.session(id).ackEach(ids);
        const acked = each.filter((e) => e.acknowledged).length;
        const notFound = each.filter((e) => !e.acknowledged).map((e) => e.id);
        out(json ? toJson({ acked, requested: ids.length, not_found: notFound })
          : `acknowledged ${acked} of ${ids.length}${notFound.length ? `; not pending: ${notFound.join(', ')}` : ''}`);
      });
    });

  program
    .command('nack')
    .description('return events to the queue, to be delivered again after --delay')
    .argument('<session>', 'session id', sessionId)
    .argument('<id...>', 'event ids', many(eventId))
    .addOption(durationOption('--delay <duration>', 'deliver again after this long', 0, 'now'))
    .option('--error <text>', 'kept as the events\' last_error')
    .action(async (id: string, ids: string[], options: { delay: number; error?: string }, command: Command) => {
      await withContext(command, async ({ aq, json }) => {
        const nacked = await aq.session(id).nack(ids, { delay: options.delay, error: options.error });
        out(json ? toJson({ nacked, requested: ids.length }) : `returned ${nacked} of ${ids.length}`);
      });
    });
}
