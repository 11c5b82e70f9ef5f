import type { Command } from 'commander';
import { withContext } from '../context.js';
import { formatDuration, out, paint, printTable, toJson } from '../format.js';

/** aqevent stats */
export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('per session: backlog, in flight, dead letters, age of the oldest pending event')
    .action(async (_options, command: Command) => {
      await withContext(command, async ({ aq, json }) => {
        const stats = await aq.stats();
        if (json) return out(toJson(stats));
        if (stats.length === 0) return out(paint('no sessions', 'dim'));
        printTable(['SESSION', 'BACKLOG', 'IN FLIGHT', 'DEAD', 'OLDEST', 'ORDER', 'MAX ATTEMPTS'],
          stats.map((s) => [s.sessionId, String(s.backlog), String(s.inFlight), String(s.dead), formatDuration(s.oldestAgeMs),
            s.deliveryOrder, String(s.maxAttempts)]));
      });
    });
}
