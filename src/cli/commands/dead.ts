import type { Command } from 'commander';
import { type DeadLetter, eventSchema } from '../../index.js';
import { eventId, many, sessionId } from '../arguments.js';
import { withContext } from '../context.js';
import { eventLine, formatTime, out, paint, printTable, toJson } from '../format.js';

function describe(letter: DeadLetter): string {
  const event = eventSchema.safeParse(letter.event);
  return event.success ? eventLine(event.data) : `#${letter.id} ${toJson(letter.event)}`;
}

/** aqevent dead <session> [id...] [--requeue] */
export function registerDead(program: Command): void {
  program
    .command('dead')
    .description('list the dead letters of a session; with --requeue, put them back into the queue')
    .argument('<session>', 'session id', sessionId)
    .argument('[id...]', 'only these event ids (default: all)', many(eventId))
    .option('--requeue', 'move the dead letters (all, or the ids given) back into the queue with attempts 0')
    .action(async (id: string, ids: string[] | undefined, options: { requeue?: boolean }, command: Command) => {
      await withContext(command, async ({ aq, json }) => {
        const session = aq.session(id);
        if (options.requeue) {
          const requeued = await session.requeue(ids?.length ? ids : undefined);
          return out(json ? toJson({ requeued }) : `requeued ${requeued} dead letter${requeued === 1 ? '' : 's'}`);
        }
        const wanted = ids?.length ? new Set(ids) : undefined;
        const letters = (await session.deadLetters()).filter((letter) => !wanted || wanted.has(letter.id));
        if (json) return out(toJson(letters));
        if (letters.length === 0) return out(paint('no dead letters', 'dim'));
        printTable(['ID', 'ATTEMPTS', 'DIED', 'LAST ERROR'],
          letters.map((l) => [l.id, String(l.attempts), formatTime(l.diedAt), l.lastError ?? '']));
        out('');
        for (const letter of letters) out(describe(letter));
      });
    });
}
