import type { Command } from 'commander';
import { ddlFailures, installGaps, liveForwarders } from '../../index.js';
import { withContext } from '../context.js';
import { formatDuration, formatTime, out, paint, printTable, toJson } from '../format.js';

/** aqevent stats */
export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('per session: backlog, in flight, dead letters, age of the oldest pending event; forwarders and their lag')
    .action(async (_options, command: Command) => {
      await withContext(command, async ({ aq, pool, json }) => {
        const [stats, forwarders, gaps, failures] = await Promise.all([aq.stats(), liveForwarders(pool), installGaps(pool), ddlFailures(pool, 5)]);
        // Installed without a superuser: say what is missing, every time (stderr, so --json stays parseable).
        for (const gap of gaps) {
          console.error(`warning: no ${gap.missing}: ${gap.consequence}; run aqevent migrate once as a superuser to add it`);
        }
        for (const f of failures) {
          console.error(`warning: ${f.commandTag ?? 'a DDL command'} at ${formatTime(f.failedAt)} committed without its aqevent events: ${f.message} (${f.sqlstate})`);
        }
        const bySession = new Map(stats.map((s) => [s.sessionId, s]));
        // A forwarder's lag is what its session still holds: not yet fetched, or published and not yet acked.
        const lagging = forwarders.map((f) => {
          const s = bySession.get(f.sessionId);
          return { ...f, lag: s ? s.backlog + s.inFlight : null, oldestAgeMs: s?.oldestAgeMs ?? null };
        });
        if (json) {
          return out(toJson(stats.map((s) => ({
            ...s, forwarders: lagging.filter((f) => f.sessionId === s.sessionId).map(({ stream, connections }) => ({ stream, connections })),
          }))));
        }
        if (stats.length === 0) return out(paint('no sessions', 'dim'));
        printTable(['SESSION', 'BACKLOG', 'IN FLIGHT', 'DEAD', 'OLDEST', 'ORDER', 'MAX ATTEMPTS'],
          stats.map((s) => [s.sessionId, String(s.backlog), String(s.inFlight), String(s.dead), formatDuration(s.oldestAgeMs),
            s.deliveryOrder, String(s.maxAttempts)]));
        if (lagging.length > 0) {
          out('');
          printTable(['FORWARDER OF SESSION', 'STREAM', 'CONNECTIONS', 'LAG (EVENTS)', 'LAG (TIME)'],
            lagging.map((f) => [f.sessionId, f.stream, String(f.connections), f.lag === null ? '-' : String(f.lag), formatDuration(f.oldestAgeMs)]));
        }
      });
    });
}
