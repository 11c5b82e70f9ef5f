// event.peek_many: many sessions collected in one pass and read in one call
// give each session exactly what event.peek gives it alone (no event crosses
// to another session, caps stay per session), with clear errors for bad input.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createRoles, endRoles, sqlstateOf, type TestRole } from './support/roles.js';

let db: TestDatabase;
let roles: Record<'alice' | 'bob', TestRole>;
before(async () => {
  db = await createTestDatabase();
  roles = await createRoles(db, ['alice', 'bob'] as const);
  await db.pool.query(`GRANT aqevent_user TO ${roles.alice.sql}, ${roles.bob.sql};
    CREATE TABLE public.pm (id int PRIMARY KEY, a text, b text);
    CREATE TABLE public.other (id int PRIMARY KEY, x int);
    GRANT SELECT ON public.pm, public.other TO ${roles.alice.sql}, ${roles.bob.sql};
    SELECT event.enable_capture('public.pm'); SELECT event.enable_capture('public.other')`);
});
after(async () => {
  await endRoles(roles);
  await db.drop();
});

type Setup = (role: TestRole, session: string) => Promise<void>;
const sub = (sql: string): Setup => async (role, session) => {
  await role.pool.query(sql, [session]);
};

/** Four kinds of session: several grains, a filter, a column list, a column the owner may no longer read (bob's). */
const kinds: Array<{ role: 'alice' | 'bob'; setup: Setup[] }> = [
  { role: 'alice', setup: [sub("SELECT event.subscribe_table($1, meta.relation_id('public', 'pm'))"),
    sub("SELECT event.subscribe_column($1, meta.column_id('public', 'other', 'x'))")] },
  { role: 'bob', setup: [sub("SELECT event.subscribe_table($1, meta.relation_id('public', 'pm'))"),
    sub("SELECT event.subscribe_row($1, meta.row_id('public', 'pm', 'id', '2'))")] },
  { role: 'alice', setup: [sub("SELECT event.subscribe_table($1, meta.relation_id('public', 'pm'), filter => 'a = ''keep''')"),
    sub("SELECT event.subscribe_field($1, meta.field_id(meta.row_id('public', 'pm', 'id', '1'), 'b'))")] },
  { role: 'alice', setup: [sub("SELECT event.subscribe_table($1, meta.relation_id('public', 'other'), columns => ARRAY['id'])")] },
];

async function createSession(role: TestRole, setup: Setup[]): Promise<string> {
  const id = (await role.pool.query('SELECT event.session_create() AS id')).rows[0].id as string;
  for (const step of setup) await step(role, id);
  return id;
}

/** An event without what differs between twin sessions. */
function comparable(event: Record<string, unknown>): string {
  const { id: _id, subscription_id: _sub, ...rest } = event;
  return JSON.stringify(rest);
}

test('sessions read together get what each gets alone, and nothing of each other', async () => {
  const together: string[] = [];
  const alone: string[] = [];
  for (const kind of kinds) {
    together.push(await createSession(roles[kind.role], kind.setup));
    alone.push(await createSession(roles[kind.role], kind.setup));
  }
  await db.pool.query(`REVOKE SELECT ON public.pm FROM ${roles.bob.sql}; GRANT SELECT (id, a) ON public.pm TO ${roles.bob.sql}`);
  const writes = [
    "INSERT INTO public.pm VALUES (1, 'keep', 'x'), (2, 'drop', 'y')",
    "UPDATE public.pm SET b = 'z' WHERE id = 1",
    "UPDATE public.pm SET a = 'keep' WHERE id = 2",
    "UPDATE public.pm SET a = 'gone' WHERE id = 1",
    'UPDATE public.pm SET id = 3 WHERE id = 2',
    'DELETE FROM public.pm WHERE id = 1',
    'INSERT INTO public.other VALUES (1, 1), (2, 2)',
    'UPDATE public.other SET x = x + 10',
    'TRUNCATE public.other',
  ];
  for (const sql of writes) await db.pool.query(sql);

  const { rows } = await db.pool.query('SELECT session_id, id, event FROM event.peek_many($1::uuid[], 1000)', [together]);
  for (const [i, session] of together.entries()) {
    const mine = rows.filter((r) => r.session_id === session);
    assert.deepEqual(mine.map((r) => r.id), [...mine.map((r) => r.id)].sort((x, y) => Number(x) - Number(y)), 'id order');
    assert.ok(mine.every((r) => r.event.id === Number(r.id)));
    const single = (await db.pool.query('SELECT id, event FROM event.peek($1, 1000)', [alone[i]])).rows;
    assert.ok(single.length > 0, `kind ${i} has events`);
    assert.deepEqual(mine.map((r) => comparable(r.event)), single.map((r) => comparable(r.event)), `kind ${i}`);
    const subscriptions = new Set((await db.pool.query('SELECT id FROM event.subscription WHERE session_id = $1', [session])).rows.map((r) => r.id));
    assert.ok(mine.every((r) => subscriptions.has(r.event.subscription_id)), `kind ${i}: only its own subscriptions' events`);
  }
  assert.deepEqual(rows.map((r) => r.session_id), together.flatMap((s) => rows.filter((r) => r.session_id === s).map(() => s)),
    'rows come in the order the sessions were given');
  const bobs = rows.filter((r) => r.session_id === together[1]).map((r) => JSON.stringify(r.event));
  assert.ok(bobs.length > 0 && bobs.every((text) => !text.includes('"b"') && !text.includes('"y"') && !text.includes('"z"')),
    "a column bob may not read is in none of his events");
  const filtered = rows.filter((r) => r.session_id === together[2]).map((r) => [r.event.operation, r.event.reason ?? null]);
  assert.ok(filtered.some(([op, reason]) => op === 'row_insert' && reason === 'filter'), 'a row entering the filter');
  assert.ok(filtered.some(([op, reason]) => op === 'row_delete' && reason === 'filter'), 'a row leaving it');
  const counters = (await db.pool.query('SELECT session_id, events_captured FROM event.metrics() WHERE session_id = ANY ($1)', [together])).rows;
  for (const row of counters) {
    assert.equal(Number(row.events_captured), rows.filter((r) => r.session_id === row.session_id).length);
  }
});

test('after_ids: each session from its own position; an owner reads only its own sessions', async () => {
  await db.pool.query('DELETE FROM event.session');
  const first = await createSession(roles.alice, kinds[3]!.setup);
  const second = await createSession(roles.alice, kinds[3]!.setup);
  await db.pool.query('INSERT INTO public.other SELECT g, g FROM generate_series(100, 104) g');
  const all = (await roles.alice.pool.query('SELECT session_id, id FROM event.peek_many($1::uuid[], 100)', [[second, first]])).rows;
  assert.deepEqual(all.map((r) => r.session_id), [second, second, second, second, second, first, first, first, first, first]);
  const ids = (s: string) => all.filter((r) => r.session_id === s).map((r) => r.id);
  const from = (await roles.alice.pool.query('SELECT session_id, id FROM event.peek_many($1::uuid[], 2, $2::bigint[])',
    [[first, second], [ids(first)[2], null]])).rows;
  assert.deepEqual(from.map((r) => r.id), [...ids(first).slice(3, 5), ...ids(second).slice(0, 2)]);
  const again = (await roles.alice.pool.query('SELECT count(*)::int AS n FROM event.peek_many($1::uuid[], 100)', [[first, second]])).rows[0].n;
  assert.equal(again, 10, 'reading leases and acknowledges nothing');
  assert.equal(await sqlstateOf(roles.bob.pool.query('SELECT * FROM event.peek_many($1::uuid[], 10)', [[first]])), '42704');
  assert.deepEqual((await roles.alice.pool.query('SELECT * FROM event.peek_many($1::uuid[], 10)', [[]])).rows, []);
});

test('bad input: named, with its SQLSTATE', async () => {
  const session = await createSession(roles.alice, kinds[3]!.setup);
  const missing = '00000000-0000-4000-8000-000000000001';
  const failure = async (sql: string, values: unknown[]) => {
    try {
      await roles.alice.pool.query(sql, values);
    } catch (error) {
      return { code: (error as { code: string }).code, message: (error as Error).message };
    }
    throw new Error(`${sql} succeeded`);
  };
  let f = await failure('SELECT * FROM event.peek_many($1::uuid[], 10)', [[session, missing]]);
  assert.equal(f.code, '42704');
  assert.match(f.message, new RegExp(missing));
  f = await failure('SELECT * FROM event.peek_many($1::uuid[], 10)', [[session, session]]);
  assert.deepEqual([f.code, f.message.includes(session)], ['22023', true]);
  f = await failure('SELECT * FROM event.peek_many($1::uuid[], 10, $2::bigint[])', [[session], [1, 2]]);
  assert.equal(f.code, '22023');
  assert.equal((await failure('SELECT * FROM event.peek_many($1::uuid[], 10)', [[session, null]])).code, '22004');
  assert.equal((await failure('SELECT * FROM event.peek_many(NULL, 10)', [])).code, '22004');
  assert.equal((await failure('SELECT * FROM event.peek_many($1::uuid[], 0)', [[session]])).code, '22023');
});

test('the pending cap holds per session when sessions are collected together', async () => {
  await db.pool.query('DELETE FROM event.session');
  const full = await createSession(roles.alice, kinds[0]!.setup);
  const light = await createSession(roles.alice, kinds[3]!.setup);
  await db.pool.query("UPDATE event.settings SET value = 2 WHERE name = 'max_pending_per_session'");
  try {
    await db.pool.query("INSERT INTO public.pm SELECT g, 'c', 'c' FROM generate_series(10, 12) g");
    await db.pool.query('INSERT INTO public.other VALUES (50, 50)');
    const { rows } = await roles.alice.pool.query('SELECT session_id, event FROM event.peek_many($1::uuid[], 10)', [[full, light]]);
    assert.deepEqual(rows.filter((r) => r.session_id === full).map((r) => [r.event.operation, r.event.events_dropped]),
      [['overflow', 4]], 'three rows of pm and one of other: past the cap of 2');
    assert.deepEqual(rows.filter((r) => r.session_id === light).map((r) => r.event.operation), ['row_insert']);
  } finally {
    await db.pool.query("UPDATE event.settings SET value = 10000000 WHERE name = 'max_pending_per_session'");
  }
});
