import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Aqevent } from '../src/client.js';
import { AqeventError } from '../src/errors.js';
import type { DeliveredEvent } from '../src/events/schema.js';
import type { Session } from '../src/session.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { subscribedTable } from './support/delivery.js';
import { eventually } from './support/roles.js';

let db: TestDatabase;
const clients: Aqevent[] = [];
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await db.drop();
});

async function setup(name: string, settings?: Parameters<Aqevent['createSession']>[0]): Promise<Session> {
  const { aq, session } = await subscribedTable(db, name, settings);
  clients.push(aq);
  return session;
}

const rejectsWith = (sqlstate: string, pattern: RegExp) => (error: unknown) =>
  error instanceof AqeventError && error.sqlstate === sqlstate && pattern.test(error.message);

test('a lease hides events until it ends; then they come back with the attempt counter incremented', async () => {
  const session = await setup('lease');
  await db.pool.query('INSERT INTO public.lease (id) VALUES (1), (2)');
  const first = await session.fetch({ max: 10, lease: '1s' }); // room for a slow next fetch on a loaded machine
  assert.deepEqual(first.map((e) => [e.operation, e.payload?.id, e.attempts]), [['row_insert', 1, 1], ['row_insert', 2, 1]]);
  assert.deepEqual(await session.fetch(), [], 'leased events are invisible');
  const again = await eventually(async () => {
    const events = await session.fetch({ lease: '30s' });
    return events.length ? events : undefined;
  }, 'lease end');
  assert.deepEqual(again.map((e) => [e.id, e.attempts]), first.map((e) => [e.id, 2]));
});

test('ack removes events for good and ignores ids already acknowledged', async () => {
  const session = await setup('acked');
  await db.pool.query('INSERT INTO public.acked (id) SELECT generate_series(1, 5)');
  const events = await session.fetch({ max: 3, lease: '100ms' });
  assert.equal(await session.ack(events), 3);
  assert.equal(await session.ack(events[0]!.id), 0);
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM event.pending_event WHERE session_id = $1', [session.id]);
  assert.equal(rows[0].n, 2);
  await new Promise((resolve) => setTimeout(resolve, 150)); // past the lease: acked events must not return
  assert.deepEqual((await session.fetch()).map((e) => e.payload?.id), [4, 5]);
});

test('nack returns events now, or after a delay', async () => {
  const session = await setup('nacked');
  await db.pool.query('INSERT INTO public.nacked (id) VALUES (1)');
  const [event] = await session.fetch();
  await session.nack(event!);
  const [now] = await session.fetch();
  assert.equal(now?.id, event!.id);
  assert.equal(now?.attempts, 2);
  const nackedAt = Date.now();
  await session.nack(now!, { delay: '1s', error: 'downstream unavailable' });
  assert.deepEqual(await session.fetch(), [], 'backing off');
  const later = await eventually(async () => (await session.fetch())[0], 'back-off end');
  assert.ok(Date.now() - nackedAt >= 950, 'not before the delay');
  assert.equal(later.attempts, 3);
});

test('after max attempts an event is a dead letter; it can be listed and requeued', async () => {
  const session = await setup('dead', { maxAttempts: 2 });
  await db.pool.query('INSERT INTO public.dead (id) VALUES (1), (2)');
  for (let attempt = 1; attempt <= 2; attempt++) {
    const events = await session.fetch({ max: 1 });
    assert.equal(events[0]?.payload?.id, 1);
    await session.nack(events, { error: `failure ${attempt}` });
  }
  const [next] = await session.fetch({ max: 1 });
  assert.equal(next?.payload?.id, 2, 'the exhausted event is skipped');
  await session.ack(next!);
  const dead = await session.deadLetters();
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.attempts, 2);
  assert.equal(dead[0]!.lastError, 'failure 2');
  assert.equal((dead[0]!.event as { payload: { id: number } }).payload.id, 1);
  const stats = (await clients.at(-1)!.stats()).find((s) => s.sessionId === session.id)!;
  assert.deepEqual([stats.backlog, stats.inFlight, stats.dead, stats.maxAttempts], [0, 0, 1, 2]);

  await assert.rejects(session.requeue(['999999']), rejectsWith('42704', /999999 is not a dead letter/));
  assert.equal((await session.deadLetters()).length, 1, 'a failed requeue moves nothing');
  assert.equal(await session.requeue(dead[0]!.id), 1);
  const [back] = await session.fetch();
  assert.deepEqual([back?.id, back?.attempts], [dead[0]!.id, 1]);
  assert.equal(await session.requeue(), 0, 'requeue all with none dead');
});

test('strict order: one batch in flight, a retried event is never overtaken', async () => {
  const session = await setup('strict');
  await db.pool.query('INSERT INTO public.strict (id) VALUES (1)');
  await db.pool.query('UPDATE public.strict SET v = 1 WHERE id = 1');
  await db.pool.query('UPDATE public.strict SET v = 2 WHERE id = 1');
  const [insert] = await session.fetch({ max: 1 });
  assert.equal(insert?.operation, 'row_insert');
  assert.deepEqual(await session.fetch(), [], 'nothing behind a leased event');
  await session.ack(insert!);
  const [first] = await session.fetch({ max: 1 });
  await session.nack(first!, { delay: '1s' });
  assert.deepEqual(await session.fetch(), [], 'nothing behind a backing-off event');
  const retried = await eventually(async () => {
    const events = await session.fetch({ max: 10 });
    return events.length ? events : undefined;
  }, 'retry');
  assert.deepEqual(retried.map((e) => e.operation === 'field_update' && e.payload.v), [1, 2]);
});

test('parallel order: consumers take disjoint batches and never share an event within a lease', async () => {
  const session = await setup('parallel', { deliveryOrder: 'parallel' });
  await db.pool.query('INSERT INTO public.parallel (id) SELECT generate_series(1, 600)');
  const other = await Aqevent.connect({ connectionString: db.url, poolSize: 2 });
  clients.push(other);
  const second = await other.attachSession(session.id);
  const seen: string[][] = [[], []];
  await Promise.all([session, second].map(async (consumer, index) => {
    for (;;) {
      const events = await consumer.fetch({ max: 7, lease: '60s' });
      if (events.length === 0) return;
      seen[index]!.push(...events.map((e) => e.id));
    }
  }));
  const all = [...seen[0]!, ...seen[1]!];
  assert.equal(new Set(all).size, 600, 'every event delivered once');
  assert.equal(all.length, 600, 'no event delivered twice');
  assert.ok(seen[0]!.length > 0 && seen[1]!.length > 0, 'both consumers got work');
});

test('strict order: a second consumer gets nothing while the first holds a lease', async () => {
  const session = await setup('strict_two');
  await db.pool.query('INSERT INTO public.strict_two (id) SELECT generate_series(1, 10)');
  const other = await Aqevent.connect({ connectionString: db.url, poolSize: 2 });
  clients.push(other);
  const second = await other.attachSession(session.id);
  const [a, b] = await Promise.all([session.fetch({ max: 5 }), second.fetch({ max: 5 })]);
  const got = [a, b].filter((batch) => batch.length > 0);
  assert.equal(got.length, 1, 'exactly one consumer got a batch');
  assert.deepEqual(got[0]!.map((e) => e.payload?.id), [1, 2, 3, 4, 5]);
});

test('bad sessions, ids and options fail with clear errors', async () => {
  const session = await setup('errors');
  const { rows } = await db.pool.query<{ id: string }>('SELECT gen_random_uuid()::text AS id');
  const ghost = new (session.constructor as typeof Session)(clients.at(-1)!.pool, rows[0]!.id);
  await assert.rejects(ghost.fetch(), rejectsWith('42704', /session ".*" does not exist/));
  await assert.rejects(ghost.ack(['1']), rejectsWith('42704', /does not exist/));
  await assert.rejects(clients.at(-1)!.attachSession(rows[0]!.id), rejectsWith('42704', /does not exist/));
  await assert.rejects(db.pool.query('SELECT event.fetch_events($1, 0, $2)', [session.id, '1s']), { code: '22023' });
  await assert.rejects(db.pool.query('SELECT event.ack($1, NULL)', [session.id]), { code: '22004' });
  await assert.rejects(db.pool.query("SELECT event.nack($1, '{1}', '-1s')", [session.id]), { code: '22023' });
  await assert.rejects(db.pool.query("SELECT event.set_delivery_order($1, 'random')", [session.id]), { code: '22023' });

  const invalid = (pattern: RegExp) => (error: unknown) =>
    error instanceof AqeventError && error.code === 'invalid_argument' && pattern.test(error.message);
  await assert.rejects(session.fetch({ max: 0 }), invalid(/fetch options: max/));
  await assert.rejects(session.fetch({ lease: 'soon' }), invalid(/lease "soon" is not a duration/));
  await assert.rejects(session.fetch({ lease: 0 }), invalid(/lease must be longer than 0/));
  await assert.rejects(session.nack(['1'], { delay: 'later' }), invalid(/delay "later"/));
  await assert.rejects(session.ack(['-1']), invalid(/event ids/));
  assert.throws(() => session.events({ batchSize: 0 }), invalid(/stream options: batchSize/));
  assert.throws(() => session.events({ bogus: 1 } as never), invalid(/bogus/));
  await assert.rejects(session.configure({ maxAttempts: 0 }), invalid(/maxAttempts/));
  await assert.rejects(session.subscribeTable('no_schema'), rejectsWith('42P01', /"no_schema" does not exist/));
  await assert.rejects(session.subscribeRow('public.errors', []), invalid(/row key/));
  await assert.rejects(Aqevent.connect({ poolSize: -1 }), invalid(/poolSize/));
  await assert.rejects(session.subscribeRow('public.errors', ['1', '2']), rejectsWith('22023', /key of public.errors is \(id\)/));
  await assert.rejects(session.subscribeTable('public.missing'), rejectsWith('42P01', /missing/));
});

test('subscribing at the four grains from TypeScript', async () => {
  const session = await setup('grains');
  await db.pool.query('CREATE TABLE public.lines (order_id int, line int, qty int, PRIMARY KEY (order_id, line))');
  await session.unsubscribe(await session.subscribeTable({ schema: 'public', table: 'grains' }));
  await db.pool.query('INSERT INTO public.grains (id) VALUES (1), (2); INSERT INTO public.lines VALUES (7, 1, 1)');
  const ids = [
    await session.subscribeRow('public.grains', 1),
    await session.subscribeField('public.lines', ['7', 1], 'qty'),
    await session.subscribeColumn('public.grains', 'v'),
  ];
  assert.equal(new Set(ids).size, 3);
  assert.equal(await session.subscribeRow('public.grains', '1'), ids[0], 'subscribing twice finds the subscription');
  await db.pool.query('UPDATE public.grains SET v = 5; UPDATE public.lines SET qty = 2');
  const events = await session.fetch();
  const summary = events.map((e) => `${e.subscription_type}:${e.operation}:${JSON.stringify(e.row_id && 'pk_value' in e.row_id ? e.row_id.pk_value : null)}`);
  assert.deepEqual(summary.sort(), [
    'column:field_update:"1"', 'column:field_update:"2"', 'field:field_update:["7","1"]', 'row:field_update:"1"',
  ]);
});

test('payload numbers beyond JS precision arrive exactly, as strings', async () => {
  const session = await setup('numbers');
  await db.pool.query('ALTER TABLE public.numbers ADD COLUMN big bigint, ADD COLUMN exact numeric, ADD COLUMN small numeric');
  await db.pool.query("INSERT INTO public.numbers VALUES (1, 0, 9223372036854775807, 12345678901234567890.123456789, 2.5)");
  const [event] = await session.fetch();
  assert.deepEqual(event?.payload, { id: 1, v: 0, big: '9223372036854775807', exact: '12345678901234567890.123456789', small: 2.5 });
});

test("events({ ack: 'manual' }): nothing is acknowledged for you", async () => {
  const session = await setup('manual');
  await db.pool.query('INSERT INTO public.manual (id) SELECT generate_series(1, 3)');
  const seen: DeliveredEvent[] = [];
  for await (const event of session.events({ ack: 'manual', lease: '1h', pollInterval: '1h' })) {
    seen.push(event);
    if (event.payload?.id === 2) await session.ack(event);
    if (seen.length === 3) break;
  }
  const { rows } = await db.pool.query<{ id: number; leased: boolean }>(
    "SELECT (event -> 'payload' ->> 'id')::int AS id, visible_at > now() AS leased FROM event.pending_event WHERE session_id = $1 ORDER BY id",
    [session.id]);
  assert.deepEqual(rows, [{ id: 1, leased: true }, { id: 3, leased: true }], 'unacknowledged events stay leased');
});
