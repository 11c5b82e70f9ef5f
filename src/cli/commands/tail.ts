import type { Command } from 'commander';
import type { AqeventError, Session } from '../../index.js';
import { duration, durationOption, sessionId, UsageError } from '../arguments.js';
import { withContext } from '../context.js';
import { printEvent } from '../events.js';

interface TailOptions {
  ack?: boolean;
  since?: number;
  lease: number;
}

/** An AbortSignal for SIGINT / SIGTERM; a second signal ends the process at once. */
function stopSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

const reportLoss = (error: AqeventError) => console.error(`aqevent: ${error.message}; reconnecting`);

/** Without --ack: read only (session.follow: peek, woken by LISTEN). */
async function watch(session: Session, options: TailOptions, signal: AbortSignal, json: boolean): Promise<void> {
  const since = options.since === undefined ? undefined : new Date(Date.now() - options.since);
  // Notifications wake it; the poll only covers lost ones (nothing is leased, so no lease ends to notice).
  for await (const event of session.follow({ since, signal, onError: reportLoss, pollInterval: 5_000 })) printEvent(event, json);
}

/** With --ack: a consumer (session.events, auto ack): each printed event is acknowledged. */
async function consume(session: Session, options: TailOptions, signal: AbortSignal, json: boolean): Promise<void> {
  for await (const event of session.events({ ack: 'auto', lease: options.lease, signal, onError: reportLoss })) {
    printEvent(event, json);
  }
}

/** aqevent tail <session> [--ack] [--since <duration>] */
export function registerTail(program: Command): void {
  program
    .command('tail')
    .description('print the pending events of a session, then follow new ones until Ctrl-C')
    .argument('<session>', 'session id', sessionId)
    .option('--ack', 'acknowledge each printed event (consume); without it, tail only reads')
    .option('--since <duration>', 'only events newer than now minus this (by event timestamp); older ones are not printed and stay queued', duration)
    .addOption(durationOption('--lease <duration>', 'with --ack: lease per batch', 30_000))
    .addHelpText('after', `
Without --ack, tail only reads (session.follow: event.peek, woken by LISTEN): it takes no lease, counts no attempt,
and every event stays pending for the session's consumers. With --ack it is a consumer: events are
leased, printed and acknowledged; on Ctrl-C the ones not yet printed go back to the queue, and if
tail is killed, unacknowledged events come back when their lease ends. --since cannot be combined
with --ack (a consumer cannot skip events without acknowledging or redelivering them).
SIGINT and SIGTERM stop tail cleanly with exit code 0. Lost connections are retried (reported on stderr).`)
    .action(async (id: string, options: TailOptions, command: Command) => {
      if (options.ack && options.since !== undefined) throw new UsageError('--since cannot be combined with --ack');
      await withContext(command, async ({ aq, json }) => {
        const session = await aq.attachSession(id);
        const stop = stopSignal();
        if (process.stderr.isTTY && !json) console.error(`following ${session.id}${options.ack ? ', acknowledging' : ' (read only)'}; Ctrl-C to stop`);
        try {
          await (options.ack ? consume : watch)(session, options, stop.signal, json);
        } finally {
          stop.dispose();
          await session.detach().catch(() => {});
        }
      });
    });
}
