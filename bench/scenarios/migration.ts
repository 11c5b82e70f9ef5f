/**
 * What schema changes cost (issue #17): a migration of 100 ALTER TABLEs (ADD
 * COLUMN on 10 tables of 10 columns, in one transaction, rolled back so that
 * every run starts from the same catalog), timed four ways, rotated:
 * aqevent's event triggers disabled (bare PostgreSQL); instead, a no-op
 * PL/pgSQL event trigger on the same events and tags (the floor of any
 * capture by event triggers); aqevent's enabled with no meta subscription
 * (DDL must cost nothing measurable there beyond that floor); and with a
 * session subscribed to meta.column (each command diffs the catalog).
 */
import { fmt, fmtMs, fmtX, reportRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { median, pairRatio, rotated, timeMs } from '../support/timing.js';

const TABLES = 10;
const ALTERS = 100;

export const migration: Scenario = {
  name: 'migration',
  title: 'A migration of 100 ALTER TABLEs: no aqevent DDL trigger, no meta subscription, a meta.column subscription',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const rounds = ctx.quick ? 3 : 9;
    await pool.query('DROP SCHEMA IF EXISTS bench_ddl CASCADE; CREATE SCHEMA bench_ddl');
    for (let t = 0; t < TABLES; t++) {
      const columns = Array.from({ length: 10 }, (_, c) => `c${c} int`).join(', ');
      await pool.query(`CREATE TABLE bench_ddl.t${t} (id int PRIMARY KEY, ${columns})`);
    }
    const statements = Array.from({ length: ALTERS }, (_, i) =>
      `ALTER TABLE bench_ddl.t${i % TABLES} ADD COLUMN added_${i} integer`);
    const client = await ctx.db.client();
    const migrate = () => timeMs(async () => {
      await client.query('BEGIN');
      for (const sql of statements) await client.query(sql);
      await client.query('ROLLBACK');
    });
    const triggers = (enabled: boolean) =>
      pool.query(`ALTER EVENT TRIGGER aqevent_ddl_end ${enabled ? 'ENABLE' : 'DISABLE'};
                  ALTER EVENT TRIGGER aqevent_sql_drop ${enabled ? 'ENABLE' : 'DISABLE'};
                  ALTER EVENT TRIGGER aqevent_ddl_start ${enabled ? 'ENABLE' : 'DISABLE'}`);
    // The no-op floor: the same events and tags as aqevent_ddl_end, a function that does nothing.
    await pool.query(`CREATE FUNCTION bench_ddl.noop() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$`);
    const tags = (await pool.query<{ tags: string }>(
      "SELECT string_agg(quote_literal(t), ', ') AS tags FROM unnest(event._ddl_tags()) t")).rows[0]!.tags;
    await pool.query(`CREATE EVENT TRIGGER bench_noop_end ON ddl_command_end WHEN TAG IN (${tags}) EXECUTE FUNCTION bench_ddl.noop();
                      CREATE EVENT TRIGGER bench_noop_drop ON sql_drop EXECUTE FUNCTION bench_ddl.noop();
                      ALTER EVENT TRIGGER bench_noop_end DISABLE; ALTER EVENT TRIGGER bench_noop_drop DISABLE`);
    const noop = (enabled: boolean) =>
      pool.query(`ALTER EVENT TRIGGER bench_noop_end ${enabled ? 'ENABLE' : 'DISABLE'};
                  ALTER EVENT TRIGGER bench_noop_drop ${enabled ? 'ENABLE' : 'DISABLE'}`);
    const { rows: [made] } = await pool.query<{ id: string }>('SELECT event.session_create() AS id');
    const session = made!.id;
    let subscription: string | null = null;
    const unsubscribed = async () => {
      if (subscription) await pool.query('SELECT event.unsubscribe($1)', [subscription]);
      subscription = null;
    };
    try {
      const { rows: [catalog] } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM event._catalog_rows(NULL)');
      const times = await rotated(rounds, {
        bare: async () => {
          await unsubscribed();
          await triggers(false);
          try {
            return await migrate();
          } finally {
            await triggers(true);
          }
        },
        noop: async () => {
          await unsubscribed();
          await triggers(false);
          await noop(true);
          try {
            return await migrate();
          } finally {
            await noop(false);
            await triggers(true);
          }
        },
        floor: async () => {
          await unsubscribed();
          return migrate();
        },
        meta: async () => {
          if (!subscription) {
            const { rows } = await pool.query<{ id: string }>(
              "SELECT event.subscribe_table($1, meta.relation_id('meta', 'column')) AS id", [session]);
            subscription = rows[0]!.id;
          }
          return migrate();
        },
      });
      const floorVsBare = pairRatio(times.floor, times.bare);
      const noopVsBare = pairRatio(times.noop, times.bare);
      const floorVsNoop = pairRatio(times.floor, times.noop);
      const metaVsFloor = pairRatio(times.meta, times.floor);
      ctx.log(`migration: bare ${fmtMs(median(times.bare))}, no-op event trigger ${fmtMs(median(times.noop))}, ` +
              `no meta subscription ${fmtMs(median(times.floor))}, ` +
              `meta.column ${fmtMs(median(times.meta))} (${catalog!.n} catalog rows)`);
      return {
        rows: [
          reportRow('migration', `${ALTERS} ALTER TABLE in one transaction, a no-op event trigger (the floor), over none`,
                    fmtMs(median(times.bare)), fmtMs(median(times.noop)), fmtX(noopVsBare)),
          reportRow('migration', `${ALTERS} ALTER TABLE in one transaction, no meta subscription, over no aqevent DDL trigger`,
                    fmtMs(median(times.bare)), fmtMs(median(times.floor)), fmtX(floorVsBare)),
          reportRow('migration', 'the same, no meta subscription, over the no-op event trigger floor',
                    fmtMs(median(times.noop)), fmtMs(median(times.floor)), fmtX(floorVsNoop)),
          reportRow('migration', `the same with meta.column subscribed, over no meta subscription (${catalog!.n} catalog rows)`,
                    fmtMs(median(times.floor)), fmtMs(median(times.meta)), fmtX(metaVsFloor)),
        ],
        results: { migration_floor_vs_bare_ratio: floorVsBare, migration_noop_vs_bare_ratio: noopVsBare,
                   migration_floor_vs_noop_ratio: floorVsNoop, migration_meta_column_ratio: metaVsFloor },
        details: { rounds, catalog_rows: Number(catalog!.n), bare_ms: times.bare, noop_ms: times.noop, floor_ms: times.floor,
                   meta_ms: times.meta,
                   per_alter_ms: { bare: median(times.bare) / ALTERS, noop: median(times.noop) / ALTERS, floor: median(times.floor) / ALTERS,
                                   meta: median(times.meta) / ALTERS, meta_extra: fmt((median(times.meta) - median(times.floor)) / ALTERS, 3) } },
      };
    } finally {
      await unsubscribed();
      await pool.query('DELETE FROM event.session WHERE id = $1', [session]);
      await client.end();
      await pool.query('DROP EVENT TRIGGER IF EXISTS bench_noop_end; DROP EVENT TRIGGER IF EXISTS bench_noop_drop');
      await pool.query('DROP SCHEMA bench_ddl CASCADE');
    }
  },
};
