import type { Command } from 'commander';
import type { Session } from '../../index.js';
import { durationOption, positiveInt, sessionId } from '../arguments.js';
import { withContext } from '../context.js';
import { printEvent } from '../events.js';
import { out, paint } from '../format.js';

const PAGE = 1000;

/** Prints queued events without taking them (peek): they stay pending, attempts unchanged. */
async function look(session: Session, max: number, json: boolean): Promise<number> {
  let printed = 0;
  let after: string | undefined;
  while (printed < max) {
    const page = await session.peek({ max: Math.min(PAGE, max - printed), after });
    for (const event of page) printEvent(event, json);
    printed += page.length;
    if (page.length === 0) break;
    after = page.at(-1)!.id;
  }
  return printed;
}

/** Leases, prints, then acknowledges deliverable events, a batch at a time. */
async function consume(session: Session, max: number, lease: number, json: boolean): Promise<number> {
  let printed = 0;
  while (printed < max) {
    const batch = await session.fetch({ max: Math.min(PAGE, max - printed), lease });
    if (batch.length === 0) break;
    for (const event of batch) printEvent(event, json);
    await session.ack(batch);
    printed += batch.length;
  }
  return printed;
}

/** aqevent drain <session> [--max N] [--ack] */
export function registerDrain(program: Command): void {
  program
    .command('drain')
    .description('print the events pending in a session and exit; with --ack, acknowledge them')
    .argument('<session>', 'session id', sessionId)
    .option('--max <n>', 'print at most n events', positiveInt)
    .option('--ack', 'acknowledge what was printed (leases deliverable events, prints, acks); without it nothing changes')
    .addOption(durationOption('--lease <duration>', 'with --ack: lease per batch', 30_000))
    .addHelpText('after', `
Without --ack, drain only reads (event.peek): every queued event is printed, leased ones included,
and stays pending with its attempts unchanged. With --ack it consumes like any consumer: deliverable
events are fetched (one attempt each), printed and acknowledged.`)
    .action(async (id: string, options: { max?: number; ack?: boolean; lease: number }, command: Command) => {
      await withContext(command, async ({ aq, json }) => {
        const session = await aq.attachSession(id);
        const max = options.max ?? Number.MAX_SAFE_INTEGER;
        try {
          const count = options.ack ? await consume(session, max, options.lease, json) : await look(session, max, json);
          if (!json) out(paint(count === 0 ? 'no events pending' : `${count} event${count === 1 ? '' : 's'}${options.ack ? ', acknowledged' : ', still pending'}`, 'dim'));
        } finally {
          await session.detach();
        }
      });
    });
}
