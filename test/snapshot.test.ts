// Initial snapshots: the current rows first, then every change, with
// writers committing throughout; nothing missed and nothing twice.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession, type QueuedEvent } from './support/events.js';
import { createRoles, endRoles } from './support/roles.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

async function drain(pool: pg.Pool, session: string): Promise<QueuedEvent[]> {
  const all: QueuedEvent[] = [];
  for (;;) {
    const { rows } = await pool.query<{ id: string; event: QueuedEvent }>(
      "SELECT id, event FROM event.fetch_events($1, 1000, '1 minute')", [session]);
    if (rows.length === 0) return all;
    all.push(...rows.map((row) => row.event));
    await pool.query('SELECT event.ack($1, $2::bigint[])', [session, rows.map((row) => row.id)]);
  }
}

function replay(events: QueuedEvent[]): Map<string, Record<string, unknown>> {
  const rows = new Map<string, Record<string, unknown>>();
  for (const e of events) {
    if (e.operation === 'row_insert') rows.set(e.row_id.pk_value, { ...e.payload });
    else if (e.operation === 'row_delete') rows.delete(e.row_id.pk_value);
    else if (e.operation === 'field_update') Object.assign(rows.get(e.row_id.pk_value)!, e.payload);
  }
  return rows;
}

test('snapshot plus stream, replayed onto an empty table, equals the table, with writers running throughout', async () => {
  await db.pool.query(`CREATE TABLE public.item (id int PRIMARY KEY, v int NOT NULL, label text);
                       INSERT INTO public.item SELECT g, g, 'l' || g FROM generate_series(1, 3000) g;
                       SELECT event.enable_capture('public.item');`);
  let writing = true;
  let writes = 0;
  const writer = async (seed: number) => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    let x = seed;
    const next = () => (x = (x * 1103515245 + 12345) % 2147483648);
    while (writing) {
      const id = (next() % 3500) + 1;
      const choice = next() % 3;
      if (choice === 0) await client.query('INSERT INTO public.item VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET v = excluded.v', [id, next() % 1000, `w${seed}`]);
      else if (choice === 1) await client.query('UPDATE public.item SET v = v + 1, label = $2 WHERE id = $1', [id, `u${seed}`]);
      else await client.query('DELETE FROM public.item WHERE id = $1', [id]);
      writes++;
    }
    await client.end();
  };
  const writers = [writer(1), writer(2), writer(3)];
  await new Promise((resolve) => setTimeout(resolve, 300));
  const session = await newSession(db.pool);
  const { rows } = await db.pool.query(
    "SELECT event.subscribe_table($1, 'public.item'::regclass, snapshot => true) AS id", [session]);
  await new Promise((resolve) => setTimeout(resolve, 700));
  writing = false;
  await Promise.all(writers);
  const events = await drain(db.pool, session);
  const end = events.findIndex((e) => e.operation === 'snapshot_end');
  assert.ok(end > 0, 'the end of the snapshot is an event');
  assert.ok(events.slice(0, end).every((e) => e.operation === 'row_insert' && e.snapshot === true));
  assert.ok(events.slice(end + 1).every((e) => e.snapshot === undefined));
  assert.equal(events[end]!.rows, end);
  assert.equal(events[end]!.subscription_id, rows[0].id);
  const table = await db.pool.query('SELECT id, v, label FROM public.item ORDER BY id');
  const replayed = replay(events);
  assert.equal(replayed.size, table.rows.length);
  for (const row of table.rows) assert.deepEqual(replayed.get(String(row.id)), row, `row ${row.id}`);
  assert.ok(writes > 50, `writers committed throughout (${writes} writes)`);
});

test('a snapshot honours the filter, the column list and the subscriber\'s row-level security', async () => {
  const roles = await createRoles(db, ['reader'] as const);
  try {
    const reader = roles.reader;
    await db.pool.query(`
      CREATE TABLE public.note (id int PRIMARY KEY, owner text, score int, secret text);
      INSERT INTO public.note VALUES (1, 'me', 5, 's'), (2, 'me', 50, 's'), (3, 'other', 60, 's');
      ALTER TABLE public.note ENABLE ROW LEVEL SECURITY;
      CREATE POLICY mine ON public.note FOR SELECT USING (owner = 'me');
      GRANT SELECT ON public.note TO ${reader.sql};
      GRANT aqevent_user TO ${reader.sql};
      SELECT event.enable_capture('public.note');`);
    const session = await newSession(reader.pool);
    await reader.pool.query("SELECT event.subscribe_table($1, 'public.note'::regclass, filter => 'score > 10', columns => array['score'], snapshot => true)", [session]);
    const events = await drain(reader.pool, session);
    assert.deepEqual(events.map((e) => [e.operation, e.row_id?.pk_value ?? null, e.payload ?? null]), [
      ['row_insert', '2', { score: 50 }],
      ['snapshot_end', null, null],
    ]);
  } finally {
    await endRoles(roles);
  }
});

test('columns named like the copy\'s own aliases (t, u, y, r) are copied and filtered as themselves', async () => {
  await db.pool.query(`CREATE TABLE public.odd (id int PRIMARY KEY, t text, u int, y int, r text);
                       INSERT INTO public.odd VALUES (1, 'a', 1, 2, 'x'), (2, 'b', 5, 6, 'y');`);
  const session = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, 'public.odd'::regclass, filter => 'u > 2 and t = ''b''', snapshot => true)", [session]);
  await db.pool.query("UPDATE public.odd SET u = 9, t = 'b' WHERE id = 1");
  const events = await drain(db.pool, session);
  assert.deepEqual(events.map((e) => [e.operation, e.payload ?? null, e.reason ?? null]), [
    ['row_insert', { id: 2, t: 'b', u: 5, y: 6, r: 'y' }, null],
    ['snapshot_end', null, null],
    ['row_insert', { id: 1, t: 'b', u: 9, y: 2, r: 'x' }, 'filter'],
  ]);
});

test('a large snapshot reports its progress every 100,000 rows while it copies, and its end', async () => {
  await db.pool.query(`CREATE TABLE public.many (id int PRIMARY KEY, v int);
                       INSERT INTO public.many SELECT g, g FROM generate_series(1, 100001) g;`);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const notices: Array<{ message: string }> = [];
  client.on('notice', (n) => notices.push({ message: n.message ?? '' }));
  try {
    const session = await newSession(client);
    await client.query("SELECT event.subscribe_table($1, 'public.many'::regclass, snapshot => true)", [session]);
    const mine = notices.filter((n) => n.message.startsWith('aqevent: snapshot'));
    assert.deepEqual(mine.map((n) => n.message.replace(/ \([\d.]+ s\)$/, '')), [
      'aqevent: snapshot of public.many: 100000 rows copied',
      'aqevent: snapshot of public.many: 100001 rows, complete',
    ]);
    assert.equal((await client.query('SELECT count(*)::int AS n FROM event.inbox WHERE session_id = $1', [session])).rows[0].n, 100002);
  } finally {
    await client.end();
  }
});

test('snapshot is refused for row and field grains', async () => {
  const session = await newSession(db.pool);
  await db.pool.query('CREATE TABLE public.tiny (id int PRIMARY KEY)');
  const error = await db.pool.query("SELECT event._snapshot(event.subscribe_row($1, meta.row_id('public', 'tiny', 'id', '1')))", [session])
    .catch((e) => e);
  assert.equal(error.code, '0A000');
});
