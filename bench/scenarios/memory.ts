/**
 * Memory and bloat. A consumer in its own process drains 1,000,000 events
 * with session.events() (auto ack, default batch size of 100) while they
 * are produced: INSERT … SELECT of 100,000 rows into a subscribed table, ten
 * times, each once at most 100,000 are still unacknowledged (in event.inbox
 * or in the change log past the session's cursor). The consumer samples its
 * resident memory (every 50 ms and every 1,000 events) and reports the
 * largest.
 *
 * Then the size on disk of what holds events (queueSize(),
 * event.queue_size(): event.inbox, event.change and event.dead_letter, with
 * indexes and TOAST) after the million were produced and acknowledged, its
 * largest size seen during the run (sampled every second), and after one
 * more maintain({ vacuum: true }) pass. The change log is trimmed only by
 * maintenance (event.trim_changes, in every maintain pass), so the run does
 * what docs/operations.md prescribes: a maintain pass every 15 s (with
 * VACUUM when autovacuum is off; cron's minimum is a minute, shorter here
 * to keep the run short).
 */
import type pg from 'pg';
import { maintain, queueSize } from '../../src/maintenance/operations.js';
import { ConsumerProcess } from '../support/consumer-process.js';
import { fmt, reportRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, insertMarker, insertRowsSql, pendingCount, resetEvents, subscribedSession } from '../support/tables.js';
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
    const events = ctx.quick ? 10_000 : 1_000_000;
    const chunk = ctx.quick ? 5_000 : 100_000;
    const { rows: [settings] } = await pool.query<{ autovacuum: string; naptime: string }>(
      "SELECT current_setting('autovacuum') AS autovacuum, current_setting('autovacuum_naptime') AS naptime");
    await createItemTable(pool, TABLE);
    await resetEvents(pool);
    const sessionId = await subscribedSession(pool, TABLE);
    const consumer = new ConsumerProcess(ctx.db.clientConfig, sessionId, 100, false);
    const vacuuming = settings!.autovacuum !== 'on';
    let peakBytes = 0;
    let sampling = true;
    const passes: { at_s: number; vacuum_ms: number; bytes_before: number }[] = [];
    const runStarted = Date.now();
    let lastPass = runStarted;
    const sampler = (async () => {
      while (sampling) {
        const bytes = (await queueSize(pool)).totalBytes;
        peakBytes = Math.max(peakBytes, bytes);
        if (Date.now() - lastPass >= MAINTAIN_EVERY_MS) {
          const vacuumMs = await timeMs(() => maintain(pool, { vacuum: vacuuming }));
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
              `inbox + change log ${mb(after.totalBytes)} after, peak ${mb(peakBytes)}, ${mb(vacuumed.totalBytes)} after VACUUM; autovacuum ${settings!.autovacuum}`);
      const n = events.toLocaleString('en-US');
      return {
        rows: [
          { scenario: 'memory', measure: `consumer RSS draining ${n} events (session.events(), batch 100), MB (idle at start / max)`,
            baseline: fmt(idle.rssMb, 1), subject: fmt(done.maxRssMb, 1), value: fmt(done.maxRssMb, 1),
            floor: '-', target: `<= ${RSS_TARGET_MB} MB`, met: done.maxRssMb <= RSS_TARGET_MB },
          reportRow('memory', `event.inbox + event.change on disk after ${n} produced and acked (autovacuum ${settings!.autovacuum}, ` +
                      `maintain${vacuuming ? ' --vacuum' : ''} every ${MAINTAIN_EVERY_MS / 1000} s; baseline: peak during run)`,
                    mb(peakBytes), mb(after.totalBytes), mb(after.totalBytes)),
          reportRow('memory', 'event.inbox + event.change on disk after maintain({ vacuum: true })',
                    mb(after.totalBytes), mb(vacuumed.totalBytes), mb(vacuumed.totalBytes)),
        ],
        results: { consumer_rss_mb: done.maxRssMb, queue_bytes_after_1m: after.totalBytes },
        details: {
          events, chunk, produce_s: produceMs / 1000, drain_s: done.seconds, total_s: totalSeconds,
          drain_events_per_s: events / done.seconds, consumer_idle_rss_mb: idle.rssMb, consumer_max_rss_mb: done.maxRssMb,
          autovacuum: settings!.autovacuum, autovacuum_naptime: settings!.naptime,
          maintain_every_ms: MAINTAIN_EVERY_MS, maintain_vacuum: vacuuming, maintain_passes: passes,
          queue_peak_bytes: peakBytes, queue_after: after, maintain: pass, queue_after_vacuum: vacuumed,
        },
      };
    } finally {
      sampling = false;
      await sampler.catch(() => {});
      consumer.kill();
      await resetEvents(pool);
    }
  },
};
