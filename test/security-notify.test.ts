/**
 * NOTIFY is not access-controlled: any role may LISTEN on a session's
 * channel. These tests show what a listener who learned a session id gets
 * in each notify_payload mode, and that 'id' mode leaves the data behind the
 * access-checked queue.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createRoles, endRoles, eventually, sqlstateOf, type TestRole } from './support/roles.js';

let db: TestDatabase;
let r: Record<'owner' | 'eavesdropper', TestRole>;
let session: string;
const clients: pg.Client[] = [];

async function listen(role: TestRole, channel: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: role.url });
  await client.connect();
  clients.push(client);
  const received: Record<string, unknown>[] = [];
  client.on('notification', (n) => {
    if (n.channel === channel) received.push(JSON.parse(n.payload ?? 'null'));
  });
  await client.query(`LISTEN "${channel}"`);
  return received;
}

before(async () => {
  db = await createTestDatabase();
  r = await createRoles(db, ['owner', 'eavesdropper'] as const);
  await db.pool.query(`
    GRANT aqevent_user TO ${r.owner.sql};
    CREATE TABLE public.notes (id int PRIMARY KEY, body text);
    GRANT SELECT ON public.notes TO ${r.owner.sql};`);
  session = (await r.owner.pool.query('SELECT event.session_create() AS id')).rows[0].id;
  await r.owner.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'notes'))", [session]);
});

after(async () => {
  await Promise.all(clients.map((c) => c.end()));
  await endRoles(r);
  await db.drop();
});

test("in 'full' mode (the default) anyone who knows the session id hears the data", async () => {
  const heard = await listen(r.eavesdropper, session);
  await db.pool.query("INSERT INTO public.notes VALUES (1, 'confidential')");
  const note = await eventually(async () => heard[0], 'a notification');
  assert.equal((note.payload as { body: string }).body, 'confidential');
  assert.equal(await sqlstateOf(r.eavesdropper.pool.query('SELECT * FROM event.queue')), '42501',
    'while the queue itself is closed to it');
});

test("in 'id' mode notifications carry only the event id and operation; the data is read through the checked queue", async () => {
  await r.owner.pool.query("SELECT event.session_set_notify_payload($1, 'id')", [session]);
  const own = await listen(r.owner, session);
  const heard = await listen(r.eavesdropper, session);
  await db.pool.query("INSERT INTO public.notes VALUES (2, 'classified')");
  await db.pool.query(`INSERT INTO public.notes SELECT g, 'bulk' FROM generate_series(100, 250) g`);
  const single = await eventually(async () => heard.find((n) => n.operation === 'row_insert'), 'the id notification');
  assert.deepEqual(Object.keys(single).sort(), ['id', 'operation']);
  const batch = await eventually(async () => heard.find((n) => n.operation === 'batch'), 'the batch notification');
  assert.deepEqual(Object.keys(batch).sort(), ['count', 'first_id', 'last_id', 'operation']);
  assert.doesNotMatch(JSON.stringify(heard), /classified|bulk/);
  const mine = await eventually(async () => own.find((n) => n.operation === 'row_insert'), 'the owner\'s notification');
  const { rows } = await r.owner.pool.query('SELECT event FROM event.pending_event WHERE session_id = $1 AND id = $2', [session, mine.id]);
  assert.equal(rows[0].event.payload.body, 'classified');
  assert.equal(await sqlstateOf(r.eavesdropper.pool.query('SELECT event FROM event.pending_event WHERE id = $1', [single.id])), '42501');
});

test('notify_payload accepts only full or id', async () => {
  const bad = await r.owner.pool.query("SELECT event.session_set_notify_payload($1, 'everything'' OR 1=1')", [session]).catch((e) => e);
  assert.equal(bad.code, '22023');
  assert.match(bad.message, /notify_payload must be 'full' or 'id'/);
  assert.equal(await sqlstateOf(r.owner.pool.query('SELECT event.session_set_notify_payload($1, NULL)', [session])), '22023');
});
