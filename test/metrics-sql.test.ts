// event.metrics(): per-session gauges and the counters a scraper reads from
// SQL (events captured, acknowledged, dropped), who sees which rows, and that
// nobody can set the counters.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createRoles, endRoles, sqlstateOf, type TestRole } from './support/roles.js';

let db: TestDatabase;
let roles: Record<'alice' | 'bob' | 'writer', TestRole>;
before(async () => {
  db = await createTestDatabase();
  roles = await createRoles(db, ['alice', 'bob', 'writer'] as const);
  await db.pool.query(`GRANT aqevent_user TO ${roles.alice.sql}, ${roles.bob.sql};
    CREATE TABLE public.metered (id int PRIMARY KEY, a text, b text);
    GRANT SELECT ON public.metered TO ${roles.alice.sql}, ${roles.bob.sql};
    GRANT SELECT, INSERT, UPDATE, DELETE ON public.metered TO ${roles.writer.sql};
    SELECT event.enable_capture('public.metered')`);
});
after(async () => {
  await endRoles(roles);
  await db.drop();
});

async function sessionOf(role: TestRole): Promise<string> {
  const id = (await role.pool.query('SELECT event.session_create() AS id')).rows[0].id as string;
  await role.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'metered'))", [id]);
  return id;
}

async function metricsOf(role: TestRole, session: string) {
  const { rows } = await role.pool.query('SELECT * FROM event.metrics() WHERE session_id = $1', [session]);
  assert.equal(rows.length, 1, `one metrics row for ${session}`);
  return rows[0];
}

const idsOf = async (role: TestRole, session: string, n: number) =>
  (await role.pool.query('SELECT id FROM event.peek($1, $2) ORDER BY id', [session, n])).rows.map((r) => r.id as string);

test('counters follow capture and acknowledgement; gauges follow the inbox', async () => {
  const session = await sessionOf(roles.alice);
  const fresh = await metricsOf(roles.alice, session);
  assert.deepEqual(
    [fresh.owner, fresh.backlog, fresh.in_flight, fresh.dead_letters, fresh.oldest_pending_age, fresh.events_captured,
      fresh.events_acknowledged, fresh.events_dropped, fresh.subscriptions, fresh.overflowed],
    [roles.alice.name, '0', '0', '0', null, '0', '0', '0', '1', false]);

  await roles.writer.pool.query("INSERT INTO public.metered VALUES (1, 'x', 'y'), (2, 'x', 'y'), (3, 'x', 'y')");
  await roles.writer.pool.query("UPDATE public.metered SET a = 'z', b = 'z' WHERE id = 1"); // two field updates
  let m = await metricsOf(roles.alice, session);
  assert.deepEqual([m.events_captured, m.backlog, m.events_acknowledged], ['5', '5', '0']);
  assert.ok(m.oldest_pending_age !== null);

  const ids = await idsOf(roles.alice, session, 10);
  assert.equal((await roles.alice.pool.query('SELECT event.ack($1, $2::bigint[]) AS n', [session, ids.slice(0, 2)])).rows[0].n, 2);
  await roles.alice.pool.query('SELECT * FROM event.ack_each($1, $2::bigint[])', [session, [ids[2], ids[0]]]);
  await roles.alice.pool.query('SELECT event.ack($1, $2::bigint[])', [session, ids.slice(0, 3)]); // all acknowledged already
  m = await metricsOf(roles.alice, session);
  assert.deepEqual([m.events_captured, m.backlog, m.events_acknowledged], ['5', '2', '3'], 'an id counts once');

  // leased: in flight; a nack with a delay keeps it there; a dead letter is not acknowledged
  await roles.alice.pool.query("SELECT * FROM event.fetch_events($1, 1, interval '1 hour')", [session]);
  m = await metricsOf(roles.alice, session);
  assert.deepEqual([m.backlog, m.in_flight], ['1', '1']);
  await roles.alice.pool.query('SELECT event.set_max_attempts($1, 1)', [session]);
  await roles.alice.pool.query('SELECT event.nack($1, $2::bigint[])', [session, [ids[3]]]);
  await roles.alice.pool.query("SELECT * FROM event.fetch_events($1, 2, interval '1 hour')", [session]);
  await roles.alice.pool.query('SELECT event.nack($1, $2::bigint[])', [session, [ids[3]]]);
  await roles.alice.pool.query("SELECT * FROM event.fetch_events($1, 2, interval '1 hour')", [session]);
  m = await metricsOf(roles.alice, session);
  assert.equal(m.dead_letters, '1', 'the event leased past max_attempts died');
  assert.equal(m.events_acknowledged, '3', 'dying is not an acknowledgement');
  assert.equal(m.events_captured, '5');
});

test('each role sees its own sessions; an admin sees every one', async () => {
  const mine = await sessionOf(roles.alice);
  const theirs = await sessionOf(roles.bob);
  const seen = async (role: TestRole) => new Set((await role.pool.query('SELECT session_id FROM event.metrics()')).rows.map((r) => r.session_id));
  const alice = await seen(roles.alice);
  assert.ok(alice.has(mine) && !alice.has(theirs));
  const bob = await seen(roles.bob);
  assert.ok(bob.has(theirs) && !bob.has(mine));
  const all = await seen({ ...roles.alice, pool: db.pool });
  assert.ok(all.has(mine) && all.has(theirs));
  assert.equal(await sqlstateOf(roles.writer.pool.query('SELECT * FROM event.metrics()')), '42501', 'not an aqevent_user');
});

test('nobody sets the counters; a cap overflow counts what it dropped', async () => {
  const session = await sessionOf(roles.bob);
  for (const column of ['events_captured', 'events_acknowledged', 'pending']) {
    assert.equal(await sqlstateOf(roles.bob.pool.query(`UPDATE event.session SET ${column} = 1000 WHERE id = $1`, [session])), '42501', column);
  }
  await db.pool.query("UPDATE event.settings SET value = 2 WHERE name = 'max_pending_per_session'");
  try {
    await roles.writer.pool.query("INSERT INTO public.metered SELECT g, 'o', 'o' FROM generate_series(100, 104) g");
    const m = await metricsOf(roles.bob, session);
    assert.deepEqual([m.overflowed, m.events_dropped, m.events_captured], [true, '5', '0']);
  } finally {
    await db.pool.query("UPDATE event.settings SET value = 10000000 WHERE name = 'max_pending_per_session'");
  }
});
