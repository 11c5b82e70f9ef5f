/**
 * Issue #6 part 1: single-row writes. Two connections, each running
 * single-row INSERTs, every one its own (autocommit) transaction, for a
 * fixed time: a plain table against the same table with one table
 * subscription. Phases alternate plain/subscribed, repeated; the figure is
 * the median of the per-pair ratios of transactions per second.
 */
import type pg from 'pg';
import { fmt, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, INSERT_ONE_SQL, subscribeSessions } from '../support/tables.js';
import { interleaved } from '../support/timing.js';

const TARGET = 0.9;
const WRITERS = 2;

/** Transactions per second of WRITERS clients inserting into bench.<table> for `seconds`. */
async function phase(clients: pg.Client[], table: string, seconds: number, nextId: () => number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  const counts = await Promise.all(clients.map(async (client) => {
    let n = 0;
    const query = { name: `insert_${table}`, text: INSERT_ONE_SQL(table), values: [0] as unknown[] };
    while (Date.now() < deadline) {
      query.values = [nextId()];
      await client.query(query);
      n++;
    }
    return n;
  }));
  return counts.reduce((a, b) => a + b, 0) / seconds;
}

export const singleRow: Scenario = {
  name: 'single-row',
  title: 'Single-row writes (2 connections, one transaction each)',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const seconds = ctx.quick ? 1 : 3;
    const repeats = ctx.quick ? 1 : 5;
    await createItemTable(pool, 'single_plain');
    await createItemTable(pool, 'single_sub');
    await subscribeSessions(pool, 'single_sub', 1);
    const clients = await Promise.all(Array.from({ length: WRITERS }, () => ctx.db.client()));
    let id = 0;
    const nextId = () => ++id;
    try {
      // Warm both: connections, prepared statements, plan caches.
      await phase(clients, 'single_plain', 0.3, nextId);
      await phase(clients, 'single_sub', 0.3, nextId);
      // interleaved() takes costs (lower is better): use seconds per transaction.
      const r = await interleaved(repeats,
        async () => 1 / (await phase(clients, 'single_plain', seconds, nextId)),
        async () => 1 / (await phase(clients, 'single_sub', seconds, nextId)));
      const plainTps = 1 / r.baseline;
      const subTps = 1 / r.subject;
      const ratio = 1 / r.ratio;
      ctx.log(`single-row: plain ${fmt(plainTps, 0)} tps, subscribed ${fmt(subTps, 0)} tps`);
      // What NOTIFY costs here: the same, with event._notify (every
      // notification goes through it, sql/061) a no-op in this throw-away
      // database (the transaction then takes no cluster-wide notify lock at
      // commit), then restored.
      const notify = 'event._notify(text, text)';
      const { rows: [original] } = await pool.query<{ sql: string }>(`SELECT pg_get_functiondef('${notify}'::regprocedure) AS sql`);
      await pool.query(`CREATE OR REPLACE FUNCTION event._notify(channel text, payload text) RETURNS void
                        LANGUAGE sql AS 'SELECT'`);
      let quiet;
      try {
        quiet = await interleaved(Math.max(1, Math.ceil(repeats / 2)),
          async () => 1 / (await phase(clients, 'single_plain', seconds, nextId)),
          async () => 1 / (await phase(clients, 'single_sub', seconds, nextId)));
      } finally {
        await pool.query(original!.sql);
      }
      const quietRatio = 1 / quiet.ratio;
      return {
        rows: [{
          scenario: 'single-row', measure: `${WRITERS} writers, INSERT per transaction, tps`,
          baseline: fmt(plainTps, 0), subject: fmt(subTps, 0), value: `${fmt(ratio)}x`,
          target: `>= ${TARGET}x`, met: ratio >= TARGET,
        }, {
          scenario: 'single-row', measure: 'the same without notifications',
          baseline: fmt(1 / quiet.baseline, 0), subject: fmt(1 / quiet.subject, 0), value: `${fmt(quietRatio)}x`,
          target: 'report', met: null,
        }],
        results: { single_row_tps_ratio: ratio },
        details: { seconds, repeats, writers: WRITERS,
                   plain_tps: r.baselines.map((x) => 1 / x), subscribed_tps: r.subjects.map((x) => 1 / x),
                   without_notify: { ratio: quietRatio, plain_tps: quiet.baselines.map((x) => 1 / x),
                                     subscribed_tps: quiet.subjects.map((x) => 1 / x) } },
      };
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  },
};
