/**
 * Issue #6 part 2: bulk statements. One INSERT … SELECT, one one-column
 * UPDATE and one DELETE of 100,000 rows on a table with one table
 * subscription, each against the same statement on an unsubscribed table
 * (autocommit, so commit and WAL flush are included). The floor is the
 * same 100,000 queue rows written by a plain INSERT … SELECT of ready-made
 * event rows into a copy of event.queue without triggers: what storing one
 * row per event costs, the least any capture that writes a queue row per
 * event could cost (as aqevent did before sql/060). "floor into event.queue"
 * writes them into event.queue itself (with its autovacuum settings). The
 * "chunk floor" copies the insert's event.capture rows into a copy of that
 * table: what storing the statement's rows as chunks costs.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { fmt, fmtMs, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { CAPTURED_EVENTS_SQL, createItemTable, insertRowsSql, QUEUE_STORAGE_COLUMNS, resetQueue, subscribeSessions } from '../support/tables.js';
import { median, timeMs } from '../support/timing.js';

const TARGETS = { insert: 2.5, update: 3, delete: 2.5 } as const;
type Op = keyof typeof TARGETS;

const STATEMENTS: Record<Op, (table: string, rows: number) => string> = {
  insert: (table, rows) => insertRowsSql(table, 1, rows),
  update: (table) => `UPDATE bench.${table} SET quantity = quantity + 1`,
  delete: (table) => `DELETE FROM bench.${table}`,
};

async function setup(pool: pg.Pool): Promise<void> {
  await createItemTable(pool, 'bulk_plain');
  await createItemTable(pool, 'bulk_sub');
  await subscribeSessions(pool, 'bulk_sub', 1);
  await pool.query('CREATE TABLE bench.queue_floor (LIKE event.queue INCLUDING ALL)');
  await pool.query('CREATE TABLE bench.capture_floor (LIKE event.capture INCLUDING ALL)');
}

async function floorRuns(pool: pg.Pool, first: boolean): Promise<{ floor: number; withNotify: number; chunks: number }> {
  if (first) {
    await pool.query(`CREATE TABLE bench.floor_events AS
                      SELECT ${QUEUE_STORAGE_COLUMNS} FROM (${CAPTURED_EVENTS_SQL}) e
                      WHERE operation = 'row_insert'`);
    await pool.query(`CREATE TABLE bench.floor_chunks AS SELECT * FROM event.capture WHERE operation = 'row_insert'`);
  }
  await pool.query('TRUNCATE bench.capture_floor');
  const chunks = await timeMs(() => pool.query('INSERT INTO bench.capture_floor SELECT * FROM bench.floor_chunks'));
  await pool.query('TRUNCATE bench.queue_floor');
  const floor = await timeMs(() => pool.query(`INSERT INTO bench.queue_floor (${QUEUE_STORAGE_COLUMNS})
                                              SELECT ${QUEUE_STORAGE_COLUMNS} FROM bench.floor_events`));
  // Another session id, so the rows do not collide with the real events.
  const withNotify = await timeMs(() => pool.query(`INSERT INTO event.queue (${QUEUE_STORAGE_COLUMNS})
                                                   SELECT ${QUEUE_STORAGE_COLUMNS.replace('session_id', '$1')}
                                                   FROM bench.floor_events`,
                                                   [randomUUID()]));
  return { floor, withNotify, chunks };
}

export const bulk: Scenario = {
  name: 'bulk',
  title: 'Bulk statements (100,000 rows)',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const rows = ctx.quick ? 10_000 : 100_000;
    const repeats = ctx.quick ? 1 : 3;
    await setup(pool);
    const times: Record<Op, { plain: number[]; sub: number[] }> = {
      insert: { plain: [], sub: [] },
      update: { plain: [], sub: [] },
      delete: { plain: [], sub: [] },
    };
    const floors: number[] = [];
    const notifies: number[] = [];
    const chunkFloors: number[] = [];
    for (let rep = 0; rep < repeats; rep++) {
      await pool.query('TRUNCATE bench.bulk_plain, bench.bulk_sub');
      await resetQueue(pool);
      await pool.query('VACUUM ANALYZE bench.bulk_plain, bench.bulk_sub, event.queue');
      for (const op of ['insert', 'update', 'delete'] as const) {
        // Alternate which table goes first, so drift hits both alike.
        const order = (rep + ['insert', 'update', 'delete'].indexOf(op)) % 2 === 0 ? ['plain', 'sub'] as const : ['sub', 'plain'] as const;
        for (const which of order) {
          const ms = await timeMs(() => pool.query(STATEMENTS[op](`bulk_${which}`, rows)));
          times[op][which].push(ms);
        }
        if (op === 'insert') {
          const { floor, withNotify, chunks } = await floorRuns(pool, rep === 0);
          floors.push(floor);
          notifies.push(withNotify);
          chunkFloors.push(chunks);
        }
        ctx.log(`bulk rep ${rep + 1}/${repeats} ${op}: plain ${fmtMs(times[op].plain.at(-1)!)}, subscribed ${fmtMs(times[op].sub.at(-1)!)}`);
      }
    }
    const ratio = (op: Op) => median(times[op].sub.map((s, i) => s / times[op].plain[i]!));
    const floorRatio = median(floors.map((f, i) => f / times.insert.plain[i]!));
    const notifyRatio = median(notifies.map((f, i) => f / times.insert.plain[i]!));
    const chunkRatio = median(chunkFloors.map((f, i) => f / times.insert.plain[i]!));
    const n = rows.toLocaleString('en-US');
    const out: ResultRow[] = (['insert', 'update', 'delete'] as const).map((op) => ({
      scenario: 'bulk',
      measure: `${op} ${n} rows, time`,
      baseline: fmtMs(median(times[op].plain)),
      subject: fmtMs(median(times[op].sub)),
      value: `${fmt(ratio(op))}x`,
      target: `<= ${TARGETS[op]}x`,
      met: ratio(op) <= TARGETS[op],
    }));
    // The floor against each statement's own baseline: a target below it
    // cannot be met by any capture that writes one queue row per event.
    const floorVs = (op: Op) => median(floors.map((f, i) => f / times[op].plain[i]!));
    out.push(...(['insert', 'update', 'delete'] as const).map((op) => ({
      scenario: 'bulk', measure: `floor: ${n} queue rows, no triggers, vs ${op}`, baseline: fmtMs(median(times[op].plain)),
      subject: fmtMs(median(floors)), value: `${fmt(floorVs(op))}x`, target: 'report', met: null,
    })), {
      scenario: 'bulk', measure: `floor into event.queue itself`, baseline: fmtMs(median(times.insert.plain)),
      subject: fmtMs(median(notifies)), value: `${fmt(notifyRatio)}x`, target: 'report', met: null,
    }, {
      scenario: 'bulk', measure: `chunk floor: the insert's event.capture rows, no triggers`, baseline: fmtMs(median(times.insert.plain)),
      subject: fmtMs(median(chunkFloors)), value: `${fmt(chunkRatio)}x`, target: 'report', met: null,
    });
    return {
      rows: out,
      results: {
        bulk_insert_ratio: ratio('insert'),
        bulk_update_ratio: ratio('update'),
        bulk_delete_ratio: ratio('delete'),
        bulk_floor_ratio: floorRatio,
      },
      details: { rows, repeats, times_ms: times, floor_ms: floors, floor_with_notify_ms: notifies,
                 chunk_floor_ms: chunkFloors, chunk_floor_ratio: chunkRatio,
                 floor_with_notify_ratio: notifyRatio,
                 floor_ratio_vs: { insert: floorVs('insert'), update: floorVs('update'), delete: floorVs('delete') } },
    };
  },
};
