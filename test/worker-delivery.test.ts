import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Aqevent } from '../src/client.js';
import type { DeliveredEvent } from '../src/events/schema.js';
import { Worker } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { subscribedTable } from './support/delivery.js';
import { clearInbox } from './support/events.js';
import { eventually } from './support/roles.js';
import { queueSize, untilQueueEmpty } from './support/worker.js';

let db: TestDatabase;
const clients: Aqevent[] = [];
const workers: Worker[] = [];
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await Promise.all(clients.map((c) => c.close()));
  await db.drop();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('retries with growing, jittered backoff; after max attempts a dead letter; requeued, it is processed', async () => {
  const { aq, session } = await subscribedTable(db, 'retried');
  clients.push(aq);
  await db.pool.query('INSERT INTO public.retried (id) VALUES (1)');
  const attempts: Array<{ attempts: number; lastAttempt: boolean; at: number }> = [];
  const failures: Array<{ delayMs: number; deadLetter: boolean }> = [];
  let healthy = false;
  const retry = { base: '150ms', factor: 2, max: '2s', jitter: 0.5 };
  const worker = session.work(async (_event, context) => {
    attempts.push({ attempts: context.attempts, lastAttempt: context.lastAttempt, at: Date.now() });
    if (!healthy) throw new Error(`boom ${context.attempts}`);
  }, { maxAttempts: 4, retry, pollInterval: '25ms' });
  workers.push(worker);
  worker.on('failed', (_event, _error, outcome) => failures.push(outcome));
  await worker.start();

  const dead = await eventually(async () => {
    const letters = await session.deadLetters();
    return letters.length === 1 ? letters[0] : undefined;
  }, 'a dead letter', 15_000);
  assert.deepEqual(attempts.map((a) => a.attempts), [1, 2, 3, 4]);
  assert.deepEqual(attempts.map((a) => a.lastAttempt), [false, false, false, true]);
  assert.equal(dead.attempts, 4);
  assert.equal(dead.lastError, 'Error: boom 4', 'the error text is recorded');
  assert.deepEqual(failures.map((f) => f.deadLetter), [false, false, false, true]);
  // Delays: nominal 150, 300, 600 ms, each shortened by at most half.
  const nominal = [150, 300, 600];
  failures.slice(0, 3).forEach((f, i) => {
    assert.ok(f.delayMs <= nominal[i]! && f.delayMs >= nominal[i]! / 2, `delay ${i + 1}: ${f.delayMs} ms within [${nominal[i]! / 2}, ${nominal[i]}]`);
  });
  assert.equal(failures[3]!.delayMs, 0, 'the last failure is not delayed: it is buried at the next fetch');
  const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
  gaps.forEach((gap, i) => {
    assert.ok(gap >= failures[i]!.delayMs - 5, `redelivered no earlier than the delay (${gap} ≥ ${failures[i]!.delayMs})`);
    assert.ok(gap <= failures[i]!.delayMs + 1500, `and not much later (${gap} ms)`);
  });
  assert.ok(gaps[2]! > gaps[0]!, `delays grow (${gaps.join(', ')} ms)`);

  healthy = true;
  assert.equal(await session.requeue(), 1);
  await untilQueueEmpty(db.pool, session.id);
  assert.equal(attempts.at(-1)!.attempts, 1, 'requeued with a fresh count, and processed');
  assert.deepEqual(await session.deadLetters(), []);
  await worker.stop();
});

test('concurrency: at most N handlers at once; events of one row in order, even across a retry', async () => {
  const { aq, session } = await subscribedTable(db, 'lanes');
  clients.push(aq);
  const rows = 6;
  const updates = 5;
  await db.pool.query('INSERT INTO public.lanes (id) SELECT generate_series(1, $1::int)', [rows]);
  await clearInbox(db.pool, session.id);
  for (let u = 1; u <= updates; u++) await db.pool.query('UPDATE public.lanes SET v = $1', [u]); // each row: v 1..5
  assert.equal(await queueSize(db.pool, session.id), rows * updates);

  const concurrency = 3;
  let running = 0;
  let peak = 0;
  const succeeded = new Map<string, number[]>();
  let failedOnce = false;
  const worker = session.work(async (event: DeliveredEvent) => {
    running++;
    peak = Math.max(peak, running);
    try {
      await pause(5 + Math.random() * 25);
      if (event.operation !== 'field_update') throw new Error(`unexpected ${event.operation}`);
      const row = String(event.row_id && 'pk_value' in event.row_id ? event.row_id.pk_value : '?');
      const v = event.payload.v as number;
      if (row === '2' && v === 2 && !failedOnce) {
        failedOnce = true;
        throw new Error('transient');
      }
      succeeded.set(row, [...(succeeded.get(row) ?? []), v]);
    } finally {
      running--;
    }
  }, { concurrency, batchSize: 30, pollInterval: '25ms', retry: { base: '50ms', max: '50ms' } });
  workers.push(worker);
  const released: string[] = [];
  worker.on('released', (ids) => released.push(...ids));
  await worker.start();
  await untilQueueEmpty(db.pool, session.id);
  await worker.stop();

  assert.equal(peak, concurrency, `never more than ${concurrency} handlers, and that many in parallel`);
  assert.ok(failedOnce);
  for (let row = 1; row <= rows; row++) {
    assert.deepEqual(succeeded.get(String(row)), [1, 2, 3, 4, 5], `row ${row}: changes handled in order`);
  }
  assert.equal(released.length, 3, 'the later events of the failed row were released, not run ahead of its retry');
});

test('two workers on a parallel session: every event handled exactly once, none by both within a lease', async () => {
  const { aq, session } = await subscribedTable(db, 'shared', { deliveryOrder: 'parallel' });
  clients.push(aq);
  await db.pool.query('INSERT INTO public.shared (id) SELECT generate_series(1, 80)');
  const other = await Aqevent.connect({ connectionString: db.url, poolSize: 4 });
  clients.push(other);
  const log: Array<{ id: string; worker: number; start: number; end: number }> = [];
  const make = (worker: number, source: ConstructorParameters<typeof Worker>[0]) => new Worker(source, async (event) => {
    const start = Date.now();
    await pause(10 + Math.random() * 20);
    log.push({ id: event.id, worker, start, end: Date.now() });
  }, { concurrency: 3, batchSize: 4, lease: '1s', pollInterval: '25ms' });
  const a = make(1, session);
  const b = make(2, { client: other, sessionId: session.id });
  workers.push(a, b);
  const lost: string[] = [];
  for (const w of [a, b]) w.on('leaseLost', (ids) => lost.push(...ids));
  await Promise.all([a.start(), b.start()]);
  await untilQueueEmpty(db.pool, session.id);
  await Promise.all([a.stop(), b.stop()]);

  const ids = log.map((l) => l.id);
  assert.equal(ids.length, 80);
  assert.equal(new Set(ids).size, 80, 'no event handed to two handlers');
  assert.ok(log.some((l) => l.worker === 1) && log.some((l) => l.worker === 2), 'both workers took part');
  const overlapping = log.filter((x) => log.some((y) => y.worker !== x.worker && y.start < x.end && x.start < y.end));
  assert.ok(overlapping.length > 0, 'the workers ran at the same time');
  assert.deepEqual(lost, []);
});

test('lease renewal: a handler running for several leases keeps its event; nobody else gets it', async () => {
  const { aq, session } = await subscribedTable(db, 'slow', { deliveryOrder: 'parallel' });
  clients.push(aq);
  await db.pool.query('INSERT INTO public.slow (id) VALUES (1)');
  const calls: Array<{ worker: number; attempts: number }> = [];
  // A lease of 1s renewed every ~333ms: a renewal may be held up by a loaded
  // machine (CI runs the test files side by side on two cores) for up to
  // two-thirds of a lease before the event could go to the other worker.
  const options = { lease: '1s', pollInterval: '25ms' } as const;
  const slow = session.work(async (_event, { attempts }) => {
    calls.push({ worker: 1, attempts });
    await pause(3500); // three and a half leases
  }, options);
  const other = session.work(async (_event, { attempts }) => void calls.push({ worker: 2, attempts }), options);
  workers.push(slow, other);
  const lost: string[] = [];
  slow.on('leaseLost', (ids) => lost.push(...ids));
  await slow.start();
  await eventually(async () => (calls.length === 1 ? true : undefined), 'the slow handler to start');
  await other.start();
  await untilQueueEmpty(db.pool, session.id, 10_000);
  await Promise.all([slow.stop(), other.stop()]);
  assert.deepEqual(lost, [], 'every renewal came in time');
  assert.deepEqual(calls, [{ worker: 1, attempts: 1 }], 'handled once, by the first worker');
});
