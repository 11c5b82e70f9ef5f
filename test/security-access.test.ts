/**
 * Ownership and privileges with real roles: owner, member (of the owner),
 * stranger, writer-only, admin, and a role without aqevent_user. Every
 * permission is asserted both ways.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createRoles, endRoles, sqlstateOf, type TestRole } from './support/roles.js';

let db: TestDatabase;
let r: Record<'owner' | 'member' | 'stranger' | 'writer' | 'admin' | 'plain', TestRole>;
let session: string;

const relation = (name: string) => `meta.relation_id('public', '${name}')`;

async function one<T = Record<string, unknown>>(pool: pg.Pool | pg.PoolClient, sql: string, params: unknown[] = []): Promise<T> {
  const { rows } = await pool.query(sql, params);
  return rows[0] as T;
}

async function count(pool: pg.Pool | pg.PoolClient, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await one<{ n: string }>(pool, `SELECT count(*) AS n FROM (${sql}) x`, params)).n);
}

/** Runs fn in a transaction that is rolled back, so destructive checks leave no trace. */
async function rolledBack<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    return await fn(client);
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
}

before(async () => {
  db = await createTestDatabase();
  r = await createRoles(db, ['owner', 'member', 'stranger', 'writer', 'admin', 'plain'] as const);
  await db.pool.query(`
    GRANT aqevent_user TO ${r.owner.sql}, ${r.stranger.sql};
    GRANT ${r.owner.sql} TO ${r.member.sql};
    GRANT aqevent_admin TO ${r.admin.sql};
    CREATE TABLE public.items (id int PRIMARY KEY, name text, secret text);
    CREATE TABLE public.cols (id int PRIMARY KEY, visible text, hidden text);
    CREATE TABLE public.open (id int PRIMARY KEY, v text);
    CREATE TABLE public.guarded (id int PRIMARY KEY, tenant text);
    ALTER TABLE public.guarded ENABLE ROW LEVEL SECURITY;
    CREATE POLICY tenant ON public.guarded USING (tenant = current_user);
    GRANT SELECT ON public.items, public.guarded TO ${r.owner.sql};
    GRANT SELECT (id, visible) ON public.cols TO ${r.owner.sql};
    GRANT SELECT ON public.open TO PUBLIC;
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.items, public.cols, public.open, public.guarded
      TO ${r.writer.sql};
    SELECT event.enable_capture(t) FROM unnest('{public.items,public.cols,public.open,public.guarded}'::regclass[]) t;`);
  session = (await one<{ id: string }>(r.owner.pool, 'SELECT event.session_create() AS id')).id;
  await r.owner.pool.query(`SELECT event.subscribe_table($1, ${relation('items')})`, [session]);
  await r.writer.pool.query("INSERT INTO public.items VALUES (1, 'one', 's1'), (2, 'two', 's2')");
});

after(async () => {
  await endRoles(r);
  await db.drop();
});

test('a role granted aqevent_user needs nothing else; a role without it cannot start', async () => {
  const privileges = await one<Record<string, boolean>>(db.pool, `SELECT
      has_table_privilege($1, 'event.queue', 'INSERT') AS queue_insert,
      has_table_privilege($1, 'event.inbox', 'INSERT') AS inbox_insert,
      has_column_privilege($1, 'event.inbox', 'new_row', 'INSERT') AS inbox_rows_insert,
      has_column_privilege($1, 'event.inbox', 'new_row', 'UPDATE') AS inbox_rows_update,
      has_column_privilege($1, 'event.inbox', 'session_id', 'UPDATE') AS inbox_session_update,
      has_column_privilege($1, 'event.inbox', 'visible_at', 'UPDATE') AS inbox_lease_update,
      has_table_privilege($1, 'event.change', 'SELECT') AS change_select,
      has_table_privilege($1, 'event.change', 'INSERT') AS change_insert,
      has_column_privilege($1, 'event.session', 'cursor', 'UPDATE') AS cursor_update,
      has_table_privilege($1, 'event.session', 'UPDATE') AS session_update,
      has_column_privilege($1, 'event.session', 'owner_role', 'UPDATE') AS owner_update,
      has_schema_privilege($1, 'event', 'CREATE') AS schema_create,
      has_schema_privilege($1, 'event', 'USAGE') AS schema_usage`, [r.owner.name]);
  assert.deepEqual(privileges, { queue_insert: false, inbox_insert: false, inbox_rows_insert: false,
    inbox_rows_update: false, inbox_session_update: false, inbox_lease_update: true, change_select: false,
    change_insert: false, cursor_update: false, session_update: false, owner_update: false, schema_create: false,
    schema_usage: true });
  assert.equal(await count(r.owner.pool, 'SELECT 1 FROM event.pending_event WHERE session_id = $1', [session]), 2);
  assert.equal(await count(r.owner.pool,
    'SELECT 1 FROM event.inbox WHERE session_id = $1 AND attempts = 0 AND visible_at IS NULL', [session]), 2,
    'collected into the inbox, not yet fetched');
  assert.equal(await sqlstateOf(r.plain.pool.query('SELECT event.session_create()')), '42501');
  assert.equal(await sqlstateOf(r.plain.pool.query('SELECT count(*) FROM event.queue')), '42501');
  assert.equal(await sqlstateOf(r.plain.pool.query('SELECT count(*) FROM event.inbox')), '42501');
  assert.equal(await sqlstateOf(r.plain.pool.query('SELECT count(*) FROM event.change')), '42501');
});

test('the owner, its members and aqevent_admin may use a session; a stranger may not', async () => {
  for (const role of [r.owner, r.member, r.admin]) {
    await rolledBack(role.pool, async (c) => {
      await c.query('SELECT event.session_attach($1)', [session]);
      await c.query(`SELECT event.subscribe_table($1, ${relation('open')})`, [session]);
      await c.query("SELECT event.session_set_notify_payload($1, 'id')", [session]);
      const info = (await c.query('SELECT owner_role FROM event.session_info($1)', [session])).rows[0];
      assert.equal(info.owner_role, r.owner.name, role.name);
      const seen = await c.query("SELECT id FROM event.fetch_events($1, 10, '1 minute')", [session]);
      assert.equal(seen.rowCount, 2, `${role.name} fetches the events`);
      const acked = await c.query('DELETE FROM event.inbox WHERE session_id = $1 AND id = $2', [session, seen.rows[0].id]);
      assert.equal(acked.rowCount, 1, `${role.name} acks`);
      const sub = await c.query('SELECT id FROM event.subscription WHERE session_id = $1 LIMIT 1', [session]);
      await c.query('SELECT event.unsubscribe($1)', [sub.rows[0].id]);
      await c.query('SELECT event.session_delete($1)', [session]);
    });
  }
  const s = r.stranger.pool;
  for (const sql of ['SELECT event.session_attach($1)', 'SELECT event.session_detach($1)',
    `SELECT event.subscribe_table($1, ${relation('open')})`, "SELECT event.session_set_notify_payload($1, 'id')",
    'SELECT * FROM event.session_info($1)', 'SELECT event.session_resume($1)', 'SELECT event.session_delete($1)']) {
    assert.equal(await sqlstateOf(s.query(sql, [session])), '42704', sql);
  }
  const subscription = (await one<{ id: string }>(r.owner.pool,
    'SELECT id FROM event.subscription WHERE session_id = $1', [session])).id;
  assert.equal(await sqlstateOf(s.query('SELECT event.unsubscribe($1)', [subscription])), '42704');
  assert.equal(await count(s, 'SELECT 1 FROM event.queue WHERE session_id = $1', [session]), 0, 'reads nothing');
  assert.equal(await count(s, 'SELECT 1 FROM event.pending_event WHERE session_id = $1', [session]), 0,
    'nor through the view with the JSON');
  assert.equal(await count(r.owner.pool, 'SELECT 1 FROM event.pending_event WHERE session_id = $1', [session]), 2,
    'which shows the owner its events');
  assert.equal(await count(s, 'SELECT 1 FROM event.subscription WHERE session_id = $1', [session]), 0);
  assert.equal(await count(s, 'SELECT 1 FROM event.session WHERE id = $1', [session]), 0);
  assert.equal(await count(s, 'SELECT 1 FROM event.inbox WHERE session_id = $1', [session]), 0, 'nor the storage');
  assert.equal(await sqlstateOf(s.query('SELECT count(*) FROM event.change')), '42501', 'nor the change log');
  assert.equal((await s.query('DELETE FROM event.inbox WHERE session_id = $1', [session])).rowCount, 0);
  assert.equal((await s.query('UPDATE event.inbox SET attempts = 0, visible_at = now() WHERE session_id = $1', [session])).rowCount, 0);
  assert.equal(await sqlstateOf(s.query(
    "INSERT INTO event.inbox (session_id, id, operation, event, created_at) VALUES ($1, 1, 'row_insert', '{}', now())",
    [session])), '42501', 'no event forged into the session of someone else');
  assert.equal((await s.query('DELETE FROM event.dead_letter WHERE session_id = $1', [session])).rowCount, 0);
  assert.equal((await s.query('DELETE FROM event.session WHERE id = $1', [session])).rowCount, 0);
  assert.equal(await count(r.owner.pool, 'SELECT 1 FROM event.pending_event WHERE session_id = $1', [session]), 2,
    'the stranger changed nothing');
});

test('membership is one way: the owner cannot use its member\'s session', async () => {
  const memberSession = (await one<{ id: string }>(r.member.pool, 'SELECT event.session_create() AS id')).id;
  const info = await one<{ owner_role: string }>(r.member.pool, 'SELECT owner_role FROM event.session_info($1)', [memberSession]);
  assert.equal(info.owner_role, r.member.name, 'a session belongs to the role that created it');
  assert.equal(await sqlstateOf(r.owner.pool.query('SELECT event.session_attach($1)', [memberSession])), '42704');
  await r.admin.pool.query('SELECT event.session_delete($1)', [memberSession]);
  assert.equal(await count(db.pool, 'SELECT 1 FROM event.session WHERE id = $1', [memberSession]), 0, 'admin deleted it');
});

test('after SET ROLE a session belongs to the effective role, as PostgREST-style gateways need', async () => {
  const client = await r.member.pool.connect();
  try {
    await client.query(`SET ROLE ${r.owner.sql}`);
    const id = (await client.query('SELECT event.session_create() AS id')).rows[0].id as string;
    await client.query('RESET ROLE');
    const owner = await one<{ owner: string }>(db.pool,
      'SELECT pg_get_userbyid(owner_role) AS owner FROM event.session WHERE id = $1', [id]);
    assert.equal(owner.owner, r.owner.name);
    await client.query('SELECT event.session_delete($1)', [id]);
  } finally {
    client.release();
  }
});

test('direct table access gains nothing that the functions refuse', async () => {
  const s = r.stranger.pool;
  const ownerOid = (await one<{ oid: number }>(db.pool, 'SELECT oid FROM pg_roles WHERE rolname = $1', [r.owner.name])).oid;
  const own = (await one<{ id: string }>(s, 'SELECT event.session_create() AS id')).id;
  // sessions are created only for oneself; owner and id are not the user's to set
  assert.equal(await sqlstateOf(s.query('INSERT INTO event.session (owner_role) VALUES ($1)', [ownerOid])), '42501');
  assert.equal(await sqlstateOf(s.query('INSERT INTO event.session (id, owner_role) VALUES (gen_random_uuid(), $1)', [ownerOid])), '42501');
  assert.equal(await sqlstateOf(s.query('UPDATE event.session SET owner_role = $1 WHERE id = $2', [ownerOid, own])), '42501');
  // no forged events, no moving events into a session of someone else
  assert.notEqual(await sqlstateOf(s.query(
    "INSERT INTO event.queue (id, session_id, subscription_id, event) VALUES (1, $1, gen_random_uuid(), '{}')", [own])),
    'no sqlstate', 'the queue view takes no rows');
  for (const [column, value] of [['relid', "'public.items'::regclass"], ['shape', '1'], ['new_row', "'(1,one,s1)'"],
    ['old_row', "'(1,one,s1)'"], ['hidden', "'{}'"], ['payload_columns', "'{}'"], ['transaction_id', '1'],
    ['attempts', '0']] as const) {
    assert.equal(await sqlstateOf(s.query(
      `INSERT INTO event.inbox (session_id, id, operation, created_at, ${column}) VALUES ($1, 1, 'row_insert', now(), ${value})`,
      [own])), '42501', `a user cannot write inbox.${column}: no rendering of rows it did not collect`);
  }
  assert.equal(await sqlstateOf(s.query(
    "INSERT INTO event.inbox (session_id, id, operation, event, created_at) VALUES ($1, 1, 'row_insert', '{}', now())",
    [session])), '42501', 'the requeue columns do not reach a session of someone else');
  await rolledBack(s, async (c) => {
    // What a user may insert (the requeue columns) is its own JSON in its own session: harmless.
    await c.query(`INSERT INTO event.inbox (session_id, id, operation, event, created_at)
      VALUES ($1, 1, 'row_insert', '{"forged": true}', now()), ($1, 2, 'row_insert', NULL, now())`, [own]);
    const forged = await c.query('SELECT id, event FROM event.peek($1, 10) ORDER BY id', [own]);
    assert.deepEqual(forged.rows.map((r) => [r.id, r.event.forged ?? null, r.event.operation ?? null]),
      [['1', true, null], ['2', null, 'row_insert']], 'its own JSON back; a row without JSON or rows is still an event (never lost)');
    assert.equal(await count(c, 'SELECT 1 FROM event.inbox WHERE session_id <> $1', [own]), 0);
  });
  assert.equal(await count(r.owner.pool, 'SELECT 1 FROM event.inbox WHERE event IS NOT NULL AND session_id = $1', [session]), 0,
    'the owner\'s session got nothing of it');
  await rolledBack(r.owner.pool, async (c) => {
    await c.query("SELECT * FROM event.fetch_events($1, 1, '1 minute')", [session]); // collected into the inbox
    assert.equal(await sqlstateOf(c.query('UPDATE event.inbox SET session_id = $1 WHERE session_id = $2', [own, session])), '42501');
  });
  await rolledBack(r.owner.pool, async (c) => {
    assert.equal(await sqlstateOf(c.query("UPDATE event.inbox SET new_row = '(1,x,y)' WHERE session_id = $1", [session])), '42501',
      'a collected row cannot be rewritten');
  });
  await rolledBack(r.owner.pool, async (c) => {
    assert.equal(await sqlstateOf(c.query("UPDATE event.session SET cursor = '1:1:' WHERE id = $1", [session])), '42501',
      'the cursor cannot be moved back: the change log cannot be collected twice');
  });
  await rolledBack(r.owner.pool, async (c) => {
    assert.equal(await sqlstateOf(c.query(
      "INSERT INTO event.change (relid, shape, op, new_row) VALUES ('public.items'::regclass, 1, 'i', '(9,x,y)')")), '42501',
      'nor can a user write the change log');
  });
  // a subscription needs the owner's SELECT right and an own session, however it is inserted
  const items = (await one<{ oid: number }>(db.pool, "SELECT 'public.items'::regclass::oid AS oid")).oid;
  const open = (await one<{ oid: number }>(db.pool, "SELECT 'public.open'::regclass::oid AS oid")).oid;
  assert.equal(await sqlstateOf(s.query(`SELECT event.subscribe_table($1, ${relation('items')})`, [own])), '42501');
  assert.equal(await sqlstateOf(s.query(
    "INSERT INTO event.subscription (session_id, kind, relation_oid, target) VALUES ($1, 'table', $2, '{}')", [own, items])), '42501');
  assert.equal(await sqlstateOf(s.query(
    "INSERT INTO event.subscription (session_id, kind, relation_oid, target) VALUES ($1, 'table', $2, '{}')", [session, open])), '42501');
  assert.equal(await sqlstateOf(s.query(
    "INSERT INTO event.subscription (session_id, kind, relation_oid, target) VALUES ($1, 'table', 'pg_authid'::regclass, '{}')", [own])), '42501');
  assert.equal(await count(db.pool, "SELECT 1 FROM pg_trigger WHERE tgrelid = 'public.items'::regclass AND tgname LIKE 'aqevent%'"), 5,
    'items keeps exactly the triggers of the owner\'s subscription');
  await s.query("INSERT INTO event.subscription (session_id, kind, relation_oid, target) VALUES ($1, 'table', $2, '{}')", [own, open]);
  // internals that run with the module's rights are not callable
  for (const fn of ["event._install_capture('public.items'::regclass)", "event._drop_capture_triggers('public.items'::regclass)",
    'event._uninstall_unused_capture()']) {
    assert.equal(await sqlstateOf(s.query(`SELECT ${fn}`)), '42501', fn);
  }
  const callable = await db.pool.query(`SELECT p.oid::regprocedure::text AS fn FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('event', 'meta') AND p.prosecdef
       AND (has_function_privilege($1, p.oid, 'EXECUTE') OR has_function_privilege('public', p.oid, 'EXECUTE'))
     ORDER BY 1`,
    [r.stranger.name]);
  assert.deepEqual(callable.rows.map((row) => row.fn), ['event._collect(uuid)', 'event._collect_many(uuid[])',
    'event._snapshot_taken(uuid,pg_snapshot)', 'event.listener_register()', 'event.listener_unregister()'],
  'the only SECURITY DEFINER functions users may run: the reader, the snapshot\'s end and the wake-up registry');
  // the reader passes over sessions that are not the caller's: nothing collected, the cursor stays
  await db.pool.query("INSERT INTO public.items VALUES (9001, 'n', 's')");
  const before = await one<{ c: string; p: string }>(db.pool, 'SELECT cursor::text AS c, pending::text AS p FROM event.session WHERE id = $1', [session]);
  assert.equal((await one<{ n: number }>(s, 'SELECT event._collect_many($1::uuid[]) AS n', [[session, own]])).n, 1, 'only its own session');
  assert.equal(await sqlstateOf(s.query('SELECT event._collect($1)', [session])), '42704');
  assert.deepEqual(await one(db.pool, 'SELECT cursor::text AS c, pending::text AS p FROM event.session WHERE id = $1', [session]), before);
  await db.pool.query('DELETE FROM public.items WHERE id = 9001');
  // moving a stranger's subscription's snapshot is refused as if it did not exist
  const foreign = (await one<{ id: string }>(db.pool, 'SELECT id FROM event.subscription LIMIT 1')).id;
  assert.equal(await sqlstateOf(r.stranger.pool.query('SELECT event._snapshot_taken($1, pg_current_snapshot())', [foreign])), '42704');
  // a backend registers and unregisters itself only
  const listener = await r.owner.pool.connect();
  try {
    await listener.query('SELECT event.listener_register()');
    await s.query('SELECT event.listener_unregister()');
    const pid = (await listener.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    assert.equal(await count(db.pool, 'SELECT 1 FROM event.listener WHERE pid = $1', [pid]), 1, 'another role cannot unregister it');
    assert.equal(await count(db.pool, 'SELECT 1 FROM event.listener'), 1, 'registering adds only the caller');
    await listener.query('SELECT event.listener_unregister()');
  } finally {
    listener.release();
  }
  // limits are the admin's
  assert.equal(await sqlstateOf(s.query("UPDATE event.settings SET value = 1 WHERE name = 'max_pending_per_session'")), '42501');
  await rolledBack(r.admin.pool, async (c) => {
    const changed = await c.query("UPDATE event.settings SET value = 1 WHERE name = 'max_pending_per_session'");
    assert.equal(changed.rowCount, 1);
  });
  await s.query('SELECT event.session_delete($1)', [own]);
});

test('subscribing needs the owner\'s SELECT right on the table or the column', async () => {
  const o = r.owner.pool;
  const own = (await one<{ id: string }>(o, 'SELECT event.session_create() AS id')).id;
  const table = await o.query(`SELECT event.subscribe_table($1, ${relation('cols')})`, [own]).catch((e) => e);
  assert.equal(table.code, '42501');
  assert.match(table.message, /may not SELECT from public\.cols/);
  const hidden = await o.query("SELECT event.subscribe_column($1, meta.column_id('public', 'cols', 'hidden'))", [own]).catch((e) => e);
  assert.equal(hidden.code, '42501');
  assert.match(hidden.message, /column hidden of public\.cols/);
  assert.equal(await sqlstateOf(o.query(
    "SELECT event.subscribe_field($1, meta.field_id('public', 'cols', 'id', '1', 'hidden'))", [own])), '42501');
  await o.query("SELECT event.subscribe_column($1, meta.column_id('public', 'cols', 'visible'))", [own]);
  await o.query("SELECT event.subscribe_field($1, meta.field_id('public', 'cols', 'id', '1', 'visible'))", [own]);
  await r.writer.pool.query("INSERT INTO public.cols VALUES (1, 'v', 'h')");
  await r.writer.pool.query("UPDATE public.cols SET visible = 'v2', hidden = 'h2' WHERE id = 1");
  const events = await o.query(`SELECT event FROM event.pending_event WHERE session_id = $1 ORDER BY id`, [own]);
  const text = JSON.stringify(events.rows);
  assert.doesNotMatch(text, /"h2?"/, 'the hidden column never appears');
  assert.deepEqual(events.rows.map((e) => [e.event.operation, Object.keys(e.event.payload ?? {})]), [
    ['row_insert', ['id', 'visible']],
    ['field_update', ['visible']],
    ['field_update', ['visible']],
  ]);
  await o.query('SELECT event.session_delete($1)', [own]);
});

test('events carry only what the owner may read now; a revoked privilege stops them', async () => {
  const o = r.owner.pool;
  const own = (await one<{ id: string }>(o, 'SELECT event.session_create() AS id')).id;
  await o.query(`SELECT event.subscribe_table($1, ${relation('items')})`, [own]);
  await o.query("SELECT event.subscribe_row($1, meta.row_id('public', 'items', 'id', '2'))", [own]);
  const events = async () => (await o.query('SELECT event FROM event.pending_event WHERE session_id = $1 ORDER BY id', [own])).rows
    .map((row) => row.event as { operation: string; subscription_type: string; payload: Record<string, unknown> | null });
  try {
    await db.pool.query(`REVOKE SELECT ON public.items FROM ${r.owner.sql}; GRANT SELECT (id, name) ON public.items TO ${r.owner.sql}`);
    await r.writer.pool.query("INSERT INTO public.items VALUES (3, 'three', 'top secret')");
    await r.writer.pool.query("UPDATE public.items SET secret = 'changed', name = 'deux' WHERE id = 2");
    const seen = await events();
    assert.doesNotMatch(JSON.stringify(seen), /secret"|top secret|changed/);
    const stored = await o.query('SELECT new_row, old_row FROM event.inbox WHERE session_id = $1', [own]);
    assert.ok(stored.rowCount! > 0, 'the events are stored rows');
    assert.doesNotMatch(JSON.stringify(stored.rows), /secret|changed/, 'stored rows hold only what the owner may read');
    assert.equal(await sqlstateOf(o.query('SELECT count(*) FROM event.change')), '42501', 'and the change log is not readable');
    assert.deepEqual(seen.map((e) => [e.operation, e.subscription_type, Object.keys(e.payload ?? {})]), [
      ['row_insert', 'table', ['id', 'name']],
      ['field_update', 'table', ['name']],
      ['field_update', 'row', ['name']],
    ]);
    await db.pool.query(`REVOKE SELECT ON public.items FROM ${r.owner.sql}`);
    await r.writer.pool.query("UPDATE public.items SET name = 'zwei' WHERE id = 2");
    await r.writer.pool.query('DELETE FROM public.items WHERE id = 3');
    assert.equal((await events()).length, 3, 'no events after the revoke');
  } finally {
    await db.pool.query(`GRANT SELECT ON public.items TO ${r.owner.sql}`);
    await o.query('SELECT event.session_delete($1)', [own]);
  }
});

test('a table with row-level security delivers only what the policies show, and one that gains it later shows nothing without a policy', async () => {
  const o = r.owner.pool;
  const own = (await one<{ id: string }>(o, 'SELECT event.session_create() AS id')).id;
  await o.query(`SELECT event.subscribe_table($1, ${relation('guarded')})`, [own]);
  await db.pool.query(`INSERT INTO public.guarded VALUES (1, '${r.owner.name}'), (2, 'someone else')`);
  const guarded = await o.query("SELECT event->'row_id'->>'pk_value' AS id FROM event.pending_event WHERE session_id = $1", [own]);
  assert.deepEqual(guarded.rows.map((row) => row.id), ['1']);
  await o.query('SELECT event.session_delete($1)', [own]);
  const other = (await one<{ id: string }>(o, 'SELECT event.session_create() AS id')).id;
  await db.pool.query(`GRANT SELECT ON public.open TO ${r.owner.sql}`);
  await o.query(`SELECT event.subscribe_table($1, ${relation('open')})`, [other]);
  try {
    await db.pool.query('ALTER TABLE public.open ENABLE ROW LEVEL SECURITY');
    await r.writer.pool.query("INSERT INTO public.open VALUES (1, 'hidden by RLS')").catch(() => {});
    await db.pool.query("INSERT INTO public.open VALUES (2, 'hidden by RLS')");
    assert.equal(await count(o, 'SELECT 1 FROM event.pending_event WHERE session_id = $1', [other]), 0);
  } finally {
    await db.pool.query('ALTER TABLE public.open DISABLE ROW LEVEL SECURITY');
    await o.query('SELECT event.session_delete($1)', [other]);
  }
});

test('a writer with no privilege on the event schema writes, and its events are queued', async () => {
  const w = r.writer.pool;
  const privileges = await one<Record<string, boolean>>(db.pool,
    "SELECT has_schema_privilege($1, 'event', 'USAGE') AS event_usage, pg_has_role($1, 'aqevent_user', 'MEMBER') AS user_role",
    [r.writer.name]);
  assert.deepEqual(privileges, { event_usage: false, user_role: false });
  const before = await count(r.owner.pool, 'SELECT 1 FROM event.pending_event WHERE session_id = $1', [session]);
  const client = await w.connect();
  try {
    await client.query('BEGIN');
    await client.query("INSERT INTO public.items VALUES (10, 'ten', 'x')");
    await client.query("UPDATE public.items SET name = 'TEN' WHERE id = 10");
    await client.query('DELETE FROM public.items WHERE id = 10');
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  const after = await r.owner.pool.query('SELECT event->>\'operation\' AS op FROM event.pending_event WHERE session_id = $1 ORDER BY id', [session]);
  assert.deepEqual(after.rows.slice(before).map((row) => row.op), ['row_insert', 'field_update', 'row_delete']);
  assert.equal(await sqlstateOf(w.query('SELECT count(*) FROM event.queue')), '42501', 'but cannot read events');
  assert.equal(await sqlstateOf(w.query('SELECT count(*) FROM event.inbox')), '42501', 'nor the inbox');
  assert.equal(await sqlstateOf(w.query('SELECT count(*) FROM event.change')), '42501', 'nor the change log');
});

// event._collect(uuid) is SECURITY DEFINER and granted to aqevent_user: it must refuse a caller that may not
// use the session, or a stranger who knows a session id could hold its row lock (the owner's reads wait).
test('the reader collects only for sessions the caller may use', async () => {
  assert.equal(await sqlstateOf(r.stranger.pool.query('SELECT event._collect($1)', [session])), '42704');
  await rolledBack(r.stranger.pool, async (c) => {
    await c.query('SELECT event._collect($1)', [session]).catch(() => {});
    const owner = await r.owner.pool.connect();
    try {
      await owner.query("SET statement_timeout = '2s'");
      await owner.query('SELECT count(*) FROM event.peek($1, 10)', [session]); // must not wait for the stranger
    } finally {
      await owner.query('RESET statement_timeout');
      owner.release();
    }
  });
});
