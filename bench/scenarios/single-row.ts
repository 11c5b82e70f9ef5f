/**
 * Single-row writes. Two connections, each a loop of single-row INSERTs,
 * every one its own (autocommit) transaction, for a fixed time, on tables
 * of one shape: without capture, with the no-op floor, with the one-append
 * floor (support/floors.ts), captured with one session subscribed, captured
 * with 100 sessions subscribed, and captured with one session while a
 * reader is registered in event.listener (so every commit NOTIFYs). Every
 * round runs each once, the order rotated; figures are medians of the
 * per-round ratios of transactions per second.
 */
import type pg from 'pg';
import { addFloorTriggers, resetFloorLog } from '../support/floors.js';
import { fmt, fmtX, reportRow, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, resetEvents, subscribeSessions } from '../support/tables.js';
import { median, pairRatio, rotated } from '../support/timing.js';
import { insertPhase } from '../support/writers.js';

const VS_PLAIN = 0.85;
const VS_APPEND = 0.95;
const SESSIONS_100_VS_1 = 1.05;
const WRITERS = 2;

const TABLES = { plain: 'sr_plain', noop: 'sr_noop', append: 'sr_append', one: 'sr_one', hundred: 'sr_hundred' } as const;

/** A connection parked in LISTEN aqevent and registered, as the library's readers are, for `fn`. */
async function withListener<T>(client: pg.Client, fn: () => Promise<T>): Promise<T> {
  await client.query('LISTEN aqevent');
  await client.query('SELECT event.listener_register()');
  try {
    return await fn();
  } finally {
    await client.query('SELECT event.listener_unregister()');
    await client.query('UNLISTEN *');
  }
}

export const singleRow: Scenario = {
  name: 'single-row',
  title: 'Single-row INSERTs (2 connections, one transaction each) beside the floors',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const seconds = ctx.quick ? 0.5 : 3;
    const rounds = ctx.quick ? 1 : 5;
    for (const table of Object.values(TABLES)) await createItemTable(pool, table);
    await addFloorTriggers(pool, TABLES.noop, 'noop');
    await addFloorTriggers(pool, TABLES.append, 'append');
    await subscribeSessions(pool, TABLES.one, 1);
    await subscribeSessions(pool, TABLES.hundred, 100);
    await pool.query('DELETE FROM event.listener'); // no reader parked but the one made below
    const clients = await Promise.all(Array.from({ length: WRITERS }, () => ctx.db.client()));
    const listener = await ctx.db.client();
    try {
      const phase = (table: string) => () => insertPhase(clients, table, seconds);
      for (const table of Object.values(TABLES)) await insertPhase(clients, table, 0.3); // warm plans and caches
      const tps = await rotated(rounds, {
        plain: phase(TABLES.plain),
        noop: phase(TABLES.noop),
        append: phase(TABLES.append),
        one: phase(TABLES.one),
        hundred: phase(TABLES.hundred),
        listening: () => withListener(listener, phase(TABLES.one)),
      });
      await resetEvents(pool);
      await resetFloorLog(pool);
      const r = {
        noop: pairRatio(tps.noop, tps.plain),
        append: pairRatio(tps.append, tps.plain),
        one: pairRatio(tps.one, tps.plain),
        vsAppend: pairRatio(tps.one, tps.append),
        hundredVsOne: pairRatio(tps.one, tps.hundred), // cost ratio: time per INSERT at 100 / at 1
        listening: pairRatio(tps.listening, tps.plain),
      };
      const m = (k: keyof typeof tps) => fmt(median(tps[k]), 0);
      ctx.log(`single-row tps: plain ${m('plain')}, no-op ${m('noop')}, one-append ${m('append')}, captured ${m('one')}, ` +
              `100 sessions ${m('hundred')}, with a listener ${m('listening')}`);
      const floors = `no-op ${fmtX(r.noop)}, one-append ${fmtX(r.append)}`;
      const rows: ResultRow[] = [
        { scenario: 'single-row', measure: `${WRITERS} writers, INSERT per transaction, tps, vs no capture`,
          baseline: m('plain'), subject: m('one'), value: fmtX(r.one), floor: floors,
          target: `>= ${VS_PLAIN}x`, met: r.one >= VS_PLAIN },
        { scenario: 'single-row', measure: 'the same, vs the one-append floor',
          baseline: m('append'), subject: m('one'), value: fmtX(r.vsAppend), floor: `one-append ${fmtX(r.append)} of no capture`,
          target: `>= ${VS_APPEND}x`, met: r.vsAppend >= VS_APPEND },
        { scenario: 'single-row', measure: '100 sessions subscribed vs 1, time per INSERT',
          baseline: m('one'), subject: m('hundred'), value: fmtX(r.hundredVsOne), floor: '-',
          target: `<= ${SESSIONS_100_VS_1}x`, met: r.hundredVsOne <= SESSIONS_100_VS_1 },
        { ...reportRow('single-row', 'captured, a reader registered in event.listener (NOTIFY per commit), vs no capture',
                       m('plain'), m('listening'), fmtX(r.listening)), floor: floors },
      ];
      return {
        rows,
        results: {
          single_row_tps_ratio: r.one, single_row_vs_append_floor: r.vsAppend,
          single_row_noop_floor_ratio: r.noop, single_row_append_floor_ratio: r.append,
          single_row_100_vs_1_sessions: r.hundredVsOne, single_row_listening_ratio: r.listening,
        },
        details: { seconds, rounds, writers: WRITERS, tps, ratios: r },
      };
    } finally {
      await Promise.all([...clients, listener].map((c) => c.end()));
    }
  },
};
