// The worked example of docs/pg-boss.md: a pg-boss worker handling the
// row_insert events of a table, bridged from a session. Real pg-boss.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import PgBoss from 'pg-boss';
import { Aqevent, bridgeToPgBoss, eventJobId, type RowInsertEvent } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { eventually } from './support/roles.js';

let db: TestDatabase;
let boss: PgBoss;
let aq: Aqevent;
before(async () => {
  db = await createTestDatabase();
  boss = new PgBoss({ connectionString: db.url, schema: 'pgboss', max: 4 });
  boss.on('error', () => {});
  await boss.start();
  aq = await Aqevent.connect({ connectionString: db.url, poolSize: 4 });
});
after(async () => {
  await boss.stop({ graceful: false, wait: true });
  await aq.close();
  await db.drop();
});

test('a pg-boss worker handles the row_insert events of a table', async () => {
  await db.pool.query('CREATE TABLE public.orders (id int PRIMARY KEY, total numeric NOT NULL)');
  // --- the example ---
  const session = await aq.createSession({ ttl: '7d' });
  await session.subscribeTable('public.orders');
  await boss.createQueue('order-failed', { name: 'order-failed' });                  // pg-boss's dead letter queue
  await boss.createQueue('order-inserted', { name: 'order-inserted', retryLimit: 3, deadLetter: 'order-failed' });

  const handled: Array<{ id: unknown; total: unknown }> = [];
  await boss.work<RowInsertEvent>('order-inserted', { batchSize: 10, pollingIntervalSeconds: 0.5 }, async (jobs) => {
    for (const job of jobs) {
      if (job.data.operation !== 'row_insert') continue;
      handled.push({ id: job.data.payload.id, total: job.data.payload.total });
    }
  });

  const stop = new AbortController();
  const bridge = bridgeToPgBoss({ pool: aq.pool, sessionId: session.id, boss, queue: 'order-inserted', signal: stop.signal });
  // --- end of the example ---

  await db.pool.query("INSERT INTO public.orders VALUES (1, 10.5), (2, 99999999999999999.99)");
  await db.pool.query('UPDATE public.orders SET total = 11 WHERE id = 1'); // a field_update: bridged, skipped by the worker
  await db.pool.query('INSERT INTO public.orders VALUES (3, 7)');
  await eventually(async () => (handled.length === 3 ? true : undefined), 'the worker to handle three inserts', 15_000);
  stop.abort();
  const { moved } = await bridge;
  assert.equal(moved, 4);
  assert.deepEqual(handled.sort((a, b) => Number(a.id) - Number(b.id)),
    [{ id: 1, total: 10.5 }, { id: 2, total: '99999999999999999.99' }, { id: 3, total: 7 }]);
  assert.equal((await session.fetch()).length, 0, 'the session is empty: every event went to pg-boss');

  // A job's id is derived from the session and event ids.
  const { rows } = await db.pool.query("SELECT id::text, data->>'id' AS event_id FROM pgboss.job WHERE name = 'order-inserted'");
  assert.equal(rows.length, 4);
  for (const row of rows) assert.equal(row.id, eventJobId(session.id, row.event_id));
});

test('the bridge refuses to ack events whose jobs pg-boss did not insert', async () => {
  await db.pool.query('CREATE TABLE public.refused (id int PRIMARY KEY)');
  const session = await aq.createSession();
  await session.subscribeTable('public.refused');
  // A 'short' queue keeps one queued job: pg-boss silently drops the others.
  await boss.createQueue('short-queue', { name: 'short-queue', policy: 'short' });
  await db.pool.query('INSERT INTO public.refused VALUES (1), (2)');
  await assert.rejects(bridgeToPgBoss({ pool: aq.pool, sessionId: session.id, boss, queue: 'short-queue', untilEmpty: true }),
    /pg-boss accepted 1 of 2 jobs/);
  assert.equal((await db.pool.query("SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'short-queue'")).rows[0].n, 0);
  assert.equal((await session.fetch()).length, 2, 'both events are still in the session');
  await assert.rejects(bridgeToPgBoss({ pool: aq.pool, sessionId: 'nope', boss, queue: 'x' }), /invalid bridge options: sessionId/);
});
