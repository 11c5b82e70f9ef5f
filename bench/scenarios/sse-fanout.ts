/**
 * Issue #18: one `aqevent serve` process (a child process, its RSS read from
 * /proc) holds 1,000 SSE streams, one session each, on loopback.
 * Latency: one committed write, from the moment its COMMIT returned to its
 * arrival on each stream (wall time, one clock: the readers run in this
 * process); the time from sending the write is reported too.
 * Throughput: back-to-back writes of many rows, events written to all
 * streams per second until the last stream has the last event (paced by
 * the writer: capture of one write into 1,000 tables takes seconds here);
 * then the same events as a backlog to 1,000 new streams, which measures
 * what serve itself delivers per second.
 *
 * Two layouts. "one table": 1,000 sessions subscribed to the same table, as
 * the issue asks: the writer appends each statement once, and serve reads
 * the due sessions with event.peek_many (collected in one pass). "one table
 * each": 1,000 sessions, each subscribed to a table of its own, and one
 * transaction writing a row into every table: one commit reaches all 1,000
 * streams through 1,000 capture triggers. Beside the figures: Supabase Realtime's
 * published broadcast benchmark, 46 ms median and 132 ms p95 (a different
 * machine and a different test; for orientation, not a comparison of
 * equals). Readers acknowledge between rounds, outside the timings, as the
 * browser client does every 2 s.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mintToken } from '../../src/http/auth.js';
import { wallNow } from '../support/consumer-process.js';
import { fmt, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { ackAll, openSseClient, type SseClient } from '../support/sse-clients.js';
import { createItemTable, insertRowsSql } from '../support/tables.js';
import { percentile } from '../support/timing.js';

const TABLE = 'sse_items';
/** Streams of the one-table layout. */
const SAME_TABLE_STREAMS = 1000;
const P99_TARGET_MS = 100;
const RSS_TARGET_MB = 300;
const RATE_TARGET = 10_000;
const SUPABASE = { p50: 46, p95: 132 };
const BIN = fileURLToPath(new URL('../../bin/aqevent', import.meta.url));
const SECRET = 'bench secret, loopback only';

async function rssMb(pid: number): Promise<{ now: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function until(what: string, check: () => boolean, timeoutMs: number, wake: { notify?: () => void }): Promise<void> {
  if (check()) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sse-fanout: timed out waiting for ${what}`)), timeoutMs);
    wake.notify = () => {
      if (!check()) return;
      clearTimeout(timer);
      wake.notify = undefined;
      resolve();
    };
  });
}

interface Layout {
  name: string;
  streams: number;
  /** Creates the sessions and subscriptions; returns the session ids. */
  setup(ctx: BenchContext): Promise<string[]>;
  /** One transaction writing `rows` rows that every session's subscription matches. */
  write(ctx: BenchContext, first: number, rows: number): Promise<void>;
}

const oneTable = (streams: number): Layout => ({
  name: 'one table',
  streams,
  async setup(ctx) {
    await createItemTable(ctx.db.pool, TABLE);
    const { rows } = await ctx.db.pool.query<{ id: string }>(
      `SELECT s.id::text AS id FROM (SELECT event.session_create() AS id FROM generate_series(1, $1)) s
       CROSS JOIN LATERAL event.subscribe_table(s.id, meta.relation_id('bench', $2))`, [streams, TABLE]);
    return rows.map((r) => r.id);
  },
  async write(ctx, first, rows) {
    await ctx.db.pool.query(insertRowsSql(TABLE, first, rows));
  },
});

const tableEach = (streams: number): Layout => ({
  name: 'one table each',
  streams,
  async setup(ctx) {
    const { pool } = ctx.db;
    await pool.query(`CREATE SCHEMA IF NOT EXISTS bench_sse;
      CREATE FUNCTION bench_sse.write(tables int, first bigint, n int) RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        FOR i IN 1..tables LOOP
          EXECUTE format('INSERT INTO bench_sse.%I (id, v) SELECT g, g FROM generate_series($1, $1 + $2 - 1) g', 't' || i) USING first, n;
        END LOOP;
      END $$`);
    const { rows } = await pool.query<{ id: string }>('SELECT event.session_create()::text AS id FROM generate_series(1, $1)', [streams]);
    for (let i = 0; i < streams; i += 100) {
      const chunk = rows.slice(i, i + 100);
      await pool.query(chunk.map((_, j) => `CREATE TABLE bench_sse.t${i + j + 1} (id bigint PRIMARY KEY, v bigint)`).join(';'));
      await pool.query(
        `SELECT count(event.subscribe_table(s.id, meta.relation_id('bench_sse', 't' || (s.n + $2)))) FROM unnest($1::uuid[]) WITH ORDINALITY s(id, n)`,
        [chunk.map((r) => r.id), i]);
    }
    return rows.map((r) => r.id);
  },
  async write(ctx, first, rows) {
    await ctx.db.pool.query('SELECT bench_sse.write($1, $2, $3)', [streams, first, rows]);
  },
});

interface Measured {
  p50: number; p95: number; p99: number; fromSendP50: number; writeMs: number;
  rate: number; backlogRate: number; idle: number; withStreams: number; peak: number;
}

async function measure(ctx: BenchContext, layout: Layout, token: string): Promise<Measured> {
  const sessions = await layout.setup(ctx);
  const rounds = ctx.quick ? 3 : 10;
  const bursts = ctx.quick ? 2 : 5;
  const rowsPerBurst = ctx.quick ? 5 : 10;
  const connectionString = ctx.db.clientConfig.connectionString;
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--json', '--pool-size', '8'], {
    env: { ...process.env, AQEVENT_JWT_SECRET: SECRET, ...(connectionString ? { DATABASE_URL: connectionString } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const clients: SseClient[] = [];
  try {
    const base = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`aqevent serve exited (${code})`)));
      createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
    });
    const idle = await rssMb(child.pid!);
    const wake: { notify?: () => void } = {};
    const onEvent = () => wake.notify?.();
    for (let i = 0; i < sessions.length; i += 100) {
      clients.push(...await Promise.all(sessions.slice(i, i + 100).map((id) => openSseClient(base, token, id, onEvent))));
    }
    const withStreams = await rssMb(child.pid!);
    ctx.log(`sse-fanout (${layout.name}): ${layout.streams} streams open; serve RSS ${fmt(idle.now, 1)} MB idle, ${fmt(withStreams.now, 1)} MB with them`);

    const latencies: number[] = [];
    const fromSend: number[] = [];
    const writes: number[] = [];
    let nextId = 1;
    for (let round = 0; round < rounds; round++) {
      const before = clients.map((c) => c.ids.length);
      const sent = wallNow();
      await layout.write(ctx, nextId++, 1);
      const committed = wallNow();
      writes.push(committed - sent);
      await until('a write on every stream', () => clients.every((c, i) => c.ids.length > before[i]!), 60_000, wake);
      for (const [i, c] of clients.entries()) {
        latencies.push(Math.max(0, c.at[before[i]!]! - committed));
        fromSend.push(c.at[before[i]!]! - sent);
      }
      await Promise.all(clients.map((c) => ackAll(base, token, c)));
    }
    const counts = clients.map((c) => c.ids.length);
    const started = wallNow();
    for (let burst = 0; burst < bursts; burst++) {
      await layout.write(ctx, nextId, rowsPerBurst);
      nextId += rowsPerBurst;
    }
    const perStream = bursts * rowsPerBurst;
    await until('every burst on every stream', () => clients.every((c, i) => c.ids.length >= counts[i]! + perStream), 300_000, wake);
    const seconds = (Math.max(...clients.map((c) => c.at.at(-1)!)) - started) / 1000;

    // The same events again, as a backlog: new streams (no Last-Event-ID, nothing acknowledged since the
    // bursts) get every pending event; events/s from opening them to the last event on the last stream.
    const pending = clients.map((c, i) => c.ids.length - counts[i]!);
    for (const c of clients.splice(0)) c.request.destroy();
    const reopened = wallNow();
    for (let i = 0; i < sessions.length; i += 100) {
      clients.push(...await Promise.all(sessions.slice(i, i + 100).map((id) => openSseClient(base, token, id, onEvent))));
    }
    await until('the backlog on every stream', () => clients.every((c, i) => c.ids.length >= pending[i]!), 300_000, wake);
    const backlogSeconds = (Math.max(...clients.map((c) => c.at.at(-1)!)) - reopened) / 1000;
    const delivered = clients.reduce((n, c) => n + c.ids.length, 0);
    const after = await rssMb(child.pid!);
    const result: Measured = {
      p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99),
      fromSendP50: percentile(fromSend, 50), writeMs: percentile(writes, 50),
      rate: (perStream * layout.streams) / seconds, backlogRate: delivered / backlogSeconds, idle: idle.now, withStreams: withStreams.now, peak: after.peak,
    };
    ctx.log(`sse-fanout (${layout.name}): commit → stream p50 ${fmt(result.p50, 1)} / p95 ${fmt(result.p95, 1)} / p99 ${fmt(result.p99, 1)} ms ` +
            `(from sending the write p50 ${fmt(result.fromSendP50, 1)} ms, the write itself ${fmt(result.writeMs, 1)} ms); ` +
            `${perStream * layout.streams} events in ${fmt(seconds, 2)} s = ${fmt(result.rate, 0)}/s live; ` +
            `as a backlog ${delivered} events in ${fmt(backlogSeconds, 2)} s = ${fmt(result.backlogRate, 0)}/s; serve RSS peak ${fmt(after.peak, 1)} MB`);
    return result;
  } finally {
    for (const c of clients) c.request.destroy();
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
  }
}

function rowsFor(ctx: BenchContext, layout: Layout, m: Measured): ResultRow[] {
  const label = `${layout.streams} streams, ${layout.name}`;
  const judged = (ok: boolean) => (ctx.quick ? null : ok);
  return [
    { scenario: 'sse-fanout', measure: `${label}: commit → every stream, p50 / p95 ms (Supabase broadcast ${SUPABASE.p50} / ${SUPABASE.p95})`,
      baseline: `${SUPABASE.p50} / ${SUPABASE.p95}`, subject: `${fmt(m.p50, 1)} / ${fmt(m.p95, 1)}`, value: fmt(m.p50, 1), floor: 'Supabase published', target: 'beside Supabase', met: null },
    { scenario: 'sse-fanout', measure: `${label}: commit → every stream, p99 ms (from sending the write: p50 ${fmt(m.fromSendP50, 0)})`,
      baseline: '', subject: fmt(m.p99, 1), value: fmt(m.p99, 1), floor: '-', target: `<= ${P99_TARGET_MS}`, met: judged(m.p99 <= P99_TARGET_MS) },
    { scenario: 'sse-fanout', measure: `${label}: serve RSS MB (idle / with streams / peak)`,
      baseline: fmt(m.idle, 1), subject: `${fmt(m.withStreams, 1)} / ${fmt(m.peak, 1)}`, value: fmt(m.peak, 1),
      floor: '-', target: `<= ${RSS_TARGET_MB}`, met: judged(m.peak <= RSS_TARGET_MB) },
    { scenario: 'sse-fanout', measure: `${label}: sustained fan-out, events/s (live: paced by the writes / as a backlog)`,
      baseline: fmt(m.rate, 0), subject: fmt(m.backlogRate, 0), value: fmt(m.backlogRate, 0), floor: '-', target: `>= ${RATE_TARGET}`,
      met: judged(m.backlogRate >= RATE_TARGET) },
  ];
}

export const sseFanout: Scenario = {
  name: 'sse-fanout',
  title: 'SSE fan-out through aqevent serve (1,000 streams)',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { rows: [me] } = await ctx.db.pool.query<{ role: string }>('SELECT current_user AS role');
    const token = await mintToken({ secret: SECRET, role: me!.role, ttlMs: 3_600_000 });
    const layouts = [tableEach(ctx.quick ? 100 : 1000), oneTable(ctx.quick ? 100 : SAME_TABLE_STREAMS)];
    const out: ResultRow[] = [];
    const details: Record<string, unknown> = { supabase_published_ms: SUPABASE };
    for (const layout of layouts) {
      const m = await measure(ctx, layout, token);
      out.push(...rowsFor(ctx, layout, m));
      details[layout.name] = { streams: layout.streams, ...m };
    }
    return { rows: out, results: {}, details };
  },
};
