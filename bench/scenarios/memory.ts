/**
 * Issue #6 part 7: memory and bloat. A consumer in its own process drains
 * 1,000,000 events with session.events() (auto ack, default batch size of
 * 100) while they are produced: INSERT … SELECT of 100,000 rows into a
 * subscribed table, ten times, each once at most 100,000 are still queued. The consumer samples its resident memory
 * (every 50 ms and every 1,000 events) and reports the largest.
 *
 * Then event.queue's size on disk after the million were produced and
 * acknowledged (queueSize(), event.queue_size(): table, indexes and TOAST),
 * as the server left it, its largest size seen during the run (sampled every
 * second), and after one maintain({ vacuum: true }) pass — with whether
 * autovacuum was on, which decides whether anything reclaims space meanwhile.
 *
 * With autovacuum off (the local test server) the run does what
 * docs/operations.md tells such servers to do, `maintain --vacuum`: a
 * maintain({ vacuum: true }) pass every 15 s (cron's minimum is a minute;
 * shorter here to keep the run short). Without any ANALYZE the consumer
 * keeps the plans its connections cached for fetch_events and ack while
 * the queue was nearly empty, and at a backlog of a million events each
 * fetch took about a second (measured: ≈ 45 events/s instead of thousands).
 */
import type pg from 'pg';
import { maintain, queueSize } from '../../src/maintenance/operations.js';
import { ConsumerProcess } from '../support/consumer-process.js';
import { fmt, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, insertMarker, insertRowsSql, pendingCount, resetQueue, subscribedSession } from '../support/tables.js';
import { timeMs } from '../support/timing.js';

const RSS_TARGET_MB = 200;
const MAINTAIN_EVERY_MS = 15_000;
const TABLE = 'memory_items';

/**
 * Waits until at most `limit` events of the session are queued. The producer
 * outruns the consumer (≈ 20,000 vs ≈ 6,000 events/s here); unpaced, the
 * backlog grows to most of the million and the queue's size measures the
 * backlog, not what a million acked events leave behind.
 */
async function backlogBelow(pool: pg.Pool, sessionId: string, limit: number): Promise<void> {
  for (;;) {
    if ((await pendingCount(pool, sessionId)) <= limit) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const mb = (bytes: number) => `${fmt(bytes / 2 ** 20, 1)} MB`;

export const memory: Scenario = {
  name: 'memory',
  title: 'Memory and bloat (consumer draining 1,000,000 events)',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const events = ctx.quick ? 20_000 : 1_000_000;
    const chunk = ctx.quick ? 10_000 : 100_000;
    const { rows: [settings] } = await pool.query<{ autovacuum: string; naptime: string }>(
      "SELECT current_setting('autovacuum') AS autovacuum, current_setting('autovacuum_naptime') AS naptime");
    await createItemTable(pool, TABLE);
    await resetQueue(pool);
    const sessionId = await subscribedSession(pool, TABLE);
    const consumer = new ConsumerProcess(ctx.db.clientConfig, sessionId, 100, false);
    const maintaining = settings!.autovacuum !== 'on';
    let peakBytes = 0;
    let sampling = true;
    const passes: { at_s: number; vacuum_ms: number; bytes_before: number }[] = [];
    const runStarted = Date.now();
    let lastPass = runStarted;
    const sampler = (async () => {
      while (sampling) {
        const bytes = (await queueSize(pool)).totalBytes;
        peakBytes = Math.max(peakBytes, bytes);
        if (maintaining && Date.now() - lastPass >= MAINTAIN_EVERY_MS) {
          const vacuumMs = await timeMs(() => maintain(pool, { vacuum: true }));
          passes.push({ at_s: (Date.now() - runStarted) / 1000, vacuum_ms: vacuumMs, bytes_before: bytes });
          lastPass = Date.now();
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    })();
    try {
      await insertMarker(pool, TABLE, 0);
      const idle = await consumer.ready();
      const started = Date.now();
      const produceMs = await timeMs(async () => {
        for (let first = 1; first <= events; first += chunk) {
          await backlogBelow(pool, sessionId, chunk);
          await pool.query(insertRowsSql(TABLE, first, chunk));
        }
      });
      await insertMarker(pool, TABLE, -1);
      const done = await consumer.done(20 * 60_000);
      const totalSeconds = (Date.now() - started) / 1000;
      if (done.received !== events) throw new Error(`memory: consumer received ${done.received} of ${events} events`);
      sampling = false;
      await sampler;
      const after = await queueSize(pool);
      peakBytes = Math.max(peakBytes, after.totalBytes);
      const pass = await maintain(pool, { vacuum: true });
      const vacuumed = await queueSize(pool);
      ctx.log(`memory: ${events} events produced in ${fmt(produceMs / 1000, 1)} s, drained in ${fmt(done.seconds, 1)} s ` +
              `(${fmt(events / done.seconds, 0)}/s); consumer RSS max ${fmt(done.maxRssMb, 1)} MB (idle ${fmt(idle.rssMb, 1)} MB); ` +
              `queue ${mb(after.totalBytes)} after, peak ${mb(peakBytes)}, ${mb(vacuumed.totalBytes)} after VACUUM; autovacuum ${settings!.autovacuum}`);
      const n = events.toLocaleString('en-US');
      return {
        rows: [
          { scenario: 'memory', measure: `consumer RSS draining ${n} events (session.events(), batch 100), MB (idle at start / max)`,
            baseline: fmt(idle.rssMb, 1), subject: fmt(done.maxRssMb, 1), value: fmt(done.maxRssMb, 1),
            target: `< ${RSS_TARGET_MB} MB`, met: done.maxRssMb < RSS_TARGET_MB },
          { scenario: 'memory', measure: `event.queue + event.capture on disk after ${n} produced and acked (autovacuum ${settings!.autovacuum}` +
              `${maintaining ? `, maintain --vacuum every ${MAINTAIN_EVERY_MS / 1000} s` : ''}; peak during run)`,
            baseline: mb(peakBytes), subject: mb(after.totalBytes), value: mb(after.totalBytes), target: 'report', met: null },
          { scenario: 'memory', measure: 'event.queue + event.capture on disk after maintain({ vacuum: true })',
            baseline: mb(after.totalBytes), subject: mb(vacuumed.totalBytes), value: mb(vacuumed.totalBytes), target: 'report', met: null },
        ],
        results: { consumer_rss_mb: done.maxRssMb, queue_bytes_after_1m: after.totalBytes },
        details: {
          events, chunk, produce_s: produceMs / 1000, drain_s: done.seconds, total_s: totalSeconds,
          drain_events_per_s: events / done.seconds, consumer_idle_rss_mb: idle.rssMb, consumer_max_rss_mb: done.maxRssMb,
          autovacuum: settings!.autovacuum, autovacuum_naptime: settings!.naptime,
          maintain_vacuum_every_ms: maintaining ? MAINTAIN_EVERY_MS : null, maintain_passes: passes,
          queue_peak_bytes: peakBytes, queue_after: after, maintain: pass, queue_after_vacuum: vacuumed,
        },
      };
    } finally {
      sampling = false;
      await sampler.catch(() => {});
      consumer.kill();
      await resetQueue(pool);
    }
  },
};
