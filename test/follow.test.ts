// session.follow(), session.info() and aq.sessions(), as ordinary roles: a read-only live follow, and what a session holds.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Aqevent, AqeventError, type PeekedEvent } from '../src/index.js';
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

/** Pulls events from a follow until `until` says enough. */
async function take(follow: AsyncGenerator<PeekedEvent>, until: (seen: PeekedEvent[]) => boolean, seen: PeekedEvent[] = []): Promise<PeekedEvent[]> {
  while (!until(seen)) {
    const next = await follow.next();
    if (next.done) break;
    seen.push(next.value);
  }
  return seen;
}

test('follow: the backlog, then live events, each once; never leases, acks or counts an attempt', async () => {
  const alice = await connect(roles.alice);
  const session = await alice.createSession();
  await session.subscribeTable('public.orders');
  await db.pool.query('INSERT INTO public.orders VALUES (1, 10), (2, 20)');

  const stop = new AbortController();
  const follow = session.follow({ signal: stop.signal, pollInterval: '10s' }); // a notification, not the poll, must bring the live one
  const backlog = await take(follow, (seen) => seen.length >= 2);
  assert.deepEqual(backlog.map((e) => e.payload?.id), [1, 2]);

  // A consumer leases the first one meanwhile: the follower has seen it and does not show it again.
  const [leased] = await session.fetch({ max: 1, lease: '1m' });
  assert.equal(leased!.payload?.id, 1);
  await db.pool.query('INSERT INTO public.orders VALUES (3, 30)');
  await db.pool.query('UPDATE public.orders SET total = 21 WHERE id = 2');
  const live = await take(follow, (seen) => seen.length >= 2);
  assert.deepEqual(live.map((e) => [e.operation, e.payload]), [['row_insert', { id: 3, total: 30 }], ['field_update', { total: 21 }]]);

  stop.abort();
  assert.equal((await follow.next()).done, true, 'abort ends the loop normally');
  const [stats] = (await alice.stats()).filter((s) => s.sessionId === session.id);
  assert.deepEqual([stats!.backlog, stats!.inFlight, stats!.dead], [3, 1, 0], 'all four still there; only the consumer\'s lease');
  const attempts = (await session.peek()).map((e) => e.attempts);
  assert.deepEqual(attempts, [1, 0, 0, 0], 'the follower counted no attempt');
});

test('follow({ since }) skips older events, which stay queued; bad options are invalid_argument', async () => {
  const alice = await connect(roles.alice);
  const session = await alice.createSession();
  await session.subscribeTable('public.orders');
  await db.pool.query('INSERT INTO public.orders VALUES (11, 1)');
  const { rows } = await db.pool.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  await db.pool.query('INSERT INTO public.orders VALUES (12, 2)');
  const stop = new AbortController();
  const follow = session.follow({ since: rows[0]!.now, signal: stop.signal });
  const seen = await take(follow, (s) => s.length >= 1);
  assert.deepEqual(seen.map((e) => e.payload?.id), [12]);
  stop.abort();
  await follow.return(undefined);
  assert.equal((await session.peek()).length, 2);

  assert.throws(() => session.follow({ pollInterval: 'soon' }), (error: unknown) => error instanceof AqeventError && error.code === 'invalid_argument'
    && /pollInterval/.test(error.message));
  assert.throws(() => session.follow({ ack: 'auto' } as never), /invalid follow options/);
});

test('session.info() and aq.sessions(): state, settings, counts and subscriptions; only the caller\'s sessions', async () => {
  const alice = await connect(roles.alice);
  const bob = await connect(roles.bob);
  const session = await alice.createSession({ ttl: '7d', maxAttempts: 3 });
  const table = await session.subscribeTable('public.orders');
  const row = await session.subscribeRow('public.orders', 21);
  await db.pool.query('INSERT INTO public.orders VALUES (21, 1), (22, 2)');
  await session.fetch({ max: 1 });

  const info = await session.info();
  assert.deepEqual([info.id, info.backlog, info.inFlight, info.dead, info.maxAttempts, info.deliveryOrder, info.ttlMs, info.subscriptionCount],
    [session.id, 1, 1, 0, 3, 'strict', 7 * 86_400_000, 2]);
  assert.equal(info.owner, roles.alice.name);
  assert.deepEqual(info.subscriptions.map((s) => [s.id, s.kind, s.table, s.key]).sort(),
    [[table, 'table', 'public.orders', null], [row, 'row', 'public.orders', ['21']]].sort());

  const listed = (await alice.sessions()).find((s) => s.id === session.id);
  assert.deepEqual([listed?.subscriptions, listed?.backlog, listed?.inFlight], [2, 1, 1]);
  assert.equal((await bob.sessions()).some((s) => s.id === session.id), false, 'bob does not see alice\'s session');
  await assert.rejects(bob.session(session.id).info(), (error: unknown) => error instanceof AqeventError && error.sqlstate === '42704');

  await alice.unsubscribe(row);
  assert.equal((await session.info()).subscriptionCount, 1);
});
