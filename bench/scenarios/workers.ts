/**
 * Issue #19: consumer processes on one session. 1, 2,
 * 4 and 8 Worker processes (bench/fixtures/worker.mjs: a no-op handler,
 * concurrency 32, batches of 100) on one session, all started and idle;
 * then one INSERT … SELECT of E rows into the subscribed table, and
 * events/s from its commit until the session is empty. Both delivery orders: 'parallel' (processes take disjoint
 * batches at once) and 'strict' (one batch of the session in flight at a
 * time, by design: more processes cannot help).
 *
 * Database CPU per event: utime + stime of the worker processes' own
 * PostgreSQL backends (/proc/<pid>/stat, 10 ms ticks), divided by E. It
 * leaves out background processes (WAL writer, checkpointer, autovacuum)
 * and needs the server on this machine (null otherwise). pg_stat_statements
 * would need shared_preload_libraries; /proc needs nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { backendCpuMs, cpuSpentMs } from '../support/backend-cpu.js';
import { fmt, fmtMs, type ResultRow, type ScenarioOutcome } from '../support/results.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { createItemTable, insertRowsSql, resetEvents, subscribedSession } from '../support/tables.js';
import { timeMs } from '../support/timing.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'worker.mjs');
const TABLE = 'worker_items';
const APP = 'aqevent-bench-worker';
// Handlers per process: enough that a no-op handler does not limit a process, as a user would set it for cheap handlers.
const CONCURRENCY = 32;

interface Child { child: ChildProcess; ready: Promise<void>; done: Promise<number> }

function startWorker(config: object, sessionId: string): Child {
  const child = spawn(process.execPath, [SCRIPT, sessionId, String(CONCURRENCY), '100'], {
    env: { ...process.env, AQEVENT_BENCH_CLIENT: JSON.stringify(config) }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const message = (type: string) => new Promise<Record<string, number>>((resolve, reject) => {
    lines.on('line', (line) => {
      const parsed = JSON.parse(line);
      if (parsed.type === type) resolve(parsed);
    });
    child.once('exit', (code) => reject(new Error(`bench worker exited (${code}) before "${type}"`)));
  });
  const ready = message('ready').then(() => undefined);
  const done = message('done').then((m) => m.processed!);
  ready.catch(() => {});
  done.catch(() => {});
  return { child, ready, done };
}

export const workers: Scenario = {
  name: 'workers',
  title: 'Worker processes on one session (1, 2, 4, 8; parallel and strict order)',
  async run(ctx: BenchContext): Promise<ScenarioOutcome> {
    const { pool } = ctx.db;
    const events = ctx.quick ? 1_000 : 20_000;
    const counts = ctx.quick ? [1, 2] : [1, 2, 4, 8];
    const orders = ctx.quick ? ['parallel'] : ['parallel', 'strict'];
    await createItemTable(pool, TABLE);
    const sessionId = await subscribedSession(pool, TABLE);
    const rows: ResultRow[] = [];
    const rates: Record<string, number> = {};
    const cpu: Record<string, number | null> = {};
    try {
      for (const order of orders) {
        let single = 0;
        for (const processes of counts) {
          await pool.query(`TRUNCATE bench.${TABLE}`);
          await resetEvents(pool);
          await pool.query('SELECT event.set_delivery_order($1, $2)', [sessionId, order]);
          const children = Array.from({ length: processes }, () => startWorker(ctx.db.clientConfig, sessionId));
          try {
            await Promise.all(children.map((c) => c.ready));
            const before = await backendCpuMs(pool, APP);
            // One statement captures every event; the clock starts once it has committed.
            await pool.query(insertRowsSql(TABLE, 1, events));
            const ms = await timeMs(async () => {
              for (;;) {
                const { rows: left } = await pool.query<{ n: string }>(
                  'SELECT backlog + in_flight AS n FROM event.stats() WHERE session_id = $1', [sessionId]);
                if (Number(left[0]!.n) === 0) break;
                await new Promise((resolve) => setTimeout(resolve, 10));
              }
            });
            const after = await backendCpuMs(pool, APP);
            for (const c of children) c.child.kill('SIGTERM');
            const processed = (await Promise.all(children.map((c) => c.done))).reduce((a, b) => a + b, 0);
            if (processed < events) throw new Error(`workers: ${processed} of ${events} events handled`);
            const rate = (events * 1000) / ms;
            const cpuUs = before && after ? (cpuSpentMs(before, after) * 1000) / events : null;
            if (processes === 1) single = rate;
            const key = `${order}_${processes}`;
            rates[key] = rate;
            cpu[key] = cpuUs;
            ctx.log(`workers ${order} x${processes}: ${fmt(rate, 0)} events/s (${fmtMs(ms)}), database CPU ${cpuUs === null ? 'n/a' : `${fmt(cpuUs, 1)} µs`}/event`);
            rows.push({
              scenario: 'workers', measure: `${events.toLocaleString('en-US')} events, ${order} order, ${processes} process${processes > 1 ? 'es' : ''}: events/s (1 process vs this)`,
              baseline: fmt(single, 0), subject: fmt(rate, 0),
              value: `${fmt(rate / single)}x; db ${cpuUs === null ? 'n/a' : `${fmt(cpuUs, 0)} µs/event`}`, floor: '-', target: '-', met: null,
            });
          } finally {
            for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
          }
        }
      }
      return {
        rows,
        results: { worker_processes_events_per_s: rates, worker_db_cpu_us_per_event: cpu },
        details: { events, handler: 'no-op', concurrency_per_process: CONCURRENCY, batch: 100, cpu_method: '/proc/<pid>/stat of the workers\' backends' },
      };
    } finally {
      await resetEvents(pool);
    }
  },
};
