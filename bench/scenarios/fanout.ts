/**
 * Issue #6 part 4: fan-out. 1, 10 and 100 sessions with a table
 * subscription each on one table; a 10,000-row INSERT … SELECT. The cost of
 * one queue row is (subscribed time - unsubscribed time) / queue rows, in
 * nanoseconds; it should stay flat as sessions grow (here: at 100 sessions
 * within 1.25x of the figure at one session).
 */
import { fmt, fmtMs, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, insertRowsSql, resetQueue, subscribeSessions } from '../support/tables.js';
import { interleaved, median, timeMs } from '../support/timing.js';

const SESSION_COUNTS = [1, 10, 100] as const;
const FLAT = 1.25;

export const fanout: Scenario = {
  name: 'fanout',
  title: 'Fan-out (1, 10, 100 sessions; 10,000-row insert)',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const rows = ctx.quick ? 1_000 : 10_000;
    const repeats = ctx.quick ? 1 : 3;
    await createItemTable(pool, 'fan_plain');
    const nsPerEvent: Record<string, number> = {};
    const out: ResultRow[] = [];
    const details: Record<string, unknown> = { rows, repeats };
    for (const sessions of SESSION_COUNTS) {
      const table = `fan_${sessions}`;
      await createItemTable(pool, table);
      await subscribeSessions(pool, table, sessions);
      const run = (name: string) => async () => {
        await pool.query(`TRUNCATE bench.${name}`);
        await resetQueue(pool);
        return timeMs(() => pool.query(insertRowsSql(name, 1, rows)));
      };
      // A million events per run at 100 sessions: two runs are enough there.
      const r = await interleaved(sessions >= 100 ? Math.min(repeats, 2) : repeats, run('fan_plain'), run(table));
      const events = rows * sessions;
      const perPair = r.subjects.map((s, i) => ((s - r.baselines[i]!) * 1e6) / events);
      const ns = median(perPair);
      nsPerEvent[String(sessions)] = Math.round(ns);
      details[String(sessions)] = { plain_ms: r.baselines, subscribed_ms: r.subjects };
      ctx.log(`fanout ${sessions}: plain ${fmtMs(r.baseline)}, subscribed ${fmtMs(r.subject)}, ${fmt(ns, 0)} ns/event`);
      out.push({
        scenario: 'fanout', measure: `${sessions} session(s), ${events.toLocaleString('en-US')} events, ns/event`,
        baseline: fmtMs(r.baseline), subject: fmtMs(r.subject), value: fmt(ns, 0),
        target: sessions === 1 ? 'reference' : `<= ${FLAT}x of 1 session`,
        met: sessions === 1 ? null : ns <= FLAT * nsPerEvent['1']!,
      });
    }
    await resetQueue(pool);
    return { rows: out, results: { fanout_ns_per_event: nsPerEvent }, details };
  },
};
