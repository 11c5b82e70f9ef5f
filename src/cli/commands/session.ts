import type { Command } from 'commander';
import type { SessionSummary } from '../../index.js';
import { deliveryOrder, duration, positiveInt, sessionId } from '../arguments.js';
import { withContext } from '../context.js';
import { formatDuration, formatTime, out, paint, printFields, printTable, toJson } from '../format.js';
import { formatKey, quoteIdent } from '../quote.js';

function overflowText(s: { overflowedAt: Date | null; overflowEventId: string | null; eventsDropped: number }): string {
  return s.overflowedAt ? paint(`overflowed ${formatTime(s.overflowedAt)} (event #${s.overflowEventId}, ≥${s.eventsDropped} dropped; run session_resume)`, 'red') : 'no';
}

function stateText(s: SessionSummary): string {
  return s.detachedAt && s.detachedAt >= s.lastAttachedAt ? 'detached' : 'attached';
}

/** aqevent session create|list|show|detach|delete */
export function registerSession(program: Command): void {
  const session = program.command('session').description('create, list, inspect, detach and delete sessions');

  session
    .command('create')
    .description('create a session owned by the connecting role and print its id')
    .option('--ttl <duration>', 'delete the session when it has not been attached for this long (e.g. 7d, PT12H)', duration)
    .option('--max-attempts <n>', 'deliveries before an event becomes a dead letter (default 5)', positiveInt)
    .option('--delivery-order <order>', 'strict (default) or parallel', deliveryOrder)
    .action(async (options: { ttl?: number; maxAttempts?: number; deliveryOrder?: 'strict' | 'parallel' }, command: Command) => {
      await withContext(command, async ({ aq, json }) => {
        const created = await aq.createSession({ ttl: options.ttl, maxAttempts: options.maxAttempts, deliveryOrder: options.deliveryOrder });
        out(json ? toJson({ id: created.id }) : created.id);
      });
    });

  session
    .command('list')
    .description("list your sessions with their queue state")
    .action(async (_options, command: Command) => {
      await withContext(command, async ({ aq, json }) => {
        const sessions = await aq.sessions();
        if (json) return out(toJson(sessions));
        printTable(['SESSION', 'STATE', 'SUBS', 'BACKLOG', 'IN FLIGHT', 'DEAD', 'OLDEST', 'TTL', 'CREATED'],
          sessions.map((s) => [s.id, stateText(s), String(s.subscriptions), String(s.backlog), String(s.inFlight), String(s.dead),
            formatDuration(s.oldestAgeMs), formatDuration(s.ttlMs), formatTime(s.createdAt)]));
      });
    });

  session
    .command('show')
    .description('show one session: state, queue, settings and subscriptions')
    .argument('<session>', 'session id', sessionId)
    .action(async (id: string, _options, command: Command) => {
      await withContext(command, async ({ aq, json }) => {
        const s = await aq.session(id).info();
        if (json) return out(toJson(s));
        printFields([
          ['session', s.id],
          ['owner', s.owner],
          ['state', stateText({ ...s, subscriptions: s.subscriptionCount })],
          ['created', formatTime(s.createdAt)],
          ['attached', formatTime(s.lastAttachedAt)],
          ['detached', formatTime(s.detachedAt)],
          ['ttl', s.ttlMs === null ? 'none' : formatDuration(s.ttlMs)],
          ['backlog', String(s.backlog)],
          ['in flight', String(s.inFlight)],
          ['dead', String(s.dead)],
          ['oldest', formatDuration(s.oldestAgeMs)],
          ['delivery', `${s.deliveryOrder}, max ${s.maxAttempts} attempts`],
          ['notify', s.notifyPayload],
          ['overflow', overflowText(s)],
          ['subscriptions', String(s.subscriptionCount)],
        ]);
        if (s.subscriptions.length === 0) return;
        out('');
        printTable(['SUBSCRIPTION', 'KIND', 'TABLE', 'KEY', 'COLUMN', 'COLUMNS', 'FILTER'],
          s.subscriptions.map((sub) => [sub.id, sub.kind, sub.table, sub.key ? formatKey(sub.key) : '',
            sub.column === null ? '' : quoteIdent(sub.column), sub.columns ? sub.columns.map(quoteIdent).join(',') : '',
            sub.filter ?? '']));
      });
    });

  session
    .command('detach')
    .description('mark a session detached (it keeps collecting events)')
    .argument('<session>', 'session id', sessionId)
    .action(async (id: string, _options, command: Command) => {
      await withContext(command, async ({ aq, json }) => {
        await aq.session(id).detach();
        out(json ? toJson({ id, detached: true }) : `detached ${id}`);
      });
    });

  session
    .command('delete')
    .description('delete a session with its subscriptions, queued events and dead letters')
    .argument('<session>', 'session id', sessionId)
    .action(async (id: string, _options, command: Command) => {
      await withContext(command, async ({ aq, json }) => {
        await aq.deleteSession(id);
        out(json ? toJson({ id, deleted: true }) : `deleted ${id}`);
      });
    });
}
