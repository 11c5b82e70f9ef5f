// Filtered subscriptions: which rows they deliver, rows entering and leaving
// the filter, column lists, and the filters refused at subscribe time.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession, queued, summary, type QueuedEvent } from './support/events.js';
import { createRoles, endRoles, sqlstateOf } from './support/roles.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());
beforeEach(async () => {
  await db.pool.query(`
    DROP TABLE IF EXISTS player;
    CREATE TABLE player (id int PRIMARY KEY, name text, score int, status text, archived boolean NOT NULL DEFAULT false,
                         tags text[], born date, deleted_at timestamptz);`);
});

async function subscribed(filter: string | null, options: { columns?: string[]; grain?: string } = {}): Promise<string> {
  const session = await newSession(db.pool);
  await db.pool.query('SELECT event.subscribe_table($1, $2::text, filter => $3, columns => $4)',
    [session, 'public.player', filter, options.columns ?? null]);
  return session;
}

const ops = (events: QueuedEvent[]) => events.map((e) => [...summary(e), e.reason ?? null]);

test('enter, leave, stay and stay out: row_insert / row_delete with reason filter, field_updates, nothing', async () => {
  const session = await subscribed("score > 10 or name = 'Joe'");
  await db.pool.query(`
    INSERT INTO player (id, name, score) VALUES (1, 'Ann', 5), (2, 'Bob', 20), (3, 'Joe', 1);
    UPDATE player SET score = 15 WHERE id = 1;   -- Ann enters
    UPDATE player SET score = 3 WHERE id = 2;    -- Bob leaves
    UPDATE player SET score = 30 WHERE id = 1;   -- Ann stays: a field_update
    UPDATE player SET score = 4 WHERE id = 3;    -- Joe stays (by name)
    UPDATE player SET score = 2 WHERE id = 2;    -- Bob stays out: nothing
    UPDATE player SET name = 'Al' WHERE id = 3;  -- Joe leaves
    DELETE FROM player WHERE id = 1;             -- a matching row deleted
    DELETE FROM player WHERE id = 2;             -- a row that did not match: nothing
    INSERT INTO player (id, name, score) VALUES (4, 'Cy', 1);  -- does not match: nothing`);
  const events = await queued(db.pool, session);
  assert.deepEqual(ops(events), [
    ['row_insert', '2', { id: 2, name: 'Bob', score: 20, status: null, archived: false, tags: null, born: null, deleted_at: null }, null],
    ['row_insert', '3', { id: 3, name: 'Joe', score: 1, status: null, archived: false, tags: null, born: null, deleted_at: null }, null],
    ['row_insert', '1', { id: 1, name: 'Ann', score: 15, status: null, archived: false, tags: null, born: null, deleted_at: null }, 'filter'],
    ['row_delete', '2', { id: 2 }, 'filter'],
    ['field_update', '1', { score: 30 }, null],
    ['field_update', '3', { score: 4 }, null],
    ['row_delete', '3', { id: 3 }, 'filter'],
    ['row_delete', '1', { id: 1 }, null],
  ]);
});

test('every operator family the docs list, one filter each', async () => {
  const cases: Array<[string, number[]]> = [
    ['score = 7', [2]],
    ['score <> 7', [1, 3]],
    ['score >= 7 and score <= 9', [2]],
    ['not (score < 8)', [3]],
    ["status in ('open', 'held')", [1, 2]],
    ["status not in ('open')", [2]],  // NULL is not 'not in': SQL's three values
    ['score between 5 and 8', [2]],
    ['deleted_at is null', [1, 2]],
    ['deleted_at is not null', [3]],
    ["name like 'A%'", [1]],
    ["name ilike 'b%'", [2]],
    ["name not like '%a%'", [1, 2]],
    ["tags @> array['red']", [1, 3]],
    ["lower(name) = 'cat'", [3]],
    ["born < date '2000-01-01' or archived", [1, 3]],
    ['(score + 1) * 2 > 20', [3]],
    ["coalesce(status, 'none') = 'none'", [3]],
    ["status = 'open' and not archived", [1]],
  ];
  const sessions: Array<[string, string, number[]]> = [];
  for (const [filter, expected] of cases) sessions.push([filter, await subscribed(filter), expected]);
  await db.pool.query(`
    INSERT INTO player (id, name, score, status, archived, tags, born, deleted_at) VALUES
      (1, 'Ann', 3, 'open', false, '{red,blue}', '1990-05-01', NULL),
      (2, 'Bob', 7, 'held', false, '{blue}', '2005-01-01', NULL),
      (3, 'Cat', 12, NULL, true, '{red}', NULL, '2024-01-01 00:00:00+00')`);
  for (const [filter, session, expected] of sessions) {
    const events = await queued(db.pool, session);
    assert.deepEqual(events.map((e) => e.payload.id), expected, filter);
  }
});

test('a filter is stored as PostgreSQL deparses it, and the same subscription again is the same one', async () => {
  const session = await newSession(db.pool);
  const first = (await db.pool.query("SELECT event.subscribe_table($1, 'player'::regclass, filter => 'score>10 OR name=''Joe''') AS id", [session])).rows[0].id;
  const again = (await db.pool.query("SELECT event.subscribe_table($1, 'player'::regclass, filter => '(score > 10) or (name = ''Joe'')') AS id", [session])).rows[0].id;
  const other = (await db.pool.query("SELECT event.subscribe_table($1, 'player'::regclass, filter => 'score > 11') AS id", [session])).rows[0].id;
  assert.equal(again, first);
  assert.notEqual(other, first);
  const { rows } = await db.pool.query('SELECT filter FROM event.subscription WHERE id = $1', [first]);
  assert.equal(rows[0].filter, "((score > 10) OR (name = 'Joe'::text))");
});

test('refused filters: each error class with its SQLSTATE and a message naming the table', async () => {
  const session = await newSession(db.pool);
  const refusals: Array<[string, string, RegExp]> = [
    ['nosuch > 1', '42703', /column.*player/],
    ["score > 'x'", '22P02', /player/],
    ['score', '42804', /player/],
    ['name > 1', '42883', /player/],
    ['score > (select 1)', '0A000', /player/],
    ['score > random()', '22023', /not IMMUTABLE/],
    ['deleted_at < now()', '22023', /not IMMUTABLE/],
    ["name = current_user", '22023', /not decided by the row alone/],
    ['count(*) > 1', '42803', /player/],
    ['score > 1) or (true', '42601', /player/],
    ['score > 1; drop table player', '42601', /player/],
    ['', '22023', /empty/],
  ];
  for (const [filter, code, message] of refusals) {
    const error = await db.pool.query('SELECT event.subscribe_table($1, $2::text, filter => $3)', [session, 'public.player', filter])
      .then(() => undefined, (e) => e);
    assert.ok(error, `the filter ${filter} was accepted`);
    assert.equal(error.code, code, `${filter}: ${error.message}`);
    assert.match(error.message, message, filter);
  }
  assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM event.subscription WHERE session_id = $1', [session])).rows[0].n, 0);
  assert.equal((await db.pool.query("SELECT to_regclass('player') IS NOT NULL AS here")).rows[0].here, true);
});

test('a filter cannot be smuggled past the check by inserting the subscription row directly', async () => {
  const roles = await createRoles(db, ['smuggler'] as const);
  try {
    const r = roles.smuggler;
    await db.pool.query(`GRANT aqevent_user TO ${r.sql}; GRANT SELECT, UPDATE ON player TO ${r.sql}`);
    const session = await newSession(r.pool);
    for (const [filter, code] of [['true) OR (true', '42601'], ['score > 1', '42501'], ['score > random()', '22023']]) {
      assert.equal(await sqlstateOf(r.pool.query(
        `INSERT INTO event.subscription (session_id, kind, relation_oid, target, filter)
         VALUES ($1, 'table', 'player'::regclass, '{}', $2)`, [session, filter])), code, filter);
    }
    // as deparsed, it is accepted
    await r.pool.query(`INSERT INTO event.subscription (session_id, kind, relation_oid, target, filter)
                        VALUES ($1, 'table', 'player'::regclass, '{}', '(score > 1)')`, [session]);
  } finally {
    await endRoles(roles);
  }
});

test('columns: the payload keeps the listed columns, and field_updates of other columns are not delivered', async () => {
  const session = await subscribed(null, { columns: ['name', 'score'] });
  await db.pool.query(`
    INSERT INTO player (id, name, score, status) VALUES (1, 'Ann', 5, 'open');
    UPDATE player SET status = 'held' WHERE id = 1;
    UPDATE player SET score = 6, status = 'open' WHERE id = 1;
    DELETE FROM player WHERE id = 1;`);
  assert.deepEqual(ops(await queued(db.pool, session)), [
    ['row_insert', '1', { name: 'Ann', score: 5 }, null],
    ['field_update', '1', { score: 6 }, null],
    ['row_delete', '1', { id: 1 }, null],
  ]);
  const refused = await db.pool.query("SELECT event.subscribe_table($1, 'player'::regclass, columns => array['nope'])", [session])
    .catch((e) => e);
  assert.equal(refused.code, '42703');
});

test('row and column grains take a filter too; field_updates only while the row passes', async () => {
  await db.pool.query("INSERT INTO player (id, name, score) VALUES (1, 'Ann', 5), (2, 'Bob', 20)");
  const session = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_column($1, 'player'::regclass, 'name', filter => 'score > 10')", [session]);
  await db.pool.query("SELECT event.subscribe_row($1, meta.row_id('public', 'player', 'id', '1'), filter => 'score > 10')", [session]);
  await db.pool.query(`
    UPDATE player SET name = 'Anna' WHERE id = 1;   -- row 1 does not pass: nothing
    UPDATE player SET name = 'Bobby' WHERE id = 2;  -- column grain: a field_update
    UPDATE player SET score = 11 WHERE id = 1;      -- row 1 enters (row grain and column grain)`);
  const events = await queued(db.pool, session);
  assert.deepEqual(events.map((e) => [e.operation, e.subscription_type, e.row_id.pk_value, e.reason ?? null]), [
    ['field_update', 'column', '2', null],
    ['row_insert', 'column', '1', 'filter'],
    ['row_insert', 'row', '1', 'filter'],
  ]);
});

test('a filter\'s code cannot change the settings of the transaction that collects for it', async () => {
  await db.pool.query(`CREATE OR REPLACE FUNCTION public.sneaky(score int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
      PERFORM set_config('DateStyle', 'SQL, DMY', true);
      PERFORM set_config('statement_timeout', '1ms', true);
      RETURN score > 10;
    END $$`);
  const session = await subscribed('public.sneaky(score)');
  await db.pool.query("INSERT INTO player (id, name, score) VALUES (1, 'Ann', 5), (2, 'Bob', 20)");
  const client = await db.pool.connect();
  try {
    await client.query("BEGIN; SET LOCAL DateStyle = 'ISO, MDY'; SET LOCAL statement_timeout = 0");
    await client.query('SELECT event._collect($1)', [session]);
    assert.equal((await client.query('SHOW DateStyle')).rows[0].DateStyle, 'ISO, MDY');
    assert.equal((await client.query('SHOW statement_timeout')).rows[0].statement_timeout, '0');
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  assert.deepEqual((await queued(db.pool, session)).map(summary), [['row_insert', '2', { id: 2, name: 'Bob', score: 20, status: null, archived: false, tags: null, born: null, deleted_at: null }]]);
  await db.pool.query('DROP FUNCTION public.sneaky(int) CASCADE');
});

test('a filter whose function raises query_canceled withholds its own rows only; the other sessions collected with it get theirs', async () => {
  await db.pool.query(`CREATE OR REPLACE FUNCTION public.cancels(score int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
      IF score > 10 THEN RAISE query_canceled USING MESSAGE = 'canceling statement due to user request'; END IF;
      RETURN true;
    END $$`);
  const hostile = await subscribed('public.cancels(score)');
  const plain = await subscribed(null);
  await db.pool.query("INSERT INTO player (id, name, score) VALUES (1, 'Ann', 5), (2, 'Bob', 20)");
  // one collect for both sessions, as maintenance or a server does
  await db.pool.query('SELECT event._collect_many(ARRAY[$1, $2]::uuid[])', [hostile, plain]);
  assert.deepEqual((await queued(db.pool, plain)).map((e) => summary(e)[1]), ['1', '2']);
  assert.deepEqual(await queued(db.pool, hostile), []);
  await db.pool.query('DROP FUNCTION public.cancels(int) CASCADE');
});

test('checking a filter runs no DROP TABLE: the role\'s other sessions are not collected, and its scratch tables go at commit', async () => {
  const waiting = await subscribed(null);
  await db.pool.query("INSERT INTO player (id, name, score) VALUES (1, 'Ann', 5)");
  const cursor = async () => (await db.pool.query('SELECT cursor::text AS c FROM event.session WHERE id = $1', [waiting])).rows[0].c as string;
  const before = await cursor();
  const other = await newSession(db.pool);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    // a temporary table of the caller's with the name the first check would take
    await client.query('CREATE TEMPORARY TABLE aqevent_filter_1 (x int) ON COMMIT DROP');
    await client.query("SELECT event.subscribe_table($1, 'public.player'::text, filter => 'score > 1')", [other]);
    await client.query("SELECT event.subscribe_table($1, 'public.player'::text, filter => 'score > 2')", [other]);
    await client.query('COMMIT');
    const left = await client.query("SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'aqevent\\_filter\\_%' AND relpersistence = 't' AND pg_table_is_visible(oid)");
    assert.equal(left.rows[0].n, 0);
  } finally {
    client.release();
  }
  assert.equal(await cursor(), before, 'a filter check must not collect the role\'s sessions (collect-before-drop)');
  assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM event.subscription WHERE session_id = $1', [other])).rows[0].n, 2);
  assert.deepEqual((await queued(db.pool, waiting)).map((e) => summary(e)[1]), ['1']);
});
