// Row-level security on every event: each tenant's role receives only the
// rows its policies let it see, DELETE included; policies and filters run as
// the subscriber, never as the event system's owner.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession, queued, type QueuedEvent } from './support/events.js';
import { createRoles, endRoles, type TestRole } from './support/roles.js';

let db: TestDatabase;
let r: Record<'a' | 'b' | 'c' | 'writer' | 'mallory', TestRole>;
before(async () => {
  db = await createTestDatabase();
  r = await createRoles(db, ['a', 'b', 'c', 'writer', 'mallory'] as const);
  await db.pool.query(`
    CREATE TABLE public.doc (id int PRIMARY KEY, tenant text NOT NULL, body text);
    ALTER TABLE public.doc ENABLE ROW LEVEL SECURITY;
    CREATE TABLE public.tenant_of (role_name name PRIMARY KEY, tenant text NOT NULL);
    INSERT INTO public.tenant_of VALUES ('${r.a.name}', 'A'), ('${r.b.name}', 'B'), ('${r.c.name}', 'C');
    CREATE POLICY by_tenant ON public.doc FOR SELECT
      USING (tenant = (SELECT t.tenant FROM public.tenant_of t WHERE t.role_name = current_user));
    CREATE POLICY writers ON public.doc TO ${r.writer.sql} USING (true) WITH CHECK (true);
    GRANT SELECT ON public.tenant_of TO PUBLIC;
    GRANT SELECT ON public.doc TO ${r.a.sql}, ${r.b.sql}, ${r.c.sql}, ${r.mallory.sql};
    GRANT SELECT, INSERT, UPDATE, DELETE ON public.doc TO ${r.writer.sql};
    GRANT aqevent_user TO ${r.a.sql}, ${r.b.sql}, ${r.c.sql}, ${r.mallory.sql};
    SELECT event.enable_capture('public.doc');`);
});
after(async () => {
  await endRoles(r);
  await db.drop();
});

const tenants = (events: QueuedEvent[]) => events.map((e) => [e.operation, e.row_id.pk_value, e.reason ?? null]);

test('three tenants: each role receives only its own tenant\'s INSERT, UPDATE and DELETE', async () => {
  const sessions: Record<string, string> = {};
  for (const key of ['a', 'b', 'c'] as const) {
    sessions[key] = await newSession(r[key].pool);
    await r[key].pool.query("SELECT event.subscribe_table($1, 'public.doc'::regclass)", [sessions[key]]);
  }
  await r.writer.pool.query(`
    INSERT INTO public.doc VALUES (1, 'A', 'a1'), (2, 'B', 'b1'), (3, 'C', 'c1'), (4, 'A', 'a2');
    UPDATE public.doc SET body = 'a1!' WHERE id = 1;
    UPDATE public.doc SET body = 'b1!' WHERE id = 2;
    UPDATE public.doc SET tenant = 'B' WHERE id = 4;   -- moves from A to B
    DELETE FROM public.doc WHERE id = 3;
    DELETE FROM public.doc WHERE id = 2;`);
  const seen: Record<string, unknown> = {};
  for (const key of ['a', 'b', 'c'] as const) seen[key] = tenants(await queued(r[key].pool, sessions[key]!));
  assert.deepEqual(seen, {
    a: [['row_insert', '1', null], ['row_insert', '4', null], ['field_update', '1', null], ['row_delete', '4', 'filter']],
    b: [['row_insert', '2', null], ['field_update', '2', null], ['row_insert', '4', 'filter'], ['row_delete', '2', null]],
    c: [['row_insert', '3', null], ['row_delete', '3', null]],
  });
  // the admin reading a tenant's session gets that tenant's view, not its own
  const adminView = await db.pool.query("SELECT count(*)::int AS n FROM event.fetch_events($1, 100, '1 minute')", [sessions.c]);
  assert.equal(adminView.rows[0].n, 2);
});

test('a REVOKE stops delivery of events not yet read', async () => {
  const session = await newSession(r.a.pool);
  await r.a.pool.query("SELECT event.subscribe_table($1, 'public.doc'::regclass)", [session]);
  await r.writer.pool.query("INSERT INTO public.doc VALUES (10, 'A', 'before the revoke')");
  await db.pool.query(`REVOKE SELECT ON public.doc FROM ${r.a.sql}`);
  try {
    await r.writer.pool.query("INSERT INTO public.doc VALUES (11, 'A', 'after the revoke')");
    const events = await queued(r.a.pool, session);
    assert.deepEqual(events.map((e) => e.row_id.pk_value), []);
  } finally {
    await db.pool.query(`GRANT SELECT ON public.doc TO ${r.a.sql}`);
  }
});

test('a policy changed later decides the events read after it', async () => {
  const session = await newSession(r.c.pool);
  await r.c.pool.query("SELECT event.subscribe_table($1, 'public.doc'::regclass)", [session]);
  await db.pool.query(`CREATE POLICY c_sees_a ON public.doc FOR SELECT TO ${r.c.sql} USING (tenant = 'A')`);
  try {
    await r.writer.pool.query("INSERT INTO public.doc VALUES (20, 'A', 'now visible to c'), (21, 'B', 'not')");
    assert.deepEqual((await queued(r.c.pool, session)).map((e) => e.row_id.pk_value), ['20']);
  } finally {
    await db.pool.query('DROP POLICY c_sees_a ON public.doc');
  }
});

test('hostile subscriber: its filter and its tampered checker never run as anyone but itself', async () => {
  const m = r.mallory;
  await db.pool.query(`CREATE SCHEMA mallory AUTHORIZATION ${m.sql}`);
  // an "immutable" function that tries to make its caller a superuser
  await m.pool.query(`
    CREATE FUNCTION mallory.boost(v text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
      EXECUTE format('ALTER ROLE %I SUPERUSER', '${m.name}');
      RETURN true;
    END $$;`);
  const session = await newSession(m.pool);
  await m.pool.query("SELECT event.subscribe_table($1, 'public.doc'::regclass, filter => 'mallory.boost(body)')", [session]);
  const checker = (await db.pool.query(
    "SELECT p.oid::regprocedure::text AS fn FROM pg_proc p JOIN event.subscription s ON p.proname = 'check_' || replace(s.id::text, '-', '') WHERE s.session_id = $1",
    [session])).rows[0].fn;
  // the owner of the checker flips it to run as its caller
  await m.pool.query(`ALTER FUNCTION ${checker} SECURITY INVOKER`);
  await r.writer.pool.query("INSERT INTO public.doc VALUES (30, 'A', 'x')");
  // read by a superuser (the admin), and by mallory
  await db.pool.query("SELECT * FROM event.fetch_events($1, 100, '1 minute')", [session]);
  await m.pool.query("SELECT * FROM event.fetch_events($1, 100, '1 minute')", [session]).catch(() => undefined);
  const role = (await db.pool.query('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [m.name])).rows[0];
  assert.equal(role.rolsuper, false, 'mallory became a superuser');
  const remade = (await db.pool.query('SELECT prosecdef FROM pg_proc WHERE oid = $1::regprocedure', [checker])).rows[0];
  assert.equal(remade.prosecdef, true, 'the checker was made again as it should be');
});
