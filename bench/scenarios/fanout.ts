/**
 * Issue #6 part 4: fan-out. 1, 10 and 100 sessions with a table
 * subscription each on one table; a 10,000-row INSERT … SELECT. The cost of
 * one event is (subscribed time - unsubscribed time) / events, in
 * nanoseconds; it should stay flat as sessions grow (here: at 100 sessions
 * within 1.25x of the figure at one session). For each count the floor is
 * reported too: the same number of real event rows (those of the
 * one-session run as a fetch makes them, repeated per session) inserted
 * into a copy of event.queue without triggers: what one queue row per
 * event would cost at that size (buffers, WAL, checkpoints).
 */
import { fmt, fmtMs, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { CAPTURED_EVENTS_SQL, createItemTable, insertRowsSql, QUEUE_STORAGE_COLUMNS, resetQueue, subscribeSessions } from '../support/tables.js';
import type pg from 'pg';
import { interleaved, median, timeMs } from '../support/timing.js';

const SESSION_COUNTS = [1, 10, 100] as const;
const FLAT = 1.25;

/** ns per row of writing `sessions` copies of the sample events, without triggers. */
async function floorNs(pool: pg.Pool, sessions: number): Promise<number> {
  await pool.query('TRUNCATE bench.fan_floor');
  const ms = await timeMs(() => pool.query(
    `INSERT INTO bench.fan_floor (${QUEUE_STORAGE_COLUMNS})
     SELECT ${QUEUE_STORAGE_COLUMNS.replace('session_id', 'md5(k::text)::uuid')}
     FROM bench.fan_sample e CROSS JOIN generate_series(1, $1) AS k`, [sessions]));
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bench.fan_sample');
  await pool.query('TRUNCATE bench.fan_floor');
  return (ms * 1e6) / (rows[0]!.n * sessions);
}

export const fanout: Scenario = {
  name: 'fanout',
  title: 'Fan-out (1, 10, 100 sessions; 10,000-row insert)',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const rows = ctx.quick ? 1_000 : 10_000;
    await createItemTable(pool, 'fan_plain');
    const nsPerEvent: Record<string, number> = {};
    const out: ResultRow[] = [];
    const details: Record<string, unknown> = { rows };
    for (const sessions of SESSION_COUNTS) {
      const table = `fan_${sessions}`;
      await createItemTable(pool, table);
      await subscribeSessions(pool, table, sessions);
      const run = (name: string) => async () => {
        await pool.query(`TRUNCATE bench.${name}`);
        await resetQueue(pool);
        return timeMs(() => pool.query(insertRowsSql(name, 1, rows)));
      };
      // The one-session figure is the reference and cheap to repeat; a
      // million events per run at 100 sessions: two runs are enough there.
      const runs = ctx.quick ? 1 : { 1: 5, 10: 3, 100: 2 }[sessions];
      const r = await interleaved(runs, run('fan_plain'), run(table));
      if (sessions === 1) {
        await run(table)(); // its events are the floor's sample
        await pool.query(`CREATE TABLE bench.fan_sample AS SELECT ${QUEUE_STORAGE_COLUMNS} FROM (${CAPTURED_EVENTS_SQL}) e`);
        await pool.query('CREATE TABLE bench.fan_floor (LIKE event.queue INCLUDING ALL)');
      }
      const floor = await floorNs(pool, sessions);
      const events = rows * sessions;
      const perPair = r.subjects.map((s, i) => ((s - r.baselines[i]!) * 1e6) / events);
      const ns = median(perPair);
      nsPerEvent[String(sessions)] = Math.round(ns);
      details[String(sessions)] = { runs, plain_ms: r.baselines, subscribed_ms: r.subjects, floor_ns_per_event: Math.round(floor) };
      ctx.log(`fanout ${sessions}: plain ${fmtMs(r.baseline)}, subscribed ${fmtMs(r.subject)}, ${fmt(ns, 0)} ns/event, floor ${fmt(floor, 0)}`);
      out.push({
        scenario: 'fanout',
        measure: `${sessions} session(s), ${events.toLocaleString('en-US')} events, ns/event (floor ${fmt(floor, 0)})`,
        baseline: fmtMs(r.baseline), subject: fmtMs(r.subject), value: fmt(ns, 0),
        target: sessions === 1 ? 'reference' : `<= ${FLAT}x of 1 session`,
        met: sessions === 1 ? null : ns <= FLAT * nsPerEvent['1']!,
      });
    }
    await resetQueue(pool);
    return { rows: out, results: { fanout_ns_per_event: nsPerEvent }, details };
  },
};
