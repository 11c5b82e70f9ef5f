/**
 * Plans that do not depend on statistics. 1,000 sessions subscribed to one
 * table, the change log emptied and freshly vacuumed, and no ANALYZE of
 * anything since: two writers on new connections (their plans made now,
 * under those statistics) run single-row INSERTs for 2 minutes (in
 * --quick: 100 sessions, 4 s) in slices, alternating between a table
 * without capture and the captured one, while the log grows under its stale statistics. Then
 * ANALYZE, new connections, and the same for a shorter time with fresh
 * statistics. The figure: the captured/plain tps ratio of the second half
 * of the stale run (where plans gone bad would show), over the ratio with
 * fresh statistics; the worst single slice is reported beside it.
 */
import type pg from 'pg';
import { fmt, fmtX, reportRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, resetEvents, subscribeSessions } from '../support/tables.js';
import { median } from '../support/timing.js';
import { insertPhase } from '../support/writers.js';

const WITHIN = 0.9;
const WRITERS = 2;
const STATS_TABLES = 'event.change, event.subscription, event.session, event.listener, event.inbox, event.shape, bench.stale_plain, bench.stale_sub';

/** Per slice: captured tps / plain tps, the order alternating. */
async function slices(ctx: BenchContext, count: number, sliceSeconds: number): Promise<number[]> {
  const clients: pg.Client[] = await Promise.all(Array.from({ length: WRITERS }, () => ctx.db.client()));
  try {
    const ratios: number[] = [];
    for (let i = 0; i < count; i++) {
      const half = sliceSeconds / 2;
      let plain: number;
      let sub: number;
      if (i % 2 === 0) {
        plain = await insertPhase(clients, 'stale_plain', half);
        sub = await insertPhase(clients, 'stale_sub', half);
      } else {
        sub = await insertPhase(clients, 'stale_sub', half);
        plain = await insertPhase(clients, 'stale_plain', half);
      }
      ratios.push(sub / plain);
    }
    return ratios;
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

export const staleStats: Scenario = {
  name: 'stale-stats',
  title: 'Stale statistics: single-row INSERTs with 1,000 sessions subscribed, an empty vacuumed log, no ANALYZE',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const sessions = ctx.quick ? 100 : 1000;
    const sliceSeconds = ctx.quick ? 1 : 10;
    const staleSlices = ctx.quick ? 4 : 12;
    const freshSlices = ctx.quick ? 2 : 4;
    await createItemTable(pool, 'stale_plain');
    await createItemTable(pool, 'stale_sub');
    const made = Date.now();
    const ids = await subscribeSessions(pool, 'stale_sub', sessions);
    ctx.log(`stale-stats: ${sessions} sessions subscribed in ${Date.now() - made} ms`);
    await pool.query('DELETE FROM event.listener');
    await resetEvents(pool);
    await pool.query('VACUUM event.change');
    const { rows: [settings] } = await pool.query<{ autovacuum: string }>("SELECT current_setting('autovacuum') AS autovacuum");
    const stale = await slices(ctx, staleSlices, sliceSeconds);
    await pool.query(`ANALYZE ${STATS_TABLES}`);
    const fresh = await slices(ctx, freshSlices, sliceSeconds);
    const { rows: [log] } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM event.change');
    await pool.query('DELETE FROM event.session WHERE id = ANY ($1::uuid[])', [ids]);
    await resetEvents(pool);
    const staleLate = median(stale.slice(Math.floor(stale.length / 2)));
    const freshRatio = median(fresh);
    const ratioOfRatios = staleLate / freshRatio;
    const worst = Math.min(...stale) / freshRatio;
    ctx.log(`stale-stats: captured/plain ${fmt(staleLate)} stale (second half), ${fmt(freshRatio)} fresh; worst slice ${fmt(Math.min(...stale))}`);
    return {
      rows: [
        { scenario: 'stale-stats', measure: `${sessions} sessions, empty vacuumed log, no ANALYZE, ${staleSlices * sliceSeconds} s: ` +
            'single-row INSERT ratio to no capture, second half, over the ratio after ANALYZE',
          baseline: fmtX(freshRatio), subject: fmtX(staleLate), value: fmtX(ratioOfRatios), floor: '-',
          target: `>= ${WITHIN}x (within 10%)`, met: ratioOfRatios >= WITHIN },
        reportRow('stale-stats', `worst ${sliceSeconds} s slice of the stale run, over the ratio after ANALYZE (autovacuum ${settings!.autovacuum})`,
                  fmtX(freshRatio), fmtX(Math.min(...stale)), fmtX(worst)),
      ],
      results: { stale_stats_ratio_of_ratios: ratioOfRatios },
      details: { sessions, slice_seconds: sliceSeconds, stale_ratios: stale, fresh_ratios: fresh, change_rows_at_end: Number(log!.n),
                 autovacuum: settings!.autovacuum },
    };
  },
};
