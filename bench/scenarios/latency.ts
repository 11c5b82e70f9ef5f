/**
 * Latency. A writer on its own connection commits events at a fixed rate
 * (1,000/s for 10 s); a consumer in another process, on session.events()
 * (auto ack, default batch size), notes when each event reaches its loop
 * body. The consumer's live stream LISTENs on "aqevent" and registers in
 * event.listener (src/db/wake.ts), so the writer's capture NOTIFYs once per
 * transaction while it runs. Latency = receipt time minus the time the writer's
 * COMMIT returned, both as wall time (performance.timeOrigin +
 * performance.now()), the child's clock offset measured by ping and
 * subtracted.
 *
 * The headline run commits every 10 ms (10 events per commit at 1,000/s):
 * one connection cannot commit 1,000 single-row transactions per second on
 * this machine's disk. Also measured: one event per commit (as fast as the
 * writer gets, up to the rate), and the headline run with relaxed leases
 * (the consumer's connections at aqevent.durable_leases = off): by default
 * each fetch and ack waits for its WAL flush, as it must for a lease to
 * survive a server crash (docs/guarantees.md); relaxed, they do not.
 */
import type pg from 'pg';
import { ConsumerProcess, wallNow } from '../support/consumer-process.js';
import { fmt, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, insertMarker, insertRowsSql, resetEvents, subscribedSession } from '../support/tables.js';
import { percentile } from '../support/timing.js';

const P50_TARGET = 2;
const P99_TARGET = 10;
const TABLE = 'latency_items';

interface Run {
  fromCommit: number[];
  fromSend: number[];
  commitMs: number[];
  achieved: number;
  behind: number;
  clock: { offsetMs: number; roundTripMs: number };
}

const COMMIT_EVERY_MS = 10;

/** perCommit events per transaction (one INSERT … SELECT), rate events per second. */
async function measure(ctx: BenchContext, consumerConfig: pg.ClientConfig, rate: number, seconds: number, perCommit: number): Promise<Run> {
  const { pool } = ctx.db;
  const total = rate * seconds;
  await pool.query(`TRUNCATE bench.${TABLE}`);
  await resetEvents(pool);
  const sessionId = await subscribedSession(pool, TABLE);
  const consumer = new ConsumerProcess(consumerConfig, sessionId, 100, true);
  const writer = await ctx.db.client();
  try {
    await insertMarker(pool, TABLE, 0);
    await consumer.ready();
    const clock = await consumer.clockOffset();
    const sentAt = new Float64Array(total + 1);
    const committedAt = new Float64Array(total + 1);
    const start = wallNow() + 50;
    let behind = 0;
    for (let first = 1; first <= total; first += perCommit) {
      // Paced to the schedule; a writer that falls behind writes at once (and is counted).
      const wait = start + ((first - 1) * 1000) / rate - wallNow();
      // No busy wait: it would take a core from the server and the consumer.
      if (wait > 0.5) await new Promise((resolve) => setTimeout(resolve, wait));
      else if (wait < -5) behind++;
      const sent = wallNow();
      await writer.query(insertRowsSql(TABLE, first, perCommit));
      sentAt.fill(sent, first, first + perCommit);
      committedAt.fill(wallNow(), first, first + perCommit);
    }
    const writeSeconds = (committedAt[total]! - sentAt[1]!) / 1000;
    await insertMarker(pool, TABLE, -1);
    const done = await consumer.done(120_000);
    if (done.received !== total) throw new Error(`latency: consumer received ${done.received} of ${total} events`);
    const run: Run = { fromCommit: [], fromSend: [], commitMs: [], achieved: total / writeSeconds, behind, clock };
    for (let i = 0; i < done.receipts.length; i += 2) {
      const id = done.receipts[i]!;
      const at = done.receipts[i + 1]! - clock.offsetMs;
      run.fromCommit.push(at - committedAt[id]!);
      run.fromSend.push(at - sentAt[id]!);
      run.commitMs.push(committedAt[id]! - sentAt[id]!);
    }
    // The next run's session must not see this one's events: delete it (the log is emptied by the next run).
    await pool.query('SELECT event.session_delete($1)', [sessionId]);
    return run;
  } finally {
    consumer.kill();
    await writer.end();
  }
}

const stats = (values: number[]) => ({
  p50: percentile(values, 50), p90: percentile(values, 90), p99: percentile(values, 99),
  p999: percentile(values, 99.9), max: Math.max(...values), min: Math.min(...values),
});

const runDetails = (run: Run) => ({
  achieved_rate: run.achieved, writes_behind_schedule: run.behind,
  clock_offset_ms: run.clock.offsetMs, clock_round_trip_ms: run.clock.roundTripMs,
  commit_to_receipt_ms: stats(run.fromCommit), send_to_receipt_ms: stats(run.fromSend), writer_commit_ms: stats(run.commitMs),
});

export const latency: Scenario = {
  name: 'latency',
  title: 'Latency (writer commits at a fixed rate, consumer in another process)',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const rate = ctx.quick ? 200 : 1000;
    const seconds = ctx.quick ? 2 : 10;
    const total = rate * seconds;
    await createItemTable(ctx.db.pool, TABLE);
    const perCommit = (rate * COMMIT_EVERY_MS) / 1000;
    const main = await measure(ctx, ctx.db.clientConfig, rate, seconds, perCommit);
    const p50 = percentile(main.fromCommit, 50);
    const p99 = percentile(main.fromCommit, 99);
    ctx.log(`latency: ${total} events at ${fmt(main.achieved, 0)}/s (asked ${rate}/s), p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms, ` +
            `clock offset ${fmt(main.clock.offsetMs, 3)} ms (round trip ${fmt(main.clock.roundTripMs, 3)} ms)`);
    const single = await measure(ctx, ctx.db.clientConfig, rate, seconds, 1);
    ctx.log(`latency, 1 event per commit: ${fmt(single.achieved, 0)}/s, p50 ${fmt(percentile(single.fromCommit, 50))} ms, ` +
            `p99 ${fmt(percentile(single.fromCommit, 99))} ms`);
    const relaxed = await measure(ctx, { ...ctx.db.clientConfig, options: '-c aqevent.durable_leases=off' }, rate, seconds, perCommit);
    ctx.log(`latency, relaxed leases: p50 ${fmt(percentile(relaxed.fromCommit, 50))} ms, ` +
            `p99 ${fmt(percentile(relaxed.fromCommit, 99))} ms`);
    const pair = (values: number[]) => `${fmt(percentile(values, 50))} / ${fmt(percentile(values, 99))}`;
    const rows: ResultRow[] = [
      { scenario: 'latency', measure: `${total.toLocaleString('en-US')} events, ${perCommit} per commit, ${fmt(main.achieved, 0)}/s (asked ${rate}/s): commit to receipt p50, ms`,
        baseline: '-', subject: fmt(p50), value: fmt(p50), floor: '-', target: `<= ${P50_TARGET} ms`, met: p50 <= P50_TARGET },
      { scenario: 'latency', measure: 'commit to receipt p99, ms', baseline: '-', subject: fmt(p99),
        value: fmt(p99), floor: '-', target: `<= ${P99_TARGET} ms`, met: p99 <= P99_TARGET },
      { scenario: 'latency', measure: `writer: INSERT of ${perCommit} rows + COMMIT p50 / p99, ms`, baseline: '-', subject: pair(main.commitMs),
        value: '-', floor: '-', target: 'report', met: null },
      { scenario: 'latency', measure: `1 event per commit (${fmt(single.achieved, 0)}/s): commit to receipt p50 / p99, ms`,
        baseline: '-', subject: pair(single.fromCommit), value: '-', floor: '-', target: 'report', met: null },
      { scenario: 'latency', measure: `1 event per commit: writer's INSERT + COMMIT p50 / p99, ms`, baseline: '-', subject: pair(single.commitMs),
        value: '-', floor: '-', target: 'report', met: null },
      { scenario: 'latency', measure: `${perCommit} per commit, relaxed leases (aqevent.durable_leases = off, ${fmt(relaxed.achieved, 0)}/s) vs durable: commit to receipt p50 / p99, ms`,
        baseline: pair(main.fromCommit), subject: pair(relaxed.fromCommit), value: '-', floor: '-', target: 'report', met: null },
    ];
    return {
      rows,
      results: { latency_p50_ms: p50, latency_p99_ms: p99 },
      details: {
        rate, seconds, events: total, events_per_commit: perCommit, headline: runDetails(main),
        one_per_commit: runDetails(single), relaxed_leases: runDetails(relaxed),
      },
    };
  },
};
