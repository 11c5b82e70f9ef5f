// Maintenance in SQL: session expiry, dead-letter purge, lease reclaim,
// orphans, the advisory lock and who may call it. Time is injected (the
// functions' "now" parameter), never slept.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';
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
  assert.equal(await triggersOn('public.expiring'), 5);
  const { n } = await one("SELECT event.expire_sessions(now() + interval '2 hours') AS n");
  assert.equal(n, 1);
  assert.equal(await count('SELECT 1 FROM event.session WHERE id = $1', [old]), 0);
  for (const table of ['event.inbox', 'event.queue', 'event.subscription', 'event.dead_letter']) {
    assert.equal(await count(`SELECT 1 FROM ${table} WHERE session_id = $1`, [old]), 0, `${table} of the expired session`);
  }
  // Capture triggers outlive their last subscription until maintenance removes them (never the writer's cost).
  assert.equal(await triggersOn('public.expiring'), 5, 'expiry alone does not lock the table to drop triggers');
  const removed = (await one('SELECT event.maintain() AS s')).s;
  assert.equal(removed.sessions_expired, 0, 'the others are not expired now');
  assert.equal(removed.capture_removed, 1, 'maintenance removes the triggers of the table without subscriptions');
  assert.equal(await triggersOn('public.expiring'), 0, 'the table lost its last subscription and its triggers');
  assert.equal(await triggersOn('public.kept'), 5);
  assert.equal(await count('SELECT 1 FROM event.session WHERE id = ANY($1)', [[recent, forever]]), 2);
  assert.equal(await count('SELECT 1 FROM event.pending_event WHERE session_id = ANY($1)', [[recent, forever]]), 2);
  // Not yet expired at +1 minute; a detach counts as the last sign of life too.
  await db.pool.query("UPDATE event.session SET detached_at = now() + interval '3 hours' WHERE id = $1", [recent]);
  assert.equal((await one("SELECT event.expire_sessions(now() + interval '3 hours 30 minutes') AS n")).n, 0);
  assert.equal((await one("SELECT event.expire_sessions(now() + interval '4 hours 1 minute') AS n")).n, 1);
  assert.equal(await count('SELECT 1 FROM event.session WHERE id = $1', [forever]), 1);
});

test('dead letters are purged by age; pending events only when asked', async () => {
  await db.pool.query('DELETE FROM event.inbox; DELETE FROM event.session; CREATE TABLE public.letters (id int PRIMARY KEY)');
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

  // Orphans: an inbox row without a session, a subscription of a dropped role.
  await db.pool.query(`INSERT INTO event.inbox (id, session_id, subscription_id, operation, event, created_at)
    VALUES (nextval('event.event_id_seq'), gen_random_uuid(), gen_random_uuid(), 'row_insert', '{}', now())`);
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
  assert.equal(await triggersOn('public.leased'), 5, 'the live session keeps the triggers');
});

test('maintain() runs every step once; a concurrent pass is skipped, not doubled', async () => {
  await db.pool.query('CREATE TABLE public.maintained (id int PRIMARY KEY)');
  await db.pool.query('DELETE FROM event.session'); // what the earlier tests left
  const session = await sessionOn('maintained', '1 minute');
  await db.pool.query('INSERT INTO public.maintained VALUES (1)');
  const captured = await count(`SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = 'public'::regnamespace AND t.tgname = 'aqevent_capture_insert'`);
  assert.ok(captured >= 1 && await count('SELECT 1 FROM event.change') > 0, 'tables captured, changes logged');
  const holder = await roles.admin.pool.connect();
  let horizon = '';
  try {
    // What may go: transactions every snapshot sees as done (older ones elsewhere in the cluster hold the horizon).
    const trimmable = await count('SELECT 1 FROM event.change WHERE xid < pg_snapshot_xmin(pg_current_snapshot())');
    await holder.query('BEGIN');
    // the horizon as of the pass: other databases' transactions may hold it back, and end before the check below
    const pass = (await holder.query(
      "SELECT event.maintain(NULL, now() + interval '1 hour') AS s, pg_snapshot_xmin(pg_current_snapshot())::text AS xmin")).rows[0];
    const first = pass.s;
    horizon = pass.xmin;
    assert.equal(first.skipped, false);
    assert.equal(first.sessions_expired, 1);
    assert.equal(first.capture_removed, captured, 'no session is left: every capture trigger goes');
    assert.ok(first.changes_trimmed >= trimmable, 'nobody is left to collect the change log');
    const second = (await roles.admin.pool.query("SELECT event.maintain(NULL, now() + interval '1 hour') AS s")).rows[0].s;
    assert.deepEqual(second, { skipped: true }, 'the lock holder is still in its transaction');
    await holder.query('COMMIT');
  } finally {
    holder.release();
  }
  assert.equal(await count('SELECT 1 FROM event.session WHERE id = $1', [session]), 0);
  assert.equal(await triggersOn('public.maintained'), 0);
  assert.equal(await count('SELECT 1 FROM event.change WHERE xid < $1::xid8', [horizon]), 0,
    'the change log is trimmed up to the horizon');
  // Changes at or past that horizon may still be there, and go now if the horizon moved on; nothing else is left.
  const left = await count('SELECT 1 FROM event.change');
  const third = (await roles.admin.pool.query("SELECT event.maintain('1 day') AS s")).rows[0].s;
  assert.ok(third.changes_trimmed <= left, `trimmed ${third.changes_trimmed} of the ${left} left`);
  assert.deepEqual(third, { skipped: false, sessions_expired: 0, dead_letters_purged: 0, leases_reclaimed: 0,
    dead_lettered: 0, orphan_events: 0, orphan_subscriptions: 0, changes_trimmed: third.changes_trimmed,
    capture_removed: 0, ddl_failures_trimmed: 0 });
});

test('maintenance is for aqevent_admin only, and stays so when migrating again', async () => {
  const fns = ['event.maintain()', 'event.expire_sessions()', 'event.reclaim_leases()', "event.purge_dead_letters('1 day')",
    "event.purge_pending('1 day')", 'event.trim_changes()', 'event._uninstall_unused_capture()'];
  for (const fn of fns) assert.equal(await sqlstateOf(roles.user.pool.query(`SELECT ${fn}`)), '42501', fn);
  // Grants are static (sql/schema/access.sql): a second migrate changes nothing and opens nothing.
  assert.deepEqual((await migrate(db.pool)).applied, []);
  const open = await db.pool.query(`SELECT p.oid::regprocedure::text AS fn FROM pg_proc p
     WHERE p.pronamespace = 'event'::regnamespace AND p.proname IN ('maintain', 'expire_sessions', 'reclaim_leases',
       'purge_dead_letters', 'purge_pending', 'trim_changes', '_uninstall_unused_capture')
       AND (has_function_privilege($1, p.oid, 'EXECUTE') OR has_function_privilege('aqevent_user', p.oid, 'EXECUTE'))`,
    [roles.user.name]);
  assert.deepEqual(open.rows, []);
  for (const fn of fns) {
    assert.equal(await sqlstateOf(roles.user.pool.query(`SELECT ${fn}`)), '42501', fn);
    // the internal step runs inside maintain() only
    if (fn !== 'event._uninstall_unused_capture()') await roles.admin.pool.query(`SELECT ${fn}`);
  }
  const size = (await roles.user.pool.query('SELECT * FROM event.queue_size()')).rows[0];
  assert.ok(Number(size.total_bytes) > 0);
  const options = (await one("SELECT reloptions FROM pg_class WHERE oid = 'event.inbox'::regclass")).reloptions;
  assert.ok(options.includes('autovacuum_vacuum_scale_factor=0') && options.includes('fillfactor=90'), String(options));
  const log = (await one("SELECT reloptions FROM pg_class WHERE oid = 'event.change'::regclass")).reloptions;
  assert.ok(log.includes('autovacuum_vacuum_scale_factor=0'), String(log));
});
