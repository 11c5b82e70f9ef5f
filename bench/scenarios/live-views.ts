/**
 * Live views (filters and row-level security). Two figures:
 *
 * - The writer: single-row INSERTs (2 connections) into a table with one
 *   unfiltered subscription, and into one with 100 sessions each filtered
 *   (`account_id = k`), rounds rotated. The filters are the reader's work, so
 *   the writer should not see them (target within 5%).
 * - The reader: events per second delivered (fetch + ack, 1000 a batch) of
 *   the same rows to a session with no filter, with a filter every row passes
 *   (`quantity >= 0`), and subscribed as a role under row-level security
 *   (a policy every row passes), rounds rotated: the cost of judging each row
 *   as the subscriber. Each round inserts the rows anew.
 */
import type pg from 'pg';
import { fmt, fmtX, reportRow, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, insertRowsSql, resetEvents, subscribeSessions } from '../support/tables.js';
import { median, pairRatio, rotated } from '../support/timing.js';
import { insertPhase } from '../support/writers.js';

const WRITER_VS_UNFILTERED = 0.95;
const WRITERS = 2;
const RLS_ROLE = 'aqevent_bench_rls';

async function filteredSessions(pool: pg.Pool, table: string, count: number): Promise<void> {
  await pool.query(
    `SELECT event.subscribe_table(event.session_create(), meta.relation_id('bench', $1), filter => format('account_id = %s', g))
     FROM generate_series(1, $2) g`, [table, count]);
}

/** Events/s of fetching and acking everything pending for the session, as the client's role. */
async function drainRate(client: pg.Client, session: string, expected: number): Promise<number> {
  const started = process.hrtime.bigint();
  let seen = 0;
  for (;;) {
    const { rows } = await client.query<{ id: string }>("SELECT id FROM event.fetch_events($1, 1000, '5 minutes')", [session]);
    if (rows.length === 0) break;
    seen += rows.length;
    await client.query('SELECT event.ack($1, $2::bigint[])', [session, rows.map((r) => r.id)]);
  }
  if (seen !== expected) throw new Error(`live-views: drained ${seen} events, expected ${expected}`);
  return seen / (Number(process.hrtime.bigint() - started) / 1e9);
}

export const liveViews: Scenario = {
  name: 'live-views',
  title: 'Filters and row-level security: the writer beside one unfiltered subscription, the reader with and without',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const seconds = ctx.quick ? 0.5 : 3;
    const rounds = ctx.quick ? 1 : 5;
    const rows = ctx.quick ? 2000 : 20000;
    await createItemTable(pool, 'lv_one');
    await createItemTable(pool, 'lv_filtered');
    await subscribeSessions(pool, 'lv_one', 1);
    await filteredSessions(pool, 'lv_filtered', 100);
    for (const table of ['lv_plain', 'lv_filter', 'lv_rls']) await createItemTable(pool, table);
    await pool.query(`DO $$ BEGIN
                        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${RLS_ROLE}') THEN
                          CREATE ROLE ${RLS_ROLE};
                        END IF;
                      END $$`);
    await pool.query(`GRANT aqevent_user TO ${RLS_ROLE}; GRANT USAGE ON SCHEMA bench TO ${RLS_ROLE};
                      GRANT SELECT ON bench.lv_rls TO ${RLS_ROLE};
                      ALTER TABLE bench.lv_rls ENABLE ROW LEVEL SECURITY;
                      CREATE POLICY every_row ON bench.lv_rls FOR SELECT USING (quantity >= 0);
                      SELECT event.enable_capture('bench.lv_rls')`);
    const [plainSession] = await subscribeSessions(pool, 'lv_plain', 1);
    const filterSession = (await pool.query<{ id: string }>(
      `SELECT s.id, event.subscribe_table(s.id, meta.relation_id('bench', 'lv_filter'), filter => 'quantity >= 0')
       FROM (SELECT event.session_create() AS id) s`)).rows[0]!.id;
    const clients = await Promise.all(Array.from({ length: WRITERS }, () => ctx.db.client()));
    const reader = await ctx.db.client();
    const rlsReader = await ctx.db.client();
    try {
      await rlsReader.query(`SET ROLE ${RLS_ROLE}`);
      const rlsSession = (await rlsReader.query<{ id: string }>(
        `SELECT s.id, event.subscribe_table(s.id, meta.relation_id('bench', 'lv_rls'))
         FROM (SELECT event.session_create() AS id) s`)).rows[0]!.id;
      for (const table of ['lv_one', 'lv_filtered']) await insertPhase(clients, table, 0.3);
      const tps = await rotated(rounds, {
        one: () => insertPhase(clients, 'lv_one', seconds),
        filtered: () => insertPhase(clients, 'lv_filtered', seconds),
      });
      await resetEvents(pool);
      let first = 1_000_000_000;
      const read = (table: string, client: pg.Client, session: string) => async () => {
        await pool.query(insertRowsSql(table, first, rows));
        first += rows;
        return drainRate(client, session, rows);
      };
      const rate = await rotated(rounds, {
        plain: read('lv_plain', reader, plainSession!),
        filter: read('lv_filter', reader, filterSession),
        rls: read('lv_rls', rlsReader, rlsSession),
      });
      await resetEvents(pool);
      const writer = pairRatio(tps.filtered, tps.one);
      const filterCost = pairRatio(rate.filter, rate.plain);
      const rlsCost = pairRatio(rate.rls, rate.plain);
      const m = (values: number[]) => fmt(median(values), 0);
      ctx.log(`live views: writer tps one ${m(tps.one)}, 100 filtered ${m(tps.filtered)}; ` +
              `reader events/s plain ${m(rate.plain)}, filter ${m(rate.filter)}, rls ${m(rate.rls)}`);
      const out: ResultRow[] = [
        { scenario: 'live-views', measure: `${WRITERS} writers, INSERT per transaction, 100 filtered subscriptions vs 1 unfiltered, tps`,
          baseline: m(tps.one), subject: m(tps.filtered), value: fmtX(writer), floor: '1 unfiltered subscription',
          target: `>= ${WRITER_VS_UNFILTERED}x`, met: writer >= WRITER_VS_UNFILTERED },
        reportRow('live-views', `reader, events/s delivered (fetch+ack, ${rows} rows), a filter every row passes vs none`,
          m(rate.plain), m(rate.filter), fmtX(filterCost)),
        reportRow('live-views', `reader, events/s delivered (fetch+ack, ${rows} rows), row-level security (every row visible) vs none`,
          m(rate.plain), m(rate.rls), fmtX(rlsCost)),
      ];
      return {
        rows: out,
        results: {},
        details: { seconds, rounds, rows, tps, rate, ratios: { writer, filterCost, rlsCost } },
      };
    } finally {
      await Promise.all([...clients, reader, rlsReader].map((c) => c.end()));
    }
  },
};
