import type { Command } from 'commander';
import { z } from 'zod';
import { DEFAULT_SUBJECT, forwardToNats } from '../../index.js';
import { checkedOptions, durationOption, positiveInt, sessionId as sessionIdArgument } from '../arguments.js';
import { withContext } from '../context.js';
import { out, toJson } from '../format.js';
import { stopSignal } from '../pg-boss.js';

const optionsSchema = z.object({
  nats: z.string().min(1),
  stream: z.string().min(1),
  subject: z.string().min(1),
  partitions: z.number().int().min(1),
  batch: z.number().int().min(1).max(10000),
  maxInFlight: z.number().int().min(1).max(10000),
  lease: z.number().positive(),
  duplicateWindow: z.number().positive(),
});

/** aqevent forward <session> --nats <url>: publishes the session's events into a JetStream stream, exactly once. */
export function registerForward(program: Command): void {
  program
    .command('forward')
    .description('forward a session\'s events into a NATS JetStream stream, exactly once, until SIGINT/SIGTERM')
    .argument('<session>', 'session id', sessionIdArgument)
    .option('--nats <url>', 'NATS server URL(s), comma separated', 'nats://127.0.0.1:4222')
    .option('--stream <name>', 'JetStream stream (created when missing, with subjects <first token of --subject>.>, e.g. aqevent.>)', 'AQEVENT')
    .option('--subject <template>', 'subject of each event: {schema} {table} {operation} {session} {partition}', DEFAULT_SUBJECT)
    .option('--partitions <n>', 'values of {partition}: hash of the row key modulo n', positiveInt, 1)
    .option('--batch <n>', 'events fetched at a time (1-10000)', positiveInt, 256)
    .option('--max-in-flight <n>', 'publishes awaiting their PubAck at once (1-10000)', positiveInt, 256)
    .addOption(durationOption('--lease <duration>', 'lease of fetched events (renewed while in flight)', 30_000))
    .addOption(durationOption('--duplicate-window <duration>', 'duplicate window of a stream created here', 120_000))
    .addHelpText('after', `
Each event is published as its JSON (as drain --json prints it) with the header
Nats-Msg-Id: <session id>:<event id>, and acknowledged in PostgreSQL only after JetStream's PubAck.
Events of one row are never in flight together, so each row's events are in order in the stream.
Subject tokens are the names with every character other than A-Z a-z 0-9 _ - written as %XX.
Connection losses (NATS or PostgreSQL) are retried with backoff, one line on stderr each.`)
    .action(async (id: string, raw: unknown, command: Command) => {
      const options = checkedOptions(optionsSchema, raw, 'forward options');
      const signal = stopSignal();
      await withContext(command, async ({ aq, json }) => {
        const session = await aq.attachSession(id);
        if (!json) console.error(`forwarding session ${id} to stream ${options.stream} at ${options.nats}`);
        const result = await forwardToNats(session, {
          servers: options.nats.split(','), stream: options.stream, subject: options.subject, partitions: options.partitions,
          batch: options.batch, maxInFlight: options.maxInFlight, lease: options.lease, duplicateWindow: options.duplicateWindow,
          signal, log: (line) => console.error(`aqevent: ${line}`),
        });
        out(json ? toJson(result) : `forwarded ${result.forwarded} events (${result.duplicates} already in the stream), released ${result.released}`);
      });
    });
}
