// Maintenance in SQL: session expiry, dead-letter purge, lease reclaim,
// orphans, the advisory lock and who may call it. Time is injected (the
// functions' "now" parameter), never slept.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createRoles, endRoles, sqlstateOf, type TestRole } from './support/roles.js';

let db: TestDatabase;
let roles: Record<'user' | 'admin', TestRole>;
before(async () => {
  db = await createTestDatabase();
  roles = await createRoles(db, ['user', 'admin'] as const);
  await db.pool.query(`GRANT aqevent_user TO ${roles.user.sql}; GRANT aqevent_admin TO ${roles.admin.sql}`);
});
after(async () => {
  await endRoles(roles);
  await db.drop();
});

const one = async (sql: string, values: unknown[] = []) => (await db.pool.query(sql, values)).rows[0];
const count = async (sql: string, values: unknown[] = []) => Number((await one(`SELECT count(*) AS n FROM (${sql}) t`, values)).n);
const triggersOn = (table: string) => count("SELECT 1 FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname LIKE 'aqevent%'", [table]);

/** Leases max events (after a moment, so that 1 ms leases have ended). */
async function lease(session: string, max: number, duration: string): Promise<void> {
  await db.pool.query('SELECT pg_sleep(0.01)');
  await db.pool.query('SELECT event.fetch_events($1, $2, $3::interval)', [session, max, duration]);
}

/** Makes the first n events of the session dead letters (max_attempts 1, delivered once, fetched again). */
async function exhaust(session: string, n: number): Promise<void> {
  await db.pool.query('SELECT event.set_max_attempts($1, 1)', [session]);
  await lease(session, n, '1 ms');
  await lease(session, n, '1 hour');
}

async function sessionOn(table: string, ttl: string | null): Promise<string> {
  const { id } = await one('SELECT event.session_create($1::interval) AS id', [ttl]);
  await db.pool.query('SELECT event.subscribe_table($1, meta.relation_id($2, $3))', [id, 'public', table]);
  return id;
}

test('a session not attached for longer than its ttl is deleted with its subscriptions, events and dead letters', async () => {
  await db.pool.query('CREATE TABLE public.expiring (id int PRIMARY KEY); CREATE TABLE public.kept (id int PRIMARY KEY)');
  const old = await sessionOn('expiring', '1 hour');
  const recent = await sessionOn('kept', '1 hour');
  const forever = await sessionOn('kept', null);
  await db.pool.query('INSERT INTO public.expiring VALUES (1), (2), (3); INSERT INTO public.kept VALUES (1)');
  await exhaust(old, 1);
  assert.equal(await count('SELECT 1 FROM event.dead_letter WHERE session_id = $1', [old]), 1);
  // Two hours from now: "old" was attached at creation, "recent" is attached again at +90 minutes.
  await db.pool.query("UPDATE event.session SET last_attached_at = now() + interval '90 minutes' WHERE id = $1", [recent]);
  assert.equal(await triggersOn('public.expiring'), 4);
  const { n } = await one("SELECT event.expire_sessions(now() + interval '2 hours') AS n");
  assert.equal(n, 1);
  assert.equal(await count('SELECT 1 FROM event.session WHERE id = $1', [old]), 0);
  for (const table of ['event.capture', 'event.queue', 'event.subscription', 'event.dead_letter']) {
    assert.equal(await count(`SELECT 1 FROM ${table} WHERE session_id = $1`, [old]), 0, `${table} of the expired session`);
  }
  assert.equal(await triggersOn('public.expiring'), 0, 'the table lost its last subscription and its triggers');
  assert.equal(await triggersOn('public.kept'), 4);
  assert.equal(await count('SELECT 1 FROM event.session WHERE id = ANY($1)', [[recent, forever]]), 2);
  assert.equal(await count('SELECT 1 FROM event.pending_event WHERE session_id = ANY($1)', [[recent, forever]]), 2);
  // Not yet expired at +1 minute; a detach counts as the last sign of life too.
  await db.pool.query("UPDATE event.session SET detached_at = now() + interval '3 hours' WHERE id = $1", [recent]);
  assert.equal((await one("SELECT event.expire_sessions(now() + interval '3 hours 30 minutes') AS n")).n, 0);
  assert.equal((await one("SELECT event.expire_sessions(now() + interval '4 hours 1 minute') AS n")).n, 1);
  assert.equal(await count('SELECT 1 FROM event.session WHERE id = $1', [forever]), 1);
});

test('dead letters are purged by age; pending events only when asked', async () => {
  await db.pool.query('DELETE FROM event.capture; DELETE FROM event.queue; DELETE FROM event.session; CREATE TABLE public.letters (id int PRIMARY KEY)');
  const session = await sessionOn('letters', null);
  await db.pool.query('INSERT INTO public.letters SELECT generate_series(1, 4)');
  await exhaust(session, 2);
  assert.equal(await count('SELECT 1 FROM event.dead_letter WHERE session_id = $1', [session]), 2);
  await db.pool.query("UPDATE event.dead_letter SET died_at = now() - interval '10 days' WHERE session_id = $1 AND id = (SELECT min(id) FROM event.dead_letter WHERE session_id = $1)", [session]);
  assert.equal(Number((await one("SELECT event.purge_dead_letters('7 days') AS n")).n), 1);
  assert.equal(await count('SELECT 1 FROM event.dead_letter WHERE session_id = $1', [session]), 1);
  assert.equal(Number((await one("SELECT event.purge_dead_letters('7 days', now() + interval '8 days') AS n")).n), 1);
  assert.equal(await count('SELECT 1 FROM event.pending_event WHERE session_id = $1', [session]), 2, 'purging dead letters leaves pending events');
  assert.equal(Number((await one("SELECT event.purge_pending('1 day') AS n")).n), 0);
  assert.equal(Number((await one("SELECT event.purge_pending('1 day', now() + interval '2 days') AS n")).n), 2);
  assert.equal(await sqlstateOf(db.pool.query("SELECT event.purge_dead_letters('-1 day')")), '22023');
  assert.equal(await sqlstateOf(db.pool.query('SELECT event.purge_pending(NULL)')), '22023');
});

test('expired leases are reclaimed, exhausted ones become dead letters, orphans go', async () => {
  await db.pool.query('CREATE TABLE public.leased (id int PRIMARY KEY)');
  const session = await sessionOn('leased', null);
  await db.pool.query("SELECT event.set_delivery_order($1, 'parallel')", [session]);
  await db.pool.query('SELECT event.set_max_attempts($1, 2)', [session]);
  await db.pool.query('INSERT INTO public.leased SELECT generate_series(1, 3)');
  await lease(session, 1, '1 ms');
  await lease(session, 3, '1 hour'); // event 1 twice, 2 and 3 once
  assert.equal(await count("SELECT event.fetch_events($1, 3, '1 hour')", [session]), 0, 'all leased');
  const summary = (await one("SELECT event.reclaim_leases(now() + interval '2 hours') AS s")).s;
  assert.deepEqual(summary, { leases_reclaimed: 2, dead_lettered: 1, orphan_events: 0, orphan_subscriptions: 0 });
  const { rows } = await db.pool.query("SELECT id, attempts FROM event.fetch_events($1, 10, '1 hour') ORDER BY id", [session]);
  assert.deepEqual(rows.map((r) => r.attempts), [2, 2], 'reclaimed events are deliverable at once, attempts kept');
  assert.equal(await count('SELECT 1 FROM event.dead_letter WHERE session_id = $1', [session]), 1);
  assert.equal((await one("SELECT event.reclaim_leases(now() + interval '30 minutes') AS s")).s.leases_reclaimed, 0, 'unexpired leases stay');

  // Orphans: a queue row without a session, a subscription of a dropped role.
  await db.pool.query(`INSERT INTO event.queue (id, session_id, subscription_id, event)
    VALUES (nextval('event.queue_id_seq'), gen_random_uuid(), gen_random_uuid(), '{}')`);
  const ghost = `${db.prefix}_ghost`;
  await db.pool.query(`CREATE ROLE "${ghost}"; GRANT aqevent_user TO "${ghost}"; GRANT SELECT ON public.leased TO "${ghost}"`);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query(`SET ROLE "${ghost}"`);
  const ghostSession = (await client.query("SELECT event.session_create() AS id")).rows[0].id;
  await client.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'leased'))", [ghostSession]);
  await client.end();
  await db.pool.query(`REVOKE ALL ON public.leased FROM "${ghost}"; REVOKE aqevent_user FROM "${ghost}"; DROP ROLE "${ghost}"`);
  const cleaned = (await one('SELECT event.reclaim_leases() AS s')).s;
  assert.equal(cleaned.orphan_events, 1);
  assert.equal(cleaned.orphan_subscriptions, 1);
  assert.equal(await count('SELECT 1 FROM event.subscription WHERE session_id = $1', [ghostSession]), 0);
  assert.equal(await triggersOn('public.leased'), 4, 'the live session keeps the triggers');
});

test('maintain() runs every step once; a concurrent pass is skipped, not doubled', async () => {
  await db.pool.query('CREATE TABLE public.maintained (id int PRIMARY KEY)');
  await db.pool.query('DELETE FROM event.session'); // what the earlier tests left
  const session = await sessionOn('maintained', '1 minute');
  const holder = await roles.admin.pool.connect();
  try {
    await holder.query('BEGIN');
    const first = (await holder.query("SELECT event.maintain(NULL, now() + interval '1 hour') AS s")).rows[0].s;
    assert.equal(first.skipped, false);
    assert.equal(first.sessions_expired, 1);
    const second = (await roles.admin.pool.query("SELECT event.maintain(NULL, now() + interval '1 hour') AS s")).rows[0].s;
    assert.deepEqual(second, { skipped: true }, 'the lock holder is still in its transaction');
    await holder.query('COMMIT');
  } finally {
    holder.release();
  }
  assert.equal(await count('SELECT 1 FROM event.session WHERE id = $1', [session]), 0);
  const third = (await roles.admin.pool.query("SELECT event.maintain('1 day') AS s")).rows[0].s;
  assert.deepEqual(third, { skipped: false, sessions_expired: 0, dead_letters_purged: 0, leases_reclaimed: 0,
    dead_lettered: 0, orphan_events: 0, orphan_subscriptions: 0 });
});

test('maintenance is for aqevent_admin only, and stays so when access control is applied again', async () => {
  const fns = ['event.maintain()', 'event.expire_sessions()', 'event.reclaim_leases()', "event.purge_dead_letters('1 day')", "event.purge_pending('1 day')"];
  for (const fn of fns) assert.equal(await sqlstateOf(roles.user.pool.query(`SELECT ${fn}`)), '42501', fn);
  await db.pool.query('SELECT event._apply_access_control()');
  for (const fn of fns) {
    assert.equal(await sqlstateOf(roles.user.pool.query(`SELECT ${fn}`)), '42501', fn);
    await roles.admin.pool.query(`SELECT ${fn}`);
  }
  const size = (await roles.user.pool.query('SELECT * FROM event.queue_size()')).rows[0];
  assert.ok(Number(size.total_bytes) > 0);
  const options = (await one("SELECT reloptions FROM pg_class WHERE oid = 'event.queue'::regclass")).reloptions;
  assert.ok(options.includes('autovacuum_vacuum_scale_factor=0') && options.includes('fillfactor=90'), String(options));
});
