// event.peek / Session.peek: reading a queue without leasing, as ordinary roles.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Aqevent } from '../src/client.js';
import { AqeventError } from '../src/errors.js';
import { storedText } from '../src/events/schema.js';
import { runCli } from './support/cli.js';
import type { TestDatabase } from './support/database.js';
import type { TestRole } from './support/roles.js';
import { type TwoUsers, twoUsersWithOrders } from './support/two-users.js';

let fixture: TwoUsers;
let db: TestDatabase;
let roles: TwoUsers['roles'];
before(async () => {
  fixture = await twoUsersWithOrders('bigint');
  ({ db, roles } = fixture);
});
after(() => fixture?.close());

const connect = (role: TestRole): Promise<Aqevent> => fixture.connect(role);


test('peek reads in id order, pages with after, takes no lease and counts no attempt; others cannot peek', async () => {
  const alice = await connect(roles.alice);
  const session = await alice.createSession();
  await session.subscribeTable('public.orders');
  await db.pool.query('INSERT INTO public.orders VALUES (1, 9007199254740993), (2, 2), (3, 3)');

  const firstPage = await session.peek({ max: 2 });
  assert.deepEqual(firstPage.map((e) => e.payload?.id), [1, 2]);
  assert.equal(firstPage[0]!.payload?.total, '9007199254740993');
  assert.match(storedText(firstPage[0])!, /"total": 9007199254740993\b/, 'the stored JSON text comes along');
  const rest = await session.peek({ after: firstPage[1]!.id });
  assert.deepEqual(rest.map((e) => e.payload?.id), [3]);
  assert.deepEqual([...firstPage, ...rest].map((e) => [e.attempts, e.leasedUntil]), [[0, null], [0, null], [0, null]]);

  const [leased] = await session.fetch({ max: 1, lease: '1h' });
  const again = await session.peek();
  assert.equal(again.length, 3, 'leased events are still queued, and peek shows them');
  assert.equal(again[0]!.id, leased!.id);
  assert.equal(again[0]!.attempts, 1);
  assert.ok(again[0]!.leasedUntil && again[0]!.leasedUntil.getTime() > Date.now() + 3_000_000);
  assert.equal((await session.peek()).filter((e) => e.attempts > 0).length, 1, 'peeking counted nothing');

  const bob = await connect(roles.bob);
  await assert.rejects(bob.pool.query('SELECT * FROM event.peek($1, 10)', [session.id]), (e: unknown) => (e as { code?: string }).code === '42704');
  await assert.rejects(session.peek({ max: 0 }), (e: unknown) => e instanceof AqeventError && e.code === 'invalid_argument');
  await assert.rejects(alice.pool.query('SELECT * FROM event.peek($1, 0)', [session.id]), (e: unknown) => (e as { code?: string }).code === '22023');

  // The CLI as bob: alice's session does not exist for him.
  const listed = await runCli(['--database-url', roles.bob.url, '--json', 'session', 'list']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout), []);
  const shown = await runCli(['--database-url', roles.bob.url, 'session', 'show', session.id]);
  assert.equal(shown.code, 1);
  assert.match(shown.stderr, /\[42704\]/);
});
