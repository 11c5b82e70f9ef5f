import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Aqevent } from '../src/client.js';
import type { AqeventError } from '../src/errors.js';
import { Worker } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { terminate, urlWithApplicationName } from './support/delivery.js';
import { eventually } from './support/roles.js';
import { untilQueueEmpty } from './support/worker.js';

let db: TestDatabase;
let aq: Aqevent;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await aq?.close();
  await db.drop();
});

test('pg_terminate_backend of the worker connections: it resumes by itself and loses nothing', async () => {
  await db.pool.query('CREATE TABLE public.jobs (id int PRIMARY KEY, v int NOT NULL DEFAULT 0)');
  const applicationName = `aq_worker_${db.prefix}`.slice(0, 60);
  aq = await Aqevent.connect({ connectionString: urlWithApplicationName(db.url, applicationName), poolSize: 4 });
  const session = await aq.createSession();
  await session.subscribeTable('public.jobs');
  const handled: number[] = [];
  const errors: AqeventError[] = [];
  const worker = new Worker(session, async (event) => {
    handled.push(event.payload?.id as number);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }, { concurrency: 4, batchSize: 10, lease: '2s', pollInterval: '200ms', maxReconnectDelay: '500ms' });
  worker.on('connectionError', (error) => errors.push(error));
  await worker.start();
  let next = 1;
  const insert = (count: number) => db.pool.query('INSERT INTO public.jobs (id) SELECT generate_series($1::int, $2::int)', [next, (next += count) - 1]);
  const handledAll = (count: number) => eventually(async () => (new Set(handled).size >= count ? true : undefined), `${count} events handled`, 20_000);
  const listening = () => eventually(async () => {
    const { rows } = await db.pool.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND (query LIKE 'LISTEN%' OR query LIKE '%event.listener_register()%')", [applicationName]);
    return rows.length > 0 ? true : undefined;
  }, 'a listening connection');
  try {
    await insert(30);
    await handledAll(30);
    for (let round = 1; round <= 2; round++) {
      await listening();
      assert.ok(await terminate(db.pool, applicationName) >= 1, 'killed the worker connections');
      await insert(30); // its NOTIFY goes to nobody
      await handledAll(30 + 30 * round);
    }
    // Killed while handlers hold events: acks may fail, the events come back.
    await insert(30);
    await eventually(async () => (handled.length > 90 ? true : undefined), 'handlers running');
    await terminate(db.pool, applicationName);
    await handledAll(120);
    await untilQueueEmpty(db.pool, session.id);
  } finally {
    await worker.stop();
  }
  assert.deepEqual([...new Set(handled)].sort((a, b) => a - b), Array.from({ length: 120 }, (_, i) => i + 1), 'every event handled');
  assert.ok(errors.length >= 1, 'the lost connections were reported');
  assert.equal(worker.inHand, 0);
});
