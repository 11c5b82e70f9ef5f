import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Aqevent } from '../src/client.js';
import { AqeventError } from '../src/errors.js';
import type { TestDatabase } from './support/database.js';
import type { TestRole } from './support/roles.js';
import { type TwoUsers, twoUsersWithOrders } from './support/two-users.js';

let fixture: TwoUsers;
let db: TestDatabase;
let roles: TwoUsers['roles'];
before(async () => {
  fixture = await twoUsersWithOrders('int');
  ({ db, roles } = fixture);
});
after(() => fixture?.close());

const connect = (role: TestRole): Promise<Aqevent> => fixture.connect(role);

test('an ordinary aqevent_user runs the whole delivery cycle on its own session', async () => {
  const aq = await connect(roles.alice);
  const session = await aq.createSession({ maxAttempts: 1 });
  assert.deepEqual(await session.settings(), { maxAttempts: 1, deliveryOrder: 'strict' });
  await session.subscribeTable('public.orders');
  await db.pool.query('INSERT INTO public.orders VALUES (1, 10), (2, 20)');
  const first = await session.fetch({ max: 1 });
  await session.nack(first, { error: 'boom' });
  const [second] = await session.fetch();
  assert.equal(second?.payload?.id, 2, 'the first went to the dead letters');
  await session.ack(second!);
  const dead = await session.deadLetters();
  assert.deepEqual(dead.map((d) => [d.id, d.lastError]), [[first[0]!.id, 'boom']]);
  assert.equal(await session.requeue(), 1);
  const [again] = await session.fetch();
  assert.deepEqual([again?.id, again?.attempts], [first[0]!.id, 1]);
  await session.ack(again!);
  const stats = await aq.stats();
  assert.deepEqual(stats.map((s) => [s.sessionId, s.backlog, s.inFlight, s.dead]), [[session.id, 0, 0, 0]], 'stats show only own sessions');
});

test("another user's session does not exist for you", async () => {
  const alice = await (await connect(roles.alice)).createSession();
  await alice.subscribeTable('public.orders');
  await db.pool.query('INSERT INTO public.orders VALUES (3, 30)');
  const bobClient = await connect(roles.bob);
  await assert.rejects(bobClient.attachSession(alice.id), (e: unknown) => e instanceof AqeventError && e.sqlstate === '42704');
  const { Session } = await import('../src/session.js');
  const intruder = new Session(bobClient.pool, alice.id);
  for (const attempt of [() => intruder.fetch(), () => intruder.ack(['1']), () => intruder.nack(['1']), () => intruder.deadLetters(),
    () => intruder.requeue(), () => intruder.configure({ maxAttempts: 9 })]) {
    await assert.rejects(attempt(), (e: unknown) => e instanceof AqeventError && e.sqlstate === '42704');
  }
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM event.pending_event WHERE session_id = $1 AND attempts = 0', [alice.id]);
  assert.equal(rows[0].n, 1, "alice's event is untouched");
});
