/**
 * Bulk statements. One INSERT … SELECT, one one-column UPDATE and one
 * DELETE of 100,000 rows (autocommit, so commit and WAL flush are
 * included), on four tables of one shape: without capture (the baseline),
 * with the no-op floor, with the one-append floor (support/floors.ts) and
 * captured with one session subscribed. Each repetition starts from empty,
 * vacuumed tables and an empty change log; within it each statement runs
 * on the four tables in an order rotated per statement and repetition.
 * Figures are medians of the per-repetition time ratios.
 */
import { addFloorTriggers, resetFloorLog } from '../support/floors.js';
import { fmtMs, fmtX, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, insertRowsSql, resetEvents, subscribeSessions } from '../support/tables.js';
import { median, pairRatio, timeMs } from '../support/timing.js';

const TARGETS = { insert: 2, update: 2.5, delete: 2.5 } as const;
type Op = keyof typeof TARGETS;
const OPS = ['insert', 'update', 'delete'] as const;
const VARIANTS = ['plain', 'noop', 'append', 'sub'] as const;
type Variant = (typeof VARIANTS)[number];

const STATEMENTS: Record<Op, (table: string, rows: number) => string> = {
  insert: (table, rows) => insertRowsSql(table, 1, rows),
  update: (table) => `UPDATE bench.${table} SET quantity = quantity + 1`,
  delete: (table) => `DELETE FROM bench.${table}`,
};

export const bulk: Scenario = {
  name: 'bulk',
  title: 'Bulk statements (100,000 rows) beside the floors',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const rows = ctx.quick ? 5_000 : 100_000;
    const repeats = ctx.quick ? 1 : 3;
    for (const v of VARIANTS) await createItemTable(pool, `bulk_${v}`);
    await addFloorTriggers(pool, 'bulk_noop', 'noop');
    await addFloorTriggers(pool, 'bulk_append', 'append');
    await subscribeSessions(pool, 'bulk_sub', 1);
    const times = Object.fromEntries(OPS.map((op) => [op, Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]]))])) as
      Record<Op, Record<Variant, number[]>>;
    for (let rep = 0; rep < repeats; rep++) {
      await pool.query(`TRUNCATE ${VARIANTS.map((v) => `bench.bulk_${v}`).join(', ')}`);
      await resetEvents(pool);
      await resetFloorLog(pool);
      await pool.query(`VACUUM ANALYZE ${VARIANTS.map((v) => `bench.bulk_${v}`).join(', ')}, event.change, bench.append_log`);
      for (const [o, op] of OPS.entries()) {
        for (let i = 0; i < VARIANTS.length; i++) {
          const v = VARIANTS[(rep + o + i) % VARIANTS.length]!;
          times[op][v].push(await timeMs(() => pool.query(STATEMENTS[op](`bulk_${v}`, rows))));
        }
        const last = (v: Variant) => fmtMs(times[op][v].at(-1)!);
        ctx.log(`bulk rep ${rep + 1}/${repeats} ${op}: plain ${last('plain')}, no-op ${last('noop')}, ` +
                `one-append ${last('append')}, captured ${last('sub')}`);
      }
    }
    await resetEvents(pool);
    await resetFloorLog(pool);
    const ratio = (op: Op, v: Variant, base: Variant = 'plain') => pairRatio(times[op][v], times[op][base]);
    const n = rows.toLocaleString('en-US');
    const out: ResultRow[] = [];
    for (const op of OPS) {
      const r = ratio(op, 'sub');
      out.push({
        scenario: 'bulk', measure: `${op} ${n} rows, time, vs no capture`,
        baseline: fmtMs(median(times[op].plain)), subject: fmtMs(median(times[op].sub)), value: fmtX(r),
        floor: `no-op ${fmtX(ratio(op, 'noop'))}, one-append ${fmtX(ratio(op, 'append'))}`,
        target: `<= ${TARGETS[op]}x`, met: r <= TARGETS[op],
      }, {
        scenario: 'bulk', measure: `${op} ${n} rows, time, vs the one-append floor`,
        baseline: fmtMs(median(times[op].append)), subject: fmtMs(median(times[op].sub)), value: fmtX(ratio(op, 'sub', 'append')),
        floor: '-', target: 'report', met: null,
      });
    }
    const perOp = (v: Variant) => Object.fromEntries(OPS.map((op) => [op, ratio(op, v)]));
    return {
      rows: out,
      results: {
        bulk_insert_ratio: ratio('insert', 'sub'),
        bulk_update_ratio: ratio('update', 'sub'),
        bulk_delete_ratio: ratio('delete', 'sub'),
        bulk_noop_floor_ratio: perOp('noop'),
        bulk_append_floor_ratio: perOp('append'),
      },
      details: { rows, repeats, times_ms: times },
    };
  },
};
