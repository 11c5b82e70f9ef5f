/**
 * Issue #19: forwarding into JetStream. E pending events; the subject is
 * forwardToNats with its defaults (strict order, batches of 256, 256
 * publishes in flight) from the moment it is called until the last event is
 * acknowledged in PostgreSQL after its PubAck (its connect included; its
 * stream is made beforehand). The baseline is raw JetStream publishing of
 * the same messages from Node in the same run: the events' JSON read from
 * the session first (not timed), published with the same Nats-Msg-Id
 * headers and 256 in flight, until the last PubAck. Runs alternate (B S,
 * S B); the ratio is forwarder events/s over raw events/s.
 *
 * Needs a nats-server with JetStream: AQEVENT_BENCH_NATS, default
 * nats://127.0.0.1:4222 (.ci/run starts one). Without it the keys are null.
 */
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { forwardToNats } from '../../src/forward/forwarder.js';
import { Session } from '../../src/session.js';
import { fmt, fmtMs, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, insertRowsSql, resetEvents, subscribedSession } from '../support/tables.js';
import { interleaved, timeMs } from '../support/timing.js';

const TABLE = 'forward_items';
const IN_FLIGHT = 256;
const encoder = new TextEncoder();

export const forward: Scenario = {
  name: 'forward',
  title: 'Forwarding into JetStream (raw JetStream publishing vs forwardToNats)',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const url = process.env.AQEVENT_BENCH_NATS ?? 'nats://127.0.0.1:4222';
    const nc = await connect({ servers: url, timeout: 2_000 }).catch(() => undefined);
    if (!nc) {
      ctx.log(`forward: no NATS at ${url}; skipped`);
      return { rows: [], results: {}, pending: `no NATS server with JetStream at ${url}` };
    }
    const { pool } = ctx.db;
    const events = ctx.quick ? 500 : 20_000;
    const tag = `aqbench${process.pid}`;
    const streams = { raw: `AQBENCH_RAW_${process.pid}`, forward: `AQBENCH_FWD_${process.pid}` };
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    try {
      await jsm.streams.add({ name: streams.raw, subjects: [`${tag}raw.>`] });
      await jsm.streams.add({ name: streams.forward, subjects: [`${tag}fwd.>`] });
      await createItemTable(pool, TABLE);
      const sessionId = await subscribedSession(pool, TABLE);
      const session = new Session(pool, sessionId);
      const load = async () => {
        await pool.query(`TRUNCATE bench.${TABLE}`);
        await resetEvents(pool);
        await pool.query(insertRowsSql(TABLE, 1, events));
        await pool.query('ANALYZE event.inbox, event.change');
      };

      const raw = async () => {
        await jsm.streams.purge(streams.raw);
        await load();
        const { rows } = await pool.query<{ id: string; op: string; event: string }>(
          "SELECT id::text AS id, event->>'operation' AS op, event::text AS event FROM event.pending_event WHERE session_id = $1 ORDER BY id", [sessionId]);
        const messages = rows.map((r) => ({ subject: `${tag}raw.bench.${TABLE}.${r.op}`, data: encoder.encode(r.event), msgID: `${sessionId}:${r.id}` }));
        return timeMs(async () => {
          let next = 0;
          const lane = async () => {
            while (next < messages.length) {
              const m = messages[next++]!;
              await js.publish(m.subject, m.data, { msgID: m.msgID });
            }
          };
          await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
        });
      };
      const forwarded = async () => {
        await jsm.streams.purge(streams.forward);
        await load();
        const controller = new AbortController();
        let count = 0;
        let finish!: () => void;
        const all = new Promise<void>((resolve) => (finish = resolve));
        let running: Promise<unknown> | undefined;
        const ms = await timeMs(async () => {
          running = forwardToNats(session, {
            servers: url, stream: streams.forward, subject: `${tag}fwd.{schema}.{table}.{operation}`, signal: controller.signal,
            onForwarded: () => {
              if (++count === events) finish();
            },
          });
          await Promise.race([all, running.then(() => {
            throw new Error(`forward: the forwarder stopped after ${count} of ${events} events`);
          })]);
        });
        controller.abort();
        await running;
        const info = await jsm.streams.info(streams.forward);
        if (info.state.messages !== events) throw new Error(`forward: the stream holds ${info.state.messages} of ${events} events`);
        return ms;
      };

      const r = await interleaved(ctx.quick ? 1 : 2, raw, forwarded);
      const rawRate = (events * 1000) / r.baseline;
      const forwardRate = (events * 1000) / r.subject;
      const ratio = 1 / r.ratio;
      ctx.log(`forward: forwarder ${fmt(forwardRate, 0)} events/s (${fmtMs(r.subject)}), raw JetStream ${fmt(rawRate, 0)} events/s (${fmtMs(r.baseline)}), ${fmt(ratio)}x`);
      const rows: ResultRow[] = [{
        scenario: 'forward', measure: `${events.toLocaleString('en-US')} events into JetStream, events/s (raw publishing vs forwarder)`,
        baseline: fmt(rawRate, 0), subject: fmt(forwardRate, 0), value: `${fmt(ratio)}x`, floor: 'raw publishing', target: '-', met: null,
      }];
      return {
        rows,
        results: { forward_events_per_s: forwardRate, raw_jetstream_events_per_s: rawRate, forward_vs_raw_ratio: ratio },
        details: { events, in_flight: IN_FLIGHT, forward_ms: r.subjects, raw_ms: r.baselines },
      };
    } finally {
      for (const name of Object.values(streams)) await jsm.streams.delete(name).catch(() => {});
      await nc.close();
      await resetEvents(pool);
    }
  },
};
