import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './database.js';
import { eventually } from './roles.js';
import { createWorkLog, killRunning, spawnWorker, untilQueueEmpty, type WorkerProcess } from './worker.js';

/**
 * The body of test/worker-processes-*.test.ts: for each count, that many
 * Worker processes (test/fixtures/worker-child.ts) share one session. Each
 * delivery of an event is handled to completion once (a start and a done,
 * in one process), each row's events are handled one after the other in id
 * order, and with two or more processes one of them is killed (SIGKILL)
 * mid-handler: its leases return and the others finish its events.
 */
const ROWS = 40;
const CHANGES = 5;

interface LogRow { event_id: string; pid: number; phase: 'start' | 'done'; attempts: number; at: Date }

export function workerProcessTests(counts: number[]): void {
  let db: TestDatabase;
  const children: WorkerProcess[] = [];
  before(async () => {
    db = await createTestDatabase();
    await createWorkLog(db.pool);
  });
  after(async () => {
    killRunning(children);
    await db.drop();
  });

  for (const processes of counts) {
    test(`${processes} worker process${processes > 1 ? 'es' : ''} on one session: each delivery handled once to completion, rows in order${processes > 1 ? ', a killed one\'s leases return' : ''}`, async (t) => {
      const table = `scale_${processes}`;
      await db.pool.query(`CREATE TABLE public.${table} (id int PRIMARY KEY, v int NOT NULL)`);
      const sessionId: string = (await db.pool.query('SELECT event.session_create() AS id')).rows[0].id;
      await db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', $2))", [sessionId, table]);

      await db.pool.query(`INSERT INTO public.${table} SELECT g, 0 FROM generate_series(1, $1::int) g`, [ROWS]);
      for (let i = 1; i < CHANGES; i++) await db.pool.query(`UPDATE public.${table} SET v = $1`, [i]);
      // Held back (leased here) until every process is up, then released to all at once, uncounted.
      const { rows: events } = await db.pool.query<{ id: string; row: string }>(
        "SELECT id::text, event->'row_id'->>'pk_value' AS row FROM event.fetch_events($1, 10000, '10 minutes')", [sessionId]);
      assert.equal(events.length, ROWS * CHANGES);

      const freezeDir = mkdtempSync(join(tmpdir(), 'aqevent-freeze-'));
      const freezeFile = join(freezeDir, 'freeze');
      const started = Array.from({ length: processes }, () => spawnWorker({
        DATABASE_URL: db.url, SESSION_ID: sessionId, HANDLER_MS: '20', LEASE: '3s', CONCURRENCY: '4', BATCH_SIZE: '10',
        FREEZE_FILE: freezeFile,
      }));
      children.push(...started);
      await Promise.all(started.map((w) => eventually(async () => (/started/.test(w.output()) ? true : undefined), `a worker process to start: ${w.output()}`, 60_000)));
      await db.pool.query('SELECT event.release($1, $2::bigint[])', [sessionId, events.map((e) => e.id)]);
      const ids = new Set(events.map((e) => e.id));
      const logFor = async () => (await db.pool.query<LogRow>(
        'SELECT event_id::text, pid, phase, attempts, at FROM public.work_log WHERE event_id = ANY($1::bigint[]) ORDER BY at',
        [[...ids]])).rows;

      let killed: number | undefined;
      if (processes > 1) {
        // Kill a process in the middle of a handler: it holds leased events then. Once 20 are done, the
        // handlers hold on before finishing (the freeze file), so a handler that started well before is
        // certainly still open when its process is killed; then the others go on.
        await eventually(async () => ((await logFor()).filter((r) => r.phase === 'done').length >= 20 ? true : undefined), '20 events done', 60_000);
        writeFileSync(freezeFile, '');
        try {
          killed = await eventually(async () => {
            const { rows } = await db.pool.query<{ pid: number }>(
              `SELECT s.pid FROM public.work_log s
                WHERE s.phase = 'start' AND s.event_id = ANY($1::bigint[]) AND s.pid = ANY($2::int[])
                  AND s.at < clock_timestamp() - interval '300 milliseconds'
                  AND NOT EXISTS (SELECT FROM public.work_log d WHERE d.phase = 'done' AND d.event_id = s.event_id AND d.attempts = s.attempts)
                LIMIT 1`, [[...ids], started.map((w) => w.child.pid)]);
            return rows[0]?.pid;
          }, 'a process mid-handler', 60_000);
          const victim = started.find((w) => w.child.pid === killed)!;
          victim.child.kill('SIGKILL');
          await victim.exited;
        } finally {
          rmSync(freezeDir, { recursive: true, force: true });
        }
      }
      await untilQueueEmpty(db.pool, sessionId, 60_000);
      for (const w of started) if (w.child.pid !== killed) w.child.kill('SIGTERM');
      for (const w of started) {
        const exit = await w.exited;
        if (w.child.pid !== killed) assert.equal(exit.code, 0, w.output());
      }

      const log = await logFor();
      const deliveries = new Map<string, LogRow[]>();
      for (const row of log) deliveries.set(`${row.event_id}/${row.attempts}`, [...(deliveries.get(`${row.event_id}/${row.attempts}`) ?? []), row]);
      for (const [delivery, rows] of deliveries) {
        const [start, done, ...more] = rows;
        assert.equal(more.length, 0, `delivery ${delivery} handled once`);
        assert.equal(start!.phase, 'start');
        if (done) {
          assert.equal(done.phase, 'done', `delivery ${delivery}: one start, one done`);
          assert.equal(done.pid, start!.pid, `delivery ${delivery} finished where it started`);
        } else {
          assert.equal(start!.pid, killed, `only the killed process left delivery ${delivery} unfinished`);
        }
      }
      const doneIds = new Set(log.filter((r) => r.phase === 'done').map((r) => r.event_id));
      assert.deepEqual([...ids].filter((id) => !doneIds.has(id)), [], 'every event was handled to completion');
      const unfinished = log.filter((r) => r.phase === 'start' && !deliveries.get(`${r.event_id}/${r.attempts}`)![1]);
      if (killed !== undefined) {
        assert.ok(unfinished.length > 0, 'the killed process was mid-handler');
        for (const r of unfinished) {
          const next = log.find((d) => d.phase === 'done' && d.event_id === r.event_id && d.attempts > r.attempts);
          assert.ok(next && next.pid !== killed, `event ${r.event_id}, leased by the killed process, came back and was finished by another`);
        }
      }

      // Per row: each delivery starts only after the previous event of the row is done, in id order. The same
      // event again is a redelivery: a killed process may have finished it (its backend committing the 'done'
      // after the process died) without acking it.
      const rowOf = new Map(events.map((e) => [e.id, e.row]));
      const lastDone = new Map<string, { id: bigint; attempts: number; at: number }>();
      const completed = log.filter((r) => r.phase === 'done').map((d) => ({ done: d, start: deliveries.get(`${d.event_id}/${d.attempts}`)![0]! }));
      for (const { done, start } of completed.sort((a, b) => a.start.at.getTime() - b.start.at.getTime())) {
        const row = rowOf.get(done.event_id)!;
        const previous = lastDone.get(row);
        if (previous) {
          const id = BigInt(done.event_id);
          assert.ok(previous.id < id || (previous.id === id && previous.attempts < done.attempts), `row ${row}: event ${done.event_id} after ${previous.id}`);
          assert.ok(previous.at <= start.at.getTime(), `row ${row}: event ${done.event_id} started after ${previous.id} was done`);
        }
        lastDone.set(row, { id: BigInt(done.event_id), attempts: done.attempts, at: done.at.getTime() });
      }
      const byPid = new Map<number, number>();
      for (const d of log.filter((r) => r.phase === 'done')) byPid.set(d.pid, (byPid.get(d.pid) ?? 0) + 1);
      t.diagnostic(`${processes} processes: ${ids.size} events, ${deliveries.size} deliveries, ${unfinished.length} interrupted by the kill, `
        + `done per process ${[...byPid.values()].join('/')}`);
    });
  }
}
