/**
 * Drain. 100,000 pending events (one INSERT … SELECT into a table a fresh
 * session subscribes to, so they wait in the change log), one consumer
 * through the TypeScript library: session.fetch({ max }) then
 * session.ack(events), until the session is empty, in batches of 100 and of
 * 1,000. The reader's collecting (matching the log, filling event.inbox)
 * happens inside the timed drain, on its first fetch, as it does for users. The baseline is
 * pg-boss 10 on the same database: the same events (their JSON as job data)
 * loaded with boss.insert, then boss.fetch(queue, { batchSize }) +
 * boss.complete(queue, ids). Loading is not timed; each repetition starts
 * from freshly loaded, analysed tables. Runs alternate (B S, S B, …); the
 * ratio is the median of the per-pair ratios of events per second.
 *
 * pg-boss 10's fetch has no index in its ORDER BY (priority, created_on, id):
 * each fetch reads and sorts every queued job of the queue, so its drain
 * rate falls with the backlog; at 100,000 jobs a fetch takes 0.1-0.2 s.
 *
 * Also measured: what durable leases cost (docs/guarantees.md). The same
 * library drain at batches of 100 by default (each fetch and ack waits for
 * its WAL flush) against a pool whose connections have
 * aqevent.durable_leases = off, interleaved.
 */
import pg from 'pg';
import PgBoss from 'pg-boss';
import { Session } from '../../src/session.js';
import { fmt, fmtMs, fmtX, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, insertRowsSql, resetEvents, subscribedSession } from '../support/tables.js';
import { interleaved, timeMs } from '../support/timing.js';

const TARGET = 2;
const TABLE = 'drain_items';
const QUEUE = 'bench-drain';
const BATCH_SIZES = [100, 1000] as const;
const LOAD_CHUNK = 10_000;

export const drain: Scenario = {
  name: 'drain',
  title: 'Drain (library fetch + ack vs pg-boss fetch + complete)',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const events = ctx.quick ? 5_000 : 100_000;
    // pg-boss's fetch sorts its whole backlog each time (below): one pair takes
    // minutes at batches of 100, so one pair there, two (B S, S B) at 1,000.
    const repeatsFor = (max: number) => (ctx.quick || max === 100 ? 1 : 2);
    await createItemTable(pool, TABLE);
    let sessionId: string | null = null;

    /** A fresh session and `events` rows in the change log for it; returns the session. */
    const loadAqevent = async () => {
      if (sessionId) await pool.query('SELECT event.session_delete($1)', [sessionId]);
      await pool.query(`TRUNCATE bench.${TABLE}`); // before emptying the log: TRUNCATE is an event too
      await resetEvents(pool);
      sessionId = await subscribedSession(pool, TABLE);
      await pool.query(insertRowsSql(TABLE, 1, events));
      await pool.query('ANALYZE event.change, event.inbox');
      return new Session(pool, sessionId);
    };
    await loadAqevent();
    // The jobs carry the same JSON as the events (reading event.queue collects them).
    await pool.query('CREATE TABLE bench.drain_sample AS SELECT id, event FROM event.queue WHERE session_id = $1', [sessionId]);

    const boss = new PgBoss({ ...ctx.db.clientConfig, schema: 'pgboss', max: 4, supervise: false, schedule: false } as PgBoss.ConstructorOptions);
    boss.on('error', (error) => ctx.log(`pg-boss: ${String(error)}`));
    await boss.start();
    try {
      await boss.createQueue(QUEUE);
      const loadPgBoss = async () => {
        await pool.query('TRUNCATE pgboss.job');
        for (let after = 0; ;) {
          const { rows } = await pool.query<{ id: string; event: object }>(
            'SELECT id, event FROM bench.drain_sample WHERE id > $1 ORDER BY id LIMIT $2', [after, LOAD_CHUNK]);
          if (rows.length === 0) break;
          await boss.insert(rows.map((r) => ({ name: QUEUE, data: r.event })));
          after = Number(rows[rows.length - 1]!.id);
        }
        await pool.query('ANALYZE pgboss.job');
      };

      /** Times fetch + ack of the fresh session's events on db, until it is empty. */
      const drainOn = (db: pg.Pool, max: number) => async () => {
        await loadAqevent();
        const session = new Session(db, sessionId!);
        let drained = 0;
        const ms = await timeMs(async () => {
          for (;;) {
            const batch = await session.fetch({ max });
            if (batch.length === 0) break;
            await session.ack(batch);
            drained += batch.length;
          }
        });
        if (drained !== events) throw new Error(`drain: library drained ${drained} of ${events} events`);
        return ms;
      };
      const drainAqevent = (max: number) => drainOn(pool, max);
      const drainPgBoss = (batchSize: number) => async () => {
        await loadPgBoss();
        let drained = 0;
        const ms = await timeMs(async () => {
          for (;;) {
            const jobs = await boss.fetch(QUEUE, { batchSize });
            if (jobs.length === 0) break;
            await boss.complete(QUEUE, jobs.map((j) => j.id));
            drained += jobs.length;
          }
        });
        if (drained !== events) throw new Error(`drain: pg-boss drained ${drained} of ${events} jobs`);
        return ms;
      };

      const rows: ResultRow[] = [];
      const perBatch: Record<string, unknown> = {};
      let headline = { aqevent: 0, pgboss: 0, ratio: 0 };
      for (const max of BATCH_SIZES) {
        const r = await interleaved(repeatsFor(max), drainPgBoss(max), drainAqevent(max));
        const aqeventRate = (events * 1000) / r.subject;
        const pgbossRate = (events * 1000) / r.baseline;
        const ratio = 1 / r.ratio; // time ratio → events/s ratio
        ctx.log(`drain batch ${max}: library ${fmt(aqeventRate, 0)} events/s (${fmtMs(r.subject)}), pg-boss ${fmt(pgbossRate, 0)} events/s (${fmtMs(r.baseline)}), ${fmt(ratio)}x`);
        perBatch[String(max)] = {
          repeats: repeatsFor(max), library_events_per_s: aqeventRate, pgboss_events_per_s: pgbossRate, ratio,
          library_ms: r.subjects, pgboss_ms: r.baselines,
        };
        rows.push({
          scenario: 'drain', measure: `${events.toLocaleString('en-US')} events, batches of ${max}, events/s (pg-boss vs library)`,
          baseline: fmt(pgbossRate, 0), subject: fmt(aqeventRate, 0), value: fmtX(ratio), floor: '-',
          target: `>= ${TARGET}x`, met: ratio >= TARGET,
        });
        if (max === 1000) headline = { aqevent: aqeventRate, pgboss: pgbossRate, ratio };
      }
      // Relaxed leases: the same drain on connections that do not wait for the WAL flush.
      const relaxedPool = new pg.Pool({ ...ctx.db.clientConfig, options: '-c aqevent.durable_leases=off', max: 2 });
      try {
        const max = 100;
        const r = await interleaved(ctx.quick ? 1 : 2, drainOn(relaxedPool, max), drainOn(pool, max));
        const relaxedRate = (events * 1000) / r.baseline;
        const durableRate = (events * 1000) / r.subject;
        ctx.log(`drain batch ${max}: durable leases (default) ${fmt(durableRate, 0)} events/s, relaxed ${fmt(relaxedRate, 0)} (${fmtX(r.ratio)} the time)`);
        perBatch.durable_leases = { batch: max, relaxed_events_per_s: relaxedRate, durable_events_per_s: durableRate,
          time_ratio: r.ratio, relaxed_ms: r.baselines, durable_ms: r.subjects };
        rows.push({
          scenario: 'drain', measure: `batches of ${max}, durable leases (default) vs relaxed (aqevent.durable_leases = off), events/s`,
          baseline: fmt(relaxedRate, 0), subject: fmt(durableRate, 0), value: fmtX(r.ratio), floor: '-', target: 'report', met: null,
        });
      } finally {
        await relaxedPool.end();
      }
      return {
        rows,
        results: { drain_events_per_s: headline.aqevent, pgboss_events_per_s: headline.pgboss, drain_vs_pgboss_ratio: headline.ratio },
        details: { events, batch: perBatch },
      };
    } finally {
      await boss.stop({ graceful: false, close: true, wait: true });
      if (sessionId) await pool.query('SELECT event.session_delete($1)', [sessionId]);
      await resetEvents(pool);
    }
  },
};
