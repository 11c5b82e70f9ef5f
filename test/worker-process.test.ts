import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Aqevent } from '../src/client.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { subscribedTable } from './support/delivery.js';
import { eventually } from './support/roles.js';
import { createWorkLog, killRunning, logged, queueSize, spawnWorker, untilQueueEmpty, type WorkerProcess } from './support/worker.js';

let db: TestDatabase;
const clients: Aqevent[] = [];
const children: WorkerProcess[] = [];
before(async () => {
  db = await createTestDatabase();
  await createWorkLog(db.pool);
});
after(async () => {
  killRunning(children);
  await Promise.all(clients.map((c) => c.close()));
  await db.drop();
});

/** Event ids queued for a session. */
async function queuedIds(sessionId: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>('SELECT id::text AS id FROM event.pending_event WHERE session_id = $1 ORDER BY id', [sessionId]);
  return rows.map((r) => r.id);
}

test('a worker process killed with SIGKILL mid-batch: its events come back after the lease and a second worker processes them all', async () => {
  const { aq, session } = await subscribedTable(db, 'jobs_kill');
  clients.push(aq);
  await db.pool.query('INSERT INTO public.jobs_kill (id) SELECT generate_series(1, 12)');
  const all = await queuedIds(session.id);
  assert.equal(all.length, 12);

  const first = spawnWorker({ DATABASE_URL: db.url, SESSION_ID: session.id, HANDLER_MS: '400', LEASE: '1500ms', CONCURRENCY: '2', BATCH_SIZE: '6' });
  children.push(first);
  const pid = first.child.pid!;
  // Mid-batch: some events done, others started and unfinished.
  await eventually(async () => {
    const done = (await logged(db.pool, 'done')).length;
    const started = (await logged(db.pool, 'start')).length;
    return done >= 2 && started > done ? true : undefined;
  }, 'the first worker to be mid-batch', 30_000);
  first.child.kill('SIGKILL');
  const exit = await first.exited;
  const killedAt = Date.now();
  assert.equal(exit.signal, 'SIGKILL');
  const { rows: leased } = await db.pool.query<{ id: string }>(
    'SELECT id::text AS id FROM event.pending_event WHERE session_id = $1 AND visible_at > now()', [session.id]);
  assert.ok(leased.length > 0, 'the killed worker held leased events');

  const { Worker } = await import('../src/index.js');
  const seenBy: Array<{ id: string; attempts: number; at: number }> = [];
  const second = new Worker(session, async (event, { attempts }) => {
    seenBy.push({ id: event.id, attempts, at: Date.now() });
    await db.pool.query("INSERT INTO public.work_log (event_id, pid, phase, attempts) VALUES ($1, $2, 'done', $3)", [event.id, process.pid, attempts]);
  }, { lease: '1500ms', pollInterval: '100ms', concurrency: 2 });
  await second.start();
  try {
    await untilQueueEmpty(db.pool, session.id);
  } finally {
    await second.stop();
  }
  const done = new Set((await logged(db.pool, 'done')).map((r) => r.event_id));
  assert.deepEqual(all.filter((id) => !done.has(id)), [], 'every event was processed at least once');
  assert.equal(await queueSize(db.pool, session.id), 0, 'and all are acknowledged');
  for (const { id } of leased) {
    const redelivery = seenBy.find((s) => s.id === id);
    assert.ok(redelivery, `event ${id}, leased by the killed worker, was processed by the second`);
    assert.ok(redelivery.attempts >= 2, 'as a second delivery');
    assert.ok(redelivery.at - killedAt >= 500, `only after the lease ended (${redelivery.at - killedAt} ms after the kill)`);
  }
  const firstDone = (await logged(db.pool, 'done')).filter((r) => r.pid === pid).map((r) => r.event_id);
  assert.ok(firstDone.every((id) => !leased.some((l) => l.id === id)), 'nothing the first worker finished was still leased');
});

test('SIGTERM: a worker process finishes the events in hand, acks them, releases the rest at once and exits by itself', async () => {
  const { aq, session } = await subscribedTable(db, 'jobs_term');
  clients.push(aq);
  await db.pool.query('INSERT INTO public.jobs_term (id) SELECT generate_series(1, 10)');
  const all = await queuedIds(session.id);
  await db.pool.query('DELETE FROM public.work_log');

  // A 30 s lease: if the unstarted events were not released, nobody could have them for 30 s.
  const proc = spawnWorker({ DATABASE_URL: db.url, SESSION_ID: session.id, HANDLER_MS: '1000', LEASE: '30s', CONCURRENCY: '2', BATCH_SIZE: '10' });
  children.push(proc);
  await eventually(async () => ((await logged(db.pool, 'start')).length >= 2 ? true : undefined), 'two handlers running', 30_000);
  proc.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([proc.exited, new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the worker process did not exit: ${proc.output()}`)), 20_000);
  })]).finally(() => clearTimeout(timer));
  assert.equal(exit.code, 0, `exited normally: ${proc.output()}`);
  assert.match(proc.output(), /released /);
  assert.match(proc.output(), /stopped/);

  const started = (await logged(db.pool, 'start')).map((r) => r.event_id);
  const done = (await logged(db.pool, 'done')).map((r) => r.event_id);
  assert.ok(started.length >= 2 && started.length < all.length, `some but not all events were started (${started.length})`);
  assert.deepEqual([...done].sort(), [...started].sort(), 'every started event was finished');
  const rest = all.filter((id) => !started.includes(id));
  const { rows } = await db.pool.query<{ id: string; attempts: number; visible: boolean }>(
    'SELECT id::text AS id, attempts, visible_at IS NULL OR visible_at <= now() AS visible FROM event.pending_event WHERE session_id = $1 ORDER BY id',
    [session.id]);
  assert.deepEqual(rows.map((r) => r.id), rest, 'the finished events are acknowledged, the rest still queued');
  assert.ok(rows.every((r) => r.visible), 'the rest are deliverable now, not after the 30 s lease');
  assert.ok(rows.every((r) => r.attempts === 0), 'and releasing them did not count an attempt');

  const startedAt = Date.now();
  const handled: string[] = [];
  const next = session.work(async (event) => void handled.push(event.id), { pollInterval: '100ms', concurrency: 4 });
  await next.start();
  try {
    await untilQueueEmpty(db.pool, session.id, 10_000);
  } finally {
    await next.stop();
  }
  assert.deepEqual([...handled].sort(), [...rest].sort(), 'another worker took them at once');
  assert.ok(Date.now() - startedAt < 10_000);
});
