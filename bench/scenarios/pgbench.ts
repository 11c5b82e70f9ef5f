/**
 * pgbench TPC-B, a workload nobody here wrote: `pgbench -c 4 -j 2` at scale
 * 5 (1 in --quick) in a database of its own (initialised with pgbench -i,
 * then migrated). Three variants, each a pgbench run of the same length, in
 * rounds with the order rotated: no capture (the capture triggers of the
 * four tables disabled: ALTER TABLE … DISABLE TRIGGER USER), one session
 * subscribed to all four tables, and ten sessions subscribed to all four.
 * Nobody reads meanwhile: this is the writers' cost. Before every run the
 * change log is emptied, and pgbench itself vacuums its tables and empties
 * pgbench_history. Figures: median per-round tps ratios.
 */
import { fmt, fmtX, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { findPgbench, parseTps, pgbench } from '../support/pgbench.js';
import { resetEvents } from '../support/tables.js';
import { median, pairRatio, rotated } from '../support/timing.js';

const ONE = 0.75;
const TEN = 0.7;
const TABLES = ['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history'] as const;

export const pgbenchTpcb: Scenario = {
  name: 'pgbench',
  title: 'pgbench TPC-B (-c 4 -j 2): one and ten sessions on its four tables vs no capture',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const binary = findPgbench();
    if (!binary) {
      const why = 'pgbench not found (set PGBENCH, or put it on PATH)';
      ctx.log(`pgbench: ${why}; skipped`);
      return {
        rows: [{ scenario: 'pgbench', measure: 'TPC-B', baseline: '-', subject: '-', value: '-', floor: '-', target: 'not run', met: null }],
        results: {}, pending: why,
      };
    }
    const scale = ctx.quick ? 1 : 5;
    const seconds = ctx.quick ? 2 : 10;
    const rounds = ctx.quick ? 1 : 3;
    const db = await ctx.db.sibling('pgbench');
    try {
      const { pool } = db;
      const initMs = Date.now();
      await pgbench(binary, ['-i', '-q', '-s', String(scale)], db.clientConfig);
      ctx.log(`pgbench: initialised scale ${scale} in ${((Date.now() - initMs) / 1000).toFixed(1)} s (${binary})`);
      const sessions = (await pool.query<{ id: string }>('SELECT event.session_create() AS id FROM generate_series(1, 10)')).rows.map((r) => r.id);
      const subscribe = async (ids: readonly string[]) => (await pool.query<{ sub: string }>(
        `SELECT event.subscribe_table(s, meta.relation_id('public', t)) AS sub FROM unnest($1::uuid[]) s, unnest($2::text[]) t`,
        [ids, TABLES])).rows.map((r) => r.sub);
      await subscribe(sessions.slice(0, 1));
      const triggers = async (enable: boolean) => {
        for (const t of TABLES) await pool.query(`ALTER TABLE public.${t} ${enable ? 'ENABLE' : 'DISABLE'} TRIGGER USER`);
      };
      const tps = async () => {
        await resetEvents(pool);
        return parseTps(await pgbench(binary, ['-c', '4', '-j', '2', '-T', String(seconds)], db.clientConfig));
      };
      const results = await rotated(rounds, {
        none: async () => {
          await triggers(false);
          try {
            return await tps();
          } finally {
            await triggers(true);
          }
        },
        one: tps,
        ten: async () => {
          const extra = await subscribe(sessions.slice(1));
          try {
            return await tps();
          } finally {
            await pool.query('SELECT event.unsubscribe(s) FROM unnest($1::uuid[]) s', [extra]);
          }
        },
      });
      await resetEvents(pool);
      const one = pairRatio(results.one, results.none);
      const ten = pairRatio(results.ten, results.none);
      const m = (k: keyof typeof results) => fmt(median(results[k]), 0);
      ctx.log(`pgbench tps: no capture ${m('none')}, one session ${m('one')} (${fmtX(one)}), ten sessions ${m('ten')} (${fmtX(ten)})`);
      const rows: ResultRow[] = [
        { scenario: 'pgbench', measure: `TPC-B scale ${scale}, -c 4 -j 2, ${seconds} s runs, tps: one session on all four tables vs no capture`,
          baseline: m('none'), subject: m('one'), value: fmtX(one), floor: '-', target: `>= ${ONE}x`, met: one >= ONE },
        { scenario: 'pgbench', measure: 'TPC-B, ten sessions on all four tables vs no capture',
          baseline: m('none'), subject: m('ten'), value: fmtX(ten), floor: '-', target: `>= ${TEN}x`, met: ten >= TEN },
      ];
      return {
        rows,
        results: { pgbench_1_session_ratio: one, pgbench_10_sessions_ratio: ten },
        details: { binary, scale, seconds, rounds, tps: results },
      };
    } finally {
      await db.drop();
    }
  },
};
