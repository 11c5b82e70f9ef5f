/**
 * One UPDATE of 1,000,000 rows in one statement (20,000 in --quick): a table
 * without capture against the same table captured with one session
 * subscribed. Each run on a fresh connection, so that the backend's peak
 * resident set (VmHWM, support/backend-memory.ts) is that statement's: it
 * counts the shared buffers the backend touched as well as its private
 * memory, so the private peak (RssAnon, sampled every 20 ms) is reported
 * beside it. Time includes the commit. Runs alternate (B S, S B), the
 * tables vacuumed and the change log emptied before each.
 */
import type { BenchDatabase } from '../support/database.js';
import { backendMemory, sampleAnon } from '../support/backend-memory.js';
import { fmt, fmtMs, fmtX, reportRow, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, insertRowsSql, resetEvents, subscribeSessions } from '../support/tables.js';
import { median, pairRatio, rotated, timeMs } from '../support/timing.js';

interface Run { ms: number; hwmMb: number | null; anonMb: number | null }

async function updateOnce(db: BenchDatabase, table: string): Promise<Run> {
  await resetEvents(db.pool);
  await db.pool.query(`VACUUM bench.${table}`);
  const client = await db.client();
  try {
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const sampler = sampleAnon(pid);
    const ms = await timeMs(() => client.query(`UPDATE bench.${table} SET quantity = quantity + 1`));
    const anonMb = await sampler.stop();
    const after = await backendMemory(pid);
    return { ms, hwmMb: after?.hwmMb ?? null, anonMb };
  } finally {
    await client.end();
  }
}

export const bigUpdate: Scenario = {
  name: 'big-update',
  title: 'One UPDATE of 1,000,000 rows: time and the writer backend\'s memory',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const rows = ctx.quick ? 20_000 : 1_000_000;
    const rounds = ctx.quick ? 1 : 2;
    for (const t of ['upd_plain', 'upd_sub']) {
      await createItemTable(pool, t);
      await pool.query(insertRowsSql(t, 1, rows));
    }
    await subscribeSessions(pool, 'upd_sub', 1);
    await resetEvents(pool);
    await pool.query('VACUUM ANALYZE bench.upd_plain, bench.upd_sub');
    const runs: Record<'plain' | 'sub', Run[]> = { plain: [], sub: [] };
    const r = await rotated(rounds, {
      plain: async () => { const x = await updateOnce(ctx.db, 'upd_plain'); runs.plain.push(x); return x.ms; },
      sub: async () => { const x = await updateOnce(ctx.db, 'upd_sub'); runs.sub.push(x); return x.ms; },
    });
    await resetEvents(pool);
    await pool.query('DROP TABLE bench.upd_plain, bench.upd_sub');
    const timeRatio = pairRatio(r.sub, r.plain);
    const mem = (k: 'plain' | 'sub', f: 'hwmMb' | 'anonMb') =>
      runs[k].every((x) => x[f] !== null) ? median(runs[k].map((x) => x[f]!)) : null;
    const hwm = { plain: mem('plain', 'hwmMb'), sub: mem('sub', 'hwmMb') };
    const anon = { plain: mem('plain', 'anonMb'), sub: mem('sub', 'anonMb') };
    const hwmRatio = hwm.plain && hwm.sub ? hwm.sub / hwm.plain : null;
    const mb = (v: number | null) => (v === null ? 'n/a' : `${fmt(v, 0)} MB`);
    const n = rows.toLocaleString('en-US');
    ctx.log(`big-update: ${n} rows, plain ${fmtMs(median(r.plain))} / ${mb(hwm.plain)}, captured ${fmtMs(median(r.sub))} / ${mb(hwm.sub)}`);
    const out: ResultRow[] = [
      reportRow('big-update', `UPDATE of ${n} rows in one statement, time, captured vs no capture`,
                fmtMs(median(r.plain)), fmtMs(median(r.sub)), fmtX(timeRatio)),
      reportRow('big-update', 'the writer backend\'s peak resident set (VmHWM: private + shared buffers touched)',
                mb(hwm.plain), mb(hwm.sub), hwmRatio === null ? 'n/a' : fmtX(hwmRatio)),
      reportRow('big-update', 'the writer backend\'s private memory, largest sampled (RssAnon every 20 ms)',
                mb(anon.plain), mb(anon.sub), anon.plain && anon.sub ? fmtX(anon.sub / anon.plain) : 'n/a'),
    ];
    return {
      rows: out,
      results: { update_1m_time_ratio: timeRatio, update_1m_backend_peak_rss_ratio: hwmRatio },
      details: { rows, rounds, runs },
      ...(hwmRatio === null ? { pending: 'backend memory unreadable: /proc/<backend pid>/status (is the server on another machine?)' } : {}),
    };
  },
};
