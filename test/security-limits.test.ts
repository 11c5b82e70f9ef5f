/**
 * Caps against abuse: subscriptions per session (an error for the
 * subscriber) and pending events per session (never an error for a writer:
 * the session overflows, visibly, with one marker event).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { clearInbox, listen, oidOf } from './support/events.js';
import { createRoles, endRoles, sqlstateOf, type TestRole } from './support/roles.js';

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
  const listener = await listen(r.owner.url);
  const table = await oidOf(db.pool, 'public.t');
  try {
    await w.query("INSERT INTO public.t SELECT g, 'a' FROM generate_series(1, 3) g");
    assert.deepEqual(await listener.next(1), [table], 'a wake-up with the table only');
    assert.equal((await queued(session)).length, 3);
    await clearInbox(o, healthy); // keep the healthy one under the cap
    const result = await w.query("INSERT INTO public.t SELECT g, 'b' FROM generate_series(4, 6) g");
    assert.equal(result.rowCount, 3, 'the writer is not affected');
    // the wake-up is the same whatever the sessions' state: the reader finds the marker when it reads
    assert.deepEqual(await listener.next(1), [table], 'the overflowing statement wakes readers like any other');
    const events = await queued(session);
    assert.deepEqual(events.map((e) => e.operation), ['row_insert', 'row_insert', 'row_insert', 'overflow'],
      'the statement that would pass the cap queues none of its events, and one marker');
    assert.equal((await queued(healthy)).length, 3, 'another session of the same table is not affected');
    let state = await info(session);
    const pending = async (id: string) =>
      Number((await db.pool.query('SELECT pending FROM event.session WHERE id = $1', [id])).rows[0].pending);
    assert.equal(await pending(session), 4, 'pending counts the three events and the marker');
    assert.equal(await pending(healthy), 3);
    assert.ok(state.overflowed_at instanceof Date);
    assert.equal(String(state.overflow_event_id), events[3]!.id);
    assert.equal(Number(state.events_dropped), 3);
    const marker = (await r.owner.pool.query("SELECT event FROM event.peek($1, 10) WHERE event->>'operation' = 'overflow'",
      [session])).rows[0].event;
    assert.deepEqual([String(marker.id), marker.max_pending, marker.events_dropped], [events[3]!.id, 5, 3]);

    // still overflowed after the consumer catches up: nothing is queued until it resumes
    await clearInbox(o, session);
    await w.query("UPDATE public.t SET v = 'c' WHERE id = 1");
    assert.deepEqual(await queued(session), []);
    assert.ok((await info(session)).overflowed_at instanceof Date, 'still overflowed');
    // (events_dropped while overflowed and after resume: the todo test below)

    await o.query('SELECT event.session_resume($1)', [session]);
    state = await info(session);
    assert.equal(state.overflowed_at, null);
    await w.query("UPDATE public.t SET v = 'd' WHERE id = 1");
    assert.deepEqual((await queued(session)).map((e) => e.operation), ['field_update']);
  } finally {
    await listener.close();
    await o.query('SELECT event.session_delete($1)', [session]);
    await o.query('SELECT event.session_delete($1)', [healthy]);
    await db.pool.query('DELETE FROM public.t');
  }
});

// Known bug (reported to the lead): while overflowed, event._collect moves the cursor past what it refuses
// without adding it to events_dropped, and event.session_resume does not reset the count (docs/security.md:
// "the refused rows are counted in events_dropped … until the consumer calls event.session_resume").
test('refused events are counted while overflowed, and resuming starts afresh', async () => {
  const session = await newSession();
  await r.owner.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 't'))", [session]);
  try {
    await r.writer.pool.query("INSERT INTO public.t SELECT g, 'x' FROM generate_series(1, 6) g");
    assert.deepEqual((await queued(session)).map((e) => e.operation), ['overflow']);
    assert.equal(Number((await info(session)).events_dropped), 6);
    await r.writer.pool.query("UPDATE public.t SET v = 'c' WHERE id = 1");
    assert.deepEqual((await queued(session)).map((e) => e.operation), ['overflow']);
    assert.equal(Number((await info(session)).events_dropped), 7, 'the refused field_update is counted');
    await r.owner.pool.query('SELECT event.session_resume($1)', [session]);
    assert.equal(Number((await info(session)).events_dropped), 0);
  } finally {
    await r.owner.pool.query('SELECT event.session_delete($1)', [session]);
    await db.pool.query('DELETE FROM public.t');
  }
});

test('events moved back into an overflowed queue by its consumer are kept', async () => {
  const session = await newSession();
  const sub = (await r.owner.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 't')) AS id", [session])).rows[0].id;
  await r.writer.pool.query("INSERT INTO public.t SELECT g, 'x' FROM generate_series(1, 6) g");
  assert.deepEqual((await queued(session)).map((e) => e.operation), ['overflow'], 'the reader met the cap');
  assert.ok((await info(session)).overflowed_at instanceof Date);
  // as requeue does: an event of an earlier transaction, with its JSON, inserted by the consumer itself
  await r.owner.pool.query(`INSERT INTO event.inbox (session_id, id, subscription_id, operation, event, created_at)
    VALUES ($1, nextval('event.event_id_seq'), $2, 'row_insert', '{"operation": "row_insert", "transaction_id": 1}', now())`,
    [session, sub]);
  assert.deepEqual((await queued(session)).map((e) => e.operation), ['overflow', 'row_insert']);
  await r.owner.pool.query('SELECT event.session_delete($1)', [session]);
  await db.pool.query('DELETE FROM public.t');
});

test('a writer never waits for, nor fails because of, the overflow bookkeeping', async () => {
  const session = await newSession();
  await r.owner.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 't'))", [session]);
  await r.writer.pool.query("INSERT INTO public.t SELECT g, 'x' FROM generate_series(1, 5) g");
  const holder = await db.pool.connect();
  const writer = await r.writer.pool.connect();
  try {
    // the writer touches no session state: it commits while every session table is locked
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE event.session, event.subscription, event.inbox IN ACCESS EXCLUSIVE MODE');
    await writer.query("SET statement_timeout = '5s'");
    await writer.query("INSERT INTO public.t VALUES (6, 'y')");
    await holder.query('COMMIT');

    // a REPEATABLE READ writer meeting a concurrent update of the session row still commits
    await writer.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await writer.query('SELECT 1 FROM public.t LIMIT 1');
    await r.owner.pool.query('SELECT event.session_attach($1)', [session]);
    await r.owner.pool.query('SELECT count(*) FROM event.peek($1, 1)', [session]); // the reader collects meanwhile
    await writer.query("INSERT INTO public.t VALUES (7, 'z')");
    await writer.query('COMMIT');
    assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM public.t')).rows[0].n, 7);
    // the cap is the reader's: 6 collected at once would pass 5, so none of them, one marker
    const state = await info(session);
    assert.ok(state.overflowed_at instanceof Date);
    assert.deepEqual((await queued(session)).map((e) => e.operation), ['overflow']);
    assert.equal(Number((await info(session)).events_dropped), 7, 'the 6 at the overflow, and the 7th refused after it');
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
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
  assert.deepEqual((await queued(session)).map((e) => e.operation), ['overflow']);
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
