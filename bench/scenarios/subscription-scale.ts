/**
 * Subscription scale. 10,000 row subscriptions spread over
 * 100 sessions on one table; single-row UPDATEs of an unsubscribed row and
 * of a subscribed row, against the same on a table with one row
 * subscription. Each UPDATE is its own transaction; synchronous_commit is
 * off for this client so that the WAL flush (the same for both) does not
 * drown the per-statement matching cost being measured.
 */
import type pg from 'pg';
import { fmt, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, insertRowsSql } from '../support/tables.js';
import { interleaved, timeMs } from '../support/timing.js';

const TARGET = 1.2;
const SUBSCRIBED_ROW = 1;

/** Row subscriptions to rows 1..sessions*perSession, perSession consecutive rows per session. */
async function subscribeRows(pool: pg.Pool, table: string, sessions: number, perSession: number): Promise<void> {
  const { rows } = await pool.query<{ subscriptions: number; sessions: number }>(
    `WITH s AS MATERIALIZED (SELECT n, event.session_create() AS id FROM generate_series(0, $2 - 1) AS n)
     SELECT count(DISTINCT sub)::int AS subscriptions, count(DISTINCT session_id)::int AS sessions
     FROM (SELECT s.id AS session_id, event.subscribe_row(s.id, meta.row_id('bench', $1, 'id', (s.n * $3 + k)::text)) AS sub
           FROM s CROSS JOIN generate_series(1, $3) AS k) x`,
    [table, sessions, perSession],
  );
  if (rows[0]!.subscriptions !== sessions * perSession || rows[0]!.sessions !== sessions) {
    throw new Error(`bench.${table}: expected ${sessions * perSession} row subscriptions over ${sessions} sessions, got ${JSON.stringify(rows[0])}`);
  }
}

async function updates(client: pg.Client, table: string, rowId: number, count: number): Promise<number> {
  const query = { name: `update_${table}`, text: `UPDATE bench.${table} SET quantity = quantity + 1 WHERE id = $1`, values: [rowId] };
  return timeMs(async () => {
    for (let i = 0; i < count; i++) await client.query(query);
  });
}

export const subscriptionScale: Scenario = {
  name: 'subscription-scale',
  title: 'Subscription scale (10,000 row subscriptions, 100 sessions)',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const sessions = ctx.quick ? 10 : 100;
    const perSession = ctx.quick ? 10 : 100;
    const subscriptions = sessions * perSession;
    const tableRows = subscriptions * 2;
    const unsubscribedRow = subscriptions + 1 + Math.floor(subscriptions / 2);
    const count = ctx.quick ? 100 : 1000;
    const repeats = ctx.quick ? 1 : 5;
    for (const table of ['subs_one', 'subs_many']) {
      await createItemTable(pool, table);
      await pool.query(insertRowsSql(table, 1, tableRows));
    }
    await subscribeRows(pool, 'subs_one', 1, 1);
    const started = Date.now();
    await subscribeRows(pool, 'subs_many', sessions, perSession);
    ctx.log(`subscription-scale: ${subscriptions} row subscriptions made in ${Date.now() - started} ms`);
    await pool.query('ANALYZE event.subscription, bench.subs_one, bench.subs_many');
    const client = await ctx.db.client();
    try {
      await client.query('SET synchronous_commit = off');
      const rows: ResultRow[] = [];
      const ratios: number[] = [];
      const details: Record<string, unknown> = { subscriptions, sessions, updates_per_run: count, repeats };
      for (const [label, rowId] of [['unsubscribed row', unsubscribedRow], ['subscribed row', SUBSCRIBED_ROW]] as const) {
        await updates(client, 'subs_one', rowId, 20); // warm plan caches
        await updates(client, 'subs_many', rowId, 20);
        const r = await interleaved(repeats,
          () => updates(client, 'subs_one', rowId, count),
          () => updates(client, 'subs_many', rowId, count));
        ratios.push(r.ratio);
        details[label] = { one_ms: r.baselines, many_ms: r.subjects };
        rows.push({
          scenario: 'subscription-scale', measure: `UPDATE of one ${label}, µs/statement`,
          baseline: fmt((r.baseline * 1000) / count, 0), subject: fmt((r.subject * 1000) / count, 0),
          value: `${fmt(r.ratio)}x`, floor: '-', target: `<= ${TARGET}x`, met: r.ratio <= TARGET,
        });
      }
      const worst = Math.max(...ratios);
      return { rows, results: { row_subs_10k_ratio: worst }, details };
    } finally {
      await client.end();
    }
  },
};
