import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Aqevent } from '../src/client.js';
import { AqeventError } from '../src/errors.js';
import { retryDelay, Worker, type WorkerOptions } from '../src/index.js';
import { nominalDelay } from '../src/live/backoff.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { untilQueueEmpty } from './support/worker.js';

let db: TestDatabase;
let aq: Aqevent;
before(async () => {
  db = await createTestDatabase();
  aq = await Aqevent.connect({ connectionString: db.url, poolSize: 3 });
});
after(async () => {
  await aq.close();
  await db.drop();
});

function rejects(make: () => unknown, pattern: RegExp): void {
  assert.throws(make, (error: unknown) => {
    assert.ok(error instanceof AqeventError, `an AqeventError, not ${String(error)}`);
    assert.equal(error.code, 'invalid_argument');
    assert.match(error.message, pattern);
    return true;
  });
}

test('bad worker options are invalid_argument errors naming the option', async () => {
  const session = await aq.createSession();
  const make = (options: unknown) => () => new Worker(session, async () => {}, options as WorkerOptions);
  rejects(make({ concurrency: 0 }), /concurrency/);
  rejects(make({ concurrency: 1.5 }), /concurrency/);
  rejects(make({ batchSize: 10001 }), /batchSize/);
  rejects(make({ lease: 'soon' }), /lease "soon" is not a duration/);
  rejects(make({ lease: 0 }), /lease must be longer than 0/);
  rejects(make({ retry: { jitter: 2 } }), /retry\.jitter/);
  rejects(make({ retry: { factor: 0.5 } }), /retry\.factor/);
  rejects(make({ retry: { base: '10s', max: '1s' } }), /retry\.max must not be shorter than retry\.base/);
  rejects(make({ retry: { backoff: 1 } }), /retry.*backoff|Unrecognized key.*backoff/);
  rejects(make({ maxAttempts: 0 }), /maxAttempts/);
  rejects(make({ shutdownTimeout: '-1s' }), /shutdownTimeout/);
  rejects(make({ handleSignals: 'yes' }), /handleSignals/);
  rejects(make({ concurency: 2 }), /concurency/);
  rejects(() => new Worker(session, 'handler' as never), /handler: expected a function/);
  rejects(() => new Worker({ client: aq, sessionId: 'nope' }, async () => {}), /sessionId/);
  rejects(() => new Worker({} as never, async () => {}), /worker source/);
});

test('start: a missing session fails with its SQLSTATE and the worker can be started only once', async () => {
  const missing = new Worker({ client: aq, sessionId: '00000000-0000-4000-8000-000000000000' }, async () => {});
  await assert.rejects(missing.start(), (error: unknown) => error instanceof AqeventError && error.sqlstate === '42704');
  await missing.stop();

  const session = await aq.createSession();
  const worker = session.work(async () => {}, { maxAttempts: 7, pollInterval: '1h' });
  await worker.start();
  try {
    assert.equal((await session.settings()).maxAttempts, 7, 'the maxAttempts option sets the session setting');
    await assert.rejects(worker.start(), /already started/);
  } finally {
    await worker.stop();
  }
  await worker.wait();
  await worker.stop(); // idempotent
});

test('retryDelay: exponential, capped, shortened by at most jitter', () => {
  const policy = { base: 100, factor: 2, max: 1000, jitter: 0.5 };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => nominalDelay(a, policy)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(retryDelay(3, policy, () => 0), 400);
  assert.equal(retryDelay(3, policy, () => 0.999999), 200);
  const samples = Array.from({ length: 200 }, () => retryDelay(2, policy));
  assert.ok(samples.every((d) => d >= 100 && d <= 200), 'within [nominal·(1-jitter), nominal]');
  assert.ok(new Set(samples).size > 10, 'and actually random');
  assert.equal(retryDelay(2, { ...policy, jitter: 0 }), 200);
});

test('a worker whose session is deleted stops, and wait() rejects with the SQLSTATE', async () => {
  const session = await aq.createSession();
  const worker = session.work(async () => {}, { pollInterval: '25ms' });
  const stopped: unknown[] = [];
  worker.on('stopped', (error) => stopped.push(error));
  worker.on('processed', () => {
    throw new Error('a broken listener does not break the worker');
  });
  await db.pool.query('CREATE TABLE public.doomed (id int PRIMARY KEY)');
  await session.subscribeTable('public.doomed');
  await db.pool.query('INSERT INTO public.doomed VALUES (1), (2)');
  await worker.start();
  await untilQueueEmpty(db.pool, session.id); // both handled, though the listener threw
  await session.delete();
  await assert.rejects(worker.wait(), (error: unknown) => error instanceof AqeventError && error.sqlstate === '42704');
  assert.equal(stopped.length, 1);
  assert.ok(stopped[0] instanceof AqeventError);
});
