/**
 * NOTIFY is not access-controlled: any role may LISTEN on any channel. So a
 * notification carries no data at all: writers notify the channel "aqevent"
 * with the oid of the changed table, and only while a reader is registered.
 * These tests show what a listener without any right hears.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createRoles, endRoles, eventually, sqlstateOf, type TestRole } from './support/roles.js';
import { LISTEN_SQL } from '../src/db/wake.js';

let db: TestDatabase;
let r: Record<'owner' | 'eavesdropper', TestRole>;
let session: string;
const clients: pg.Client[] = [];

/** A plain LISTEN (no registration: any role can do this much). */
async function listen(role: TestRole): Promise<string[]> {
  const client = new pg.Client({ connectionString: role.url });
  await client.connect();
  clients.push(client);
  const received: string[] = [];
  client.on('notification', (n) => {
    received.push(`${n.channel}:${n.payload}`);
  });
  await client.query('LISTEN aqevent');
  return received;
}

/** The owner's reader, registered so that writers notify. */
async function register(role: TestRole): Promise<void> {
  const client = new pg.Client({ connectionString: role.url });
  await client.connect();
  clients.push(client);
  await client.query(LISTEN_SQL);
}

before(async () => {
  db = await createTestDatabase();
  r = await createRoles(db, ['owner', 'eavesdropper'] as const);
  await db.pool.query(`
    GRANT aqevent_user TO ${r.owner.sql};
    CREATE TABLE public.notes (id int PRIMARY KEY, body text);
    GRANT SELECT ON public.notes TO ${r.owner.sql};
    SELECT event.enable_capture('public.notes');`);
  session = (await r.owner.pool.query('SELECT event.session_create() AS id')).rows[0].id;
  await r.owner.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'notes'))", [session]);
});

after(async () => {
  await Promise.all(clients.map((c) => c.end()));
  await endRoles(r);
  await db.drop();
});

test('a listener without any right hears the oid of the changed table, never its data', async () => {
  await register(r.owner);
  const heard = await listen(r.eavesdropper);
  const oid = (await db.pool.query("SELECT 'public.notes'::regclass::oid::text AS oid")).rows[0].oid;
  await db.pool.query("INSERT INTO public.notes VALUES (1, 'confidential')");
  await db.pool.query(`INSERT INTO public.notes SELECT g, 'bulk' FROM generate_series(100, 250) g`);
  await eventually(async () => (heard.length >= 2 ? heard : undefined), 'two wake-ups');
  assert.deepEqual(heard, [`aqevent:${oid}`, `aqevent:${oid}`]);
  assert.equal(await sqlstateOf(r.eavesdropper.pool.query('SELECT * FROM event.queue')), '42501',
    'while the queue itself is closed to it');
  const { rows } = await r.owner.pool.query("SELECT event FROM event.queue WHERE session_id = $1 AND event->>'operation' = 'row_insert' ORDER BY id LIMIT 1", [session]);
  assert.equal(rows[0].event.payload.body, 'confidential', 'the owner reads the data through the checked queue');
});

test("'id' mode, kept for compatibility, changes nothing: no mode puts data in a notification", async () => {
  await r.owner.pool.query("SELECT event.session_set_notify_payload($1, 'id')", [session]);
  const heard = await listen(r.eavesdropper);
  await db.pool.query("INSERT INTO public.notes VALUES (2, 'classified')");
  await eventually(async () => (heard.length >= 1 ? heard : undefined), 'a wake-up');
  assert.doesNotMatch(JSON.stringify(heard), /classified/);
});

test('notify_payload accepts only full or id', async () => {
  const bad = await r.owner.pool.query("SELECT event.session_set_notify_payload($1, 'everything'' OR 1=1')", [session]).catch((e) => e);
  assert.equal(bad.code, '22023');
  assert.match(bad.message, /notify_payload must be 'full' or 'id'/);
  assert.equal(await sqlstateOf(r.owner.pool.query('SELECT event.session_set_notify_payload($1, NULL)', [session])), '22023');
});
