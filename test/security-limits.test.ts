/**
 * Caps against abuse: subscriptions per session (an error for the
 * subscriber) and pending events per session (never an error for a writer:
 * the session overflows, visibly, with one marker event).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { clearInbox } from './support/events.js';
import { createRoles, endRoles, eventually, sqlstateOf, type TestRole } from './support/roles.js';

let db: TestDatabase;
let r: Record<'owner' | 'writer', TestRole>;

async function newSession(): Promise<string> {
  return (await r.owner.pool.query('SELECT event.session_create() AS id')).rows[0].id as string;
}

async function queued(session: string): Promise<{ id: string; operation: string }[]> {
  const { rows } = await r.owner.pool.query(
    "SELECT id, event->>'operation' AS operation FROM event.pending_event WHERE session_id = $1 ORDER BY id", [session]);
  return rows;
}

async function info(session: string) {
  return (await r.owner.pool.query('SELECT * FROM event.session_info($1)', [session])).rows[0];
}

before(async () => {
  db = await createTestDatabase();
  r = await createRoles(db, ['owner', 'writer'] as const);
  await db.pool.query(`
    GRANT aqevent_user TO ${r.owner.sql};
    CREATE TABLE public.t (id int PRIMARY KEY, v text);
    GRANT SELECT ON public.t TO ${r.owner.sql};
    GRANT SELECT, INSERT, UPDATE, DELETE ON public.t TO ${r.writer.sql};
    SELECT event.enable_capture('public.t');
    UPDATE event.settings SET value = 2 WHERE name = 'max_subscriptions_per_session';
    UPDATE event.settings SET value = 5 WHERE name = 'max_pending_per_session';`);
});

after(async () => {
  await endRoles(r);
  await db.drop();
});

test('subscribing beyond max_subscriptions_per_session is an error and creates nothing', async () => {
  const o = r.owner.pool;
  const session = await newSession();
  await o.query("SELECT event.subscribe_table($1, meta.relation_id('public', 't'))", [session]);
  const row1 = (await o.query("SELECT event.subscribe_row($1, meta.row_id('public', 't', 'id', '1')) AS id", [session])).rows[0].id;
  const again = (await o.query("SELECT event.subscribe_row($1, meta.row_id('public', 't', 'id', '1')) AS id", [session])).rows[0].id;
  assert.equal(again, row1, 'an existing subscription is found at the cap');
  const refused = await o.query("SELECT event.subscribe_row($1, meta.row_id('public', 't', 'id', '2'))", [session]).catch((e) => e);
  assert.equal(refused.code, '54000');
  assert.match(refused.message, new RegExp(`session "${session}" may have at most 2 subscriptions`));
  assert.equal(await sqlstateOf(o.query(
    "INSERT INTO event.subscription (session_id, kind, relation_oid, target, pk_values) VALUES ($1, 'row', 'public.t'::regclass, '{}', '{3}')",
    [session])), '54000', 'a direct INSERT is capped too');
  assert.equal(Number((await info(session)).subscriptions), 2);
  await o.query('SELECT event.session_delete($1)', [session]);
});

test('at max_pending_per_session a session overflows: writers succeed, one marker, nothing queued until resumed', async () => {
  const o = r.owner.pool;
  const w = r.writer.pool;
  const session = await newSession();
  const healthy = await newSession();
  await o.query("SELECT event.subscribe_table($1, meta.relation_id('public', 't'))", [session]);
  await o.query("SELECT event.subscribe_table($1, meta.relation_id('public', 't'))", [healthy]);
  const listener = new pg.Client({ connectionString: r.owner.url });
  await listener.connect();
  const notes: string[] = [];
  listener.on('notification', (n) => { if (n.channel === session) notes.push(n.payload ?? ''); });
  await listener.query(`LISTEN "${session}"`);
  try {
    await w.query("INSERT INTO public.t SELECT g, 'a' FROM generate_series(1, 3) g");
    assert.equal((await queued(session)).length, 3);
    await clearInbox(o, healthy); // keep the healthy one under the cap
    const result = await w.query("INSERT INTO public.t SELECT g, 'b' FROM generate_series(4, 6) g");
    assert.equal(result.rowCount, 3, 'the writer is not affected');
    const events = await queued(session);
    assert.deepEqual(events.map((e) => e.operation), ['row_insert', 'row_insert', 'row_insert', 'overflow'],
      'the statement that would pass the cap queues none of its events, and one marker');
    assert.equal((await queued(healthy)).length, 3, 'another session of the same table is not affected');
    let state = await info(session);
    assert.ok(state.overflowed_at instanceof Date);
    assert.equal(String(state.overflow_event_id), events[3]!.id);
    assert.equal(Number(state.events_dropped), 3);
    const marker = await eventually(async () => notes.map((p) => JSON.parse(p)).find((p) => p.operation === 'overflow'),
      'the overflow notification');
    assert.equal(String(marker.id), events[3]!.id);

    // still overflowed after the consumer catches up: nothing is queued until it resumes
    await clearInbox(o, session);
    await w.query("UPDATE public.t SET v = 'c' WHERE id = 1");
    assert.deepEqual(await queued(session), []);
    state = await info(session);
    assert.equal(Number(state.events_dropped), 4);

    await o.query('SELECT event.session_resume($1)', [session]);
    state = await info(session);
    assert.equal(state.overflowed_at, null);
    assert.equal(Number(state.events_dropped), 0);
    await w.query("UPDATE public.t SET v = 'd' WHERE id = 1");
    assert.deepEqual((await queued(session)).map((e) => e.operation), ['field_update']);
  } finally {
    await listener.end();
    await o.query('SELECT event.session_delete($1)', [session]);
    await o.query('SELECT event.session_delete($1)', [healthy]);
    await db.pool.query('DELETE FROM public.t');
  }
});

test('events moved back into an overflowed queue by its consumer are kept', async () => {
  const session = await newSession();
  const sub = (await r.owner.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 't')) AS id", [session])).rows[0].id;
  await r.writer.pool.query("INSERT INTO public.t SELECT g, 'x' FROM generate_series(1, 6) g");
  assert.ok((await info(session)).overflowed_at instanceof Date);
  // as a requeue would: an event of an earlier transaction, inserted by the module's owner
  await db.pool.query(`INSERT INTO event.queue (id, session_id, subscription_id, event)
    VALUES (nextval('event.queue_id_seq'), $1, $2, '{"operation": "row_insert", "transaction_id": 1}')`, [session, sub]);
  assert.deepEqual((await queued(session)).map((e) => e.operation), ['overflow', 'row_insert']);
  await r.owner.pool.query('SELECT event.session_delete($1)', [session]);
  await db.pool.query('DELETE FROM public.t');
});

test('a writer never waits for, nor fails because of, the overflow bookkeeping', async () => {
  const session = await newSession();
  await r.owner.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 't'))", [session]);
  await r.writer.pool.query("INSERT INTO public.t SELECT g, 'x' FROM generate_series(1, 5) g");
  const holder = await r.owner.pool.connect();
  const writer = await r.writer.pool.connect();
  try {
    // another transaction holds the session row: the writer does not wait for it
    await holder.query('BEGIN');
    await holder.query('SELECT event.session_attach($1)', [session]);
    await writer.query("SET statement_timeout = '5s'");
    await writer.query("INSERT INTO public.t VALUES (6, 'y')");
    await holder.query('COMMIT');
    assert.equal((await queued(session)).length, 6, 'queued rather than waited (the cap is exceeded a little)');

    // a REPEATABLE READ writer meeting a concurrent update of the session row still commits
    const warnings: string[] = [];
    writer.on('notice', (notice) => warnings.push(notice.message ?? ""));
    await writer.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await writer.query('SELECT 1 FROM public.t LIMIT 1');
    await holder.query('SELECT event.session_attach($1)', [session]);
    await writer.query("INSERT INTO public.t VALUES (7, 'z')");
    await writer.query('COMMIT');
    assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM public.t')).rows[0].n, 7);
    assert.ok(warnings.some((m) => /pending-event limit not applied/.test(m)), 'the skipped limit is reported');
    assert.equal((await queued(session)).length, 7);
  } finally {
    holder.release();
    writer.release();
    await r.owner.pool.query('SELECT event.session_delete($1)', [session]);
    await db.pool.query('DELETE FROM public.t');
  }
});

test('an overflowed session refuses events even while its row is busy, without making writers wait', async () => {
  const session = await newSession();
  await r.owner.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 't'))", [session]);
  await r.writer.pool.query("INSERT INTO public.t SELECT g, 'x' FROM generate_series(1, 6) g");
  assert.ok((await info(session)).overflowed_at instanceof Date);
  const holder = await r.owner.pool.connect();
  const writer = await r.writer.pool.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT event.session_attach($1)', [session]);
    await writer.query("SET statement_timeout = '5s'");
    await writer.query("UPDATE public.t SET v = 'busy'");
    await holder.query('COMMIT');
    assert.deepEqual((await queued(session)).map((e) => e.operation), ['overflow']);
    assert.ok(Number((await info(session)).events_dropped) >= 6, 'counted at least the first refusal');
  } finally {
    holder.release();
    writer.release();
    await r.owner.pool.query('SELECT event.session_delete($1)', [session]);
    await db.pool.query('DELETE FROM public.t');
  }
});
