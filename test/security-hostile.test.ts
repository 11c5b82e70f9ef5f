/**
 * Hostile input: identifiers and values that look like SQL, malformed
 * arguments, objects in public that shadow what the module calls, and a
 * type cast that runs an attacker's code: never in the writer's transaction,
 * never as the event system's owner, only as the role reading events.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createRoles, endRoles, quoteIdent, sqlstateOf, type TestRole } from './support/roles.js';

let db: TestDatabase;
let r: Record<'owner' | 'writer' | 'attacker', TestRole>;

const SCHEMA = 'we"ird; $$ sch ema';
const TABLE = 'ta;ble "ü" $$ DROP';
const KEY = 'select';
const COLUMN = 'col "q" ; -- ünï $x$';
const PK = "1'); DROP TABLE public.pwned; --";

async function pwned(): Promise<string[]> {
  const { rows } = await db.pool.query('SELECT who || \':\' || what AS hit FROM public.pwned ORDER BY 1');
  return rows.map((row) => row.hit as string);
}

/** A pool of a role whose connections put public before pg_catalog. */
function shadowedPool(role: TestRole): pg.Pool {
  const pool = new pg.Pool({ connectionString: role.url, max: 1, options: '-c search_path=public,pg_catalog' });
  pool.on('error', () => {});
  return pool;
}

before(async () => {
  db = await createTestDatabase();
  r = await createRoles(db, ['owner', 'writer', 'attacker'] as const);
  const s = quoteIdent(SCHEMA);
  const t = `${s}.${quoteIdent(TABLE)}`;
  await db.pool.query(`
    GRANT aqevent_user TO ${r.owner.sql}, ${r.attacker.sql};
    CREATE TABLE public.pwned (who text, what text);
    GRANT INSERT ON public.pwned TO PUBLIC;
    GRANT CREATE ON SCHEMA public TO ${r.attacker.sql};
    CREATE SCHEMA ${quoteIdent('attacker')} AUTHORIZATION ${r.attacker.sql};
    CREATE SCHEMA ${s};
    GRANT USAGE ON SCHEMA ${s} TO ${r.owner.sql}, ${r.writer.sql};
    CREATE TABLE ${t} (${quoteIdent(KEY)} text PRIMARY KEY, ${quoteIdent(COLUMN)} text, "end" int);
    GRANT SELECT ON ${t} TO ${r.owner.sql};
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ${t} TO ${r.writer.sql};
    CREATE TABLE public.plain (id int PRIMARY KEY, v text);
    GRANT SELECT ON public.plain TO ${r.owner.sql};
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.plain TO ${r.writer.sql};
    SELECT event.enable_capture('public.plain'), event.enable_capture('${t.replace(/'/g, "''")}');`);
});

after(async () => {
  await endRoles(r);
  await db.drop();
});

test('identifiers with quotes, semicolons, dollar quotes, spaces, unicode and reserved words are data', async () => {
  const o = r.owner.pool;
  const session = (await o.query('SELECT event.session_create() AS id')).rows[0].id as string;
  await o.query('SELECT event.subscribe_table($1, meta.relation_id($2, $3))', [session, SCHEMA, TABLE]);
  await o.query('SELECT event.subscribe_row($1, meta.row_id($2, $3, $4, $5))', [session, SCHEMA, TABLE, KEY, PK]);
  await o.query('SELECT event.subscribe_field($1, meta.field_id($2, $3, $4, $5, $6))', [session, SCHEMA, TABLE, KEY, PK, COLUMN]);
  await o.query('SELECT event.subscribe_column($1, meta.column_id($2, $3, $4))', [session, SCHEMA, TABLE, COLUMN]);
  const t = `${quoteIdent(SCHEMA)}.${quoteIdent(TABLE)}`;
  await r.writer.pool.query(`INSERT INTO ${t} VALUES ($1, $2, 1)`, [PK, '$$; DROP TABLE public.pwned; $$']);
  await r.writer.pool.query(`UPDATE ${t} SET ${quoteIdent(COLUMN)} = $1`, ["'); SELECT pg_sleep(10); --"]);
  await r.writer.pool.query(`DELETE FROM ${t}`);
  await r.writer.pool.query(`TRUNCATE ${t}`);
  const { rows } = await o.query('SELECT event FROM event.pending_event WHERE session_id = $1 ORDER BY id', [session]);
  const events = rows.map((row) => row.event);
  assert.deepEqual(events.map((e) => `${e.operation}/${e.subscription_type}`).sort(), [
    'row_insert/table', 'row_insert/column',
    'field_update/table', 'field_update/row', 'field_update/field', 'field_update/column',
    'row_delete/table', 'row_delete/row', 'row_delete/field', 'row_delete/column',
    'truncate/table', 'truncate/column', 'row_delete/row', 'row_delete/field', // TRUNCATE: row grains get a row_delete
  ].sort());
  assert.deepEqual(events[0].relation_id, { schema_id: { name: SCHEMA }, name: TABLE });
  assert.equal(events[0].row_id.pk_value, PK);
  assert.equal(events[0].row_id.pk_column_id.name, KEY);
  assert.deepEqual(events[0].payload, { [KEY]: PK, [COLUMN]: '$$; DROP TABLE public.pwned; $$', end: 1 });
  const field = events.find((e) => e.subscription_type === 'field');
  assert.deepEqual(field.payload, { [COLUMN]: "'); SELECT pg_sleep(10); --" });
  assert.equal(field.field_id.column_id.name, COLUMN);
  assert.deepEqual(await pwned(), [], 'public.pwned still exists and is empty');
  await o.query('SELECT event.session_delete($1)', [session]);
  const triggers = async () => (await db.pool.query('SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = $1::regclass', [t])).rows[0].n;
  assert.equal(await triggers(), 5, 'capture enabled by the owner outlives the subscriptions');
  await db.pool.query('SELECT event.disable_capture($1::regclass)', [t]);
  assert.ok((await db.pool.query('SELECT event.maintain() AS s')).rows[0].s.capture_removed >= 1);
  assert.equal(await triggers(), 0, 'maintenance dropped the triggers of the table by its hostile name');
  assert.deepEqual(await pwned(), []);
});

test('malformed arguments are refused with SQLSTATEs and messages naming the object', async () => {
  const o = r.owner.pool;
  const session = (await o.query('SELECT event.session_create() AS id')).rows[0].id as string;
  const cases: [string, unknown[], string, RegExp?][] = [
    ['SELECT event.session_attach($1)', ["'; DROP TABLE x; --"], '22P02'],
    ['SELECT event.session_attach($1)', ['00000000-0000-0000-0000-000000000000'], '42704', /session "0{8}-/],
    ['SELECT event.session_attach(NULL)', [], '22004'],
    ['SELECT event.subscribe_table($1, $2::jsonb)', [session, '{"schema_id": {"name": 5}, "name": "t"}'], '23514'],
    ['SELECT event.subscribe_table($1, $2::jsonb)', [session, '{"name": "t"'], '22P02'],
    ['SELECT event.subscribe_table($1, $2::jsonb)', [session, '[1, 2]'], '23514'],
    ['SELECT event.subscribe_table($1, NULL)', [session], '22004'],
    ['SELECT event.subscribe_table($1, meta.relation_id($2, $3))', [session, 'no"such', 'x'], '3F000', /schema "no"such" does not exist/],
    ['SELECT event.subscribe_table($1, meta.relation_id($2, $3))', [session, 'public', 'no;such'], '42P01', /relation "public\.no;such" does not exist/],
    ['SELECT event.subscribe_row($1, meta.row_id($2, $3, $4, $5))', [session, 'public', 'plain', 'id', "1 OR 1=1"], '22P02', /invalid key value for column id of public\.plain/],
    ['SELECT event.subscribe_row($1, meta.row_id($2, $3, $4, $5))', [session, 'public', 'plain', 'v', '1'], '42P10', /the key of public\.plain is \(id\)/],
    ['SELECT event.subscribe_column($1, meta.column_id($2, $3, $4))', [session, 'public', 'plain', 'id; --'], '42703', /column "id; --" of relation public\.plain does not exist/],
    ['SELECT event.subscribe_table($1, meta.relation_id($2, $3))', [session, 'event', 'queue'], '0A000'],
    ['SELECT event.unsubscribe($1)', ['not a uuid'], '22P02'],
  ];
  for (const [sql, params, code, message] of cases) {
    const error = await o.query(sql, params).then(() => null, (e) => e);
    assert.ok(error, `${sql} ${JSON.stringify(params)} should fail`);
    assert.equal(error.code, code, `${sql} ${JSON.stringify(params)}: ${error.message}`);
    if (message) assert.match(error.message, message);
  }
  const left = await o.query('SELECT count(*)::int AS n FROM event.subscription WHERE session_id = $1', [session]);
  assert.equal(left.rows[0].n, 0, 'nothing half-done');
  await o.query('SELECT event.session_delete($1)', [session]);
});

test('functions and operators in public that shadow what the module calls never run', async () => {
  const attacker = shadowedPool(r.attacker);
  const owner = shadowedPool(r.owner);
  const writer = shadowedPool(r.writer);
  try {
    const trap = (what: string, result: string) => `
      BEGIN INSERT INTO public.pwned VALUES (current_user, '${what}'); RETURN ${result}; END`;
    // pg_notify returns void: a bare RETURN
    await attacker.query(`
      CREATE FUNCTION public.jsonb_build_object(VARIADIC text[]) RETURNS jsonb LANGUAGE plpgsql
        AS $f$${trap('jsonb_build_object', "'{}'::jsonb")}$f$;
      CREATE FUNCTION public.to_jsonb(anyelement) RETURNS jsonb LANGUAGE plpgsql
        AS $f$${trap('to_jsonb', "'{}'::jsonb")}$f$;
      CREATE FUNCTION public.format(text, VARIADIC text[]) RETURNS text LANGUAGE plpgsql
        AS $f$${trap('format', "''")}$f$;
      CREATE FUNCTION public.pg_notify(text, text) RETURNS void LANGUAGE plpgsql
        AS $f$${trap('pg_notify', '')}$f$;
      CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql
        AS $f$${trap('now', "'epoch'")}$f$;
      CREATE FUNCTION public.nextval(regclass) RETURNS bigint LANGUAGE plpgsql
        AS $f$${trap('nextval', '1')}$f$;
      CREATE FUNCTION public.has_table_privilege(oid, oid, text) RETURNS boolean LANGUAGE plpgsql
        AS $f$${trap('has_table_privilege', 'true')}$f$;
      CREATE FUNCTION public.pg_has_role(name, oid, text) RETURNS boolean LANGUAGE plpgsql
        AS $f$${trap('pg_has_role', 'true')}$f$;
      CREATE FUNCTION public.evil_jsonb_eq(jsonb, jsonb) RETURNS boolean LANGUAGE plpgsql
        AS $f$${trap('jsonb =', 'true')}$f$;
      CREATE OPERATOR public.= (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = public.evil_jsonb_eq);
      CREATE FUNCTION public.evil_text_eq(text, text) RETURNS boolean LANGUAGE plpgsql
        AS $f$${trap('text =', 'true')}$f$;
      CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.evil_text_eq);
      CREATE FUNCTION public.evil_uuid_eq(uuid, uuid) RETURNS boolean LANGUAGE plpgsql
        AS $f$${trap('uuid =', 'true')}$f$;
      CREATE OPERATOR public.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = public.evil_uuid_eq);
      CREATE FUNCTION public.evil_arrow(jsonb, text) RETURNS jsonb LANGUAGE plpgsql
        AS $f$${trap('->', "'1'::jsonb")}$f$;
      CREATE OPERATOR public.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = public.evil_arrow);
      CREATE FUNCTION public.evil_minus(jsonb, text[]) RETURNS jsonb LANGUAGE plpgsql
        AS $f$${trap('jsonb - text[]', "'{}'::jsonb")}$f$;
      CREATE OPERATOR public.- (LEFTARG = jsonb, RIGHTARG = text[], FUNCTION = public.evil_minus);
      CREATE FUNCTION public.evil_concat(jsonb, jsonb) RETURNS jsonb LANGUAGE plpgsql
        AS $f$${trap('jsonb ||', "'{}'::jsonb")}$f$;
      CREATE OPERATOR public.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = public.evil_concat);`);
    // the traps work for anyone whose own SQL resolves through public first
    await owner.query(`SELECT '1'::jsonb = '1'::jsonb AS x`);
    assert.deepEqual(await pwned(), [`${r.owner.name}:jsonb =`]);
    await db.pool.query('TRUNCATE public.pwned');

    const session = (await owner.query('SELECT event.session_create() AS id')).rows[0].id as string;
    await owner.query("SELECT event.session_set_notify_payload($1, 'id')", [session]);
    await owner.query("SELECT event.session_set_notify_payload($1, 'full')", [session]);
    await owner.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'plain'))", [session]);
    await owner.query("SELECT event.subscribe_row($1, meta.row_id('public', 'plain', 'id', '1'))", [session]);
    await owner.query("SELECT event.subscribe_field($1, meta.field_id('public', 'plain', 'id', '1', 'v'))", [session]);
    await owner.query("SELECT event.subscribe_column($1, meta.column_id('public', 'plain', 'v'))", [session]);
    await writer.query("INSERT INTO public.plain VALUES (1, 'a'), (2, 'b')");
    await writer.query("UPDATE public.plain SET v = 'c' WHERE id < 3");
    await writer.query('DELETE FROM public.plain WHERE id > 1');
    await writer.query('TRUNCATE public.plain');
    await owner.query('SELECT * FROM event.session_info($1)', [session]);
    // (the test's own queries use ordinary pools: their '=' would be the attacker's)
    const { rows } = await r.owner.pool.query('SELECT count(*)::int AS n FROM event.pending_event WHERE session_id = $1', [session]);
    assert.equal(rows[0].n, 16);
    const first = await r.owner.pool.query('SELECT event FROM event.pending_event WHERE session_id = $1 ORDER BY id LIMIT 1', [session]);
    assert.deepEqual(first.rows[0].event.payload, { id: 1, v: 'a' }, 'built by the real functions');
    await owner.query('SELECT event.session_delete($1)', [session]);
    assert.deepEqual(await pwned(), [], 'no shadowing object ran');
  } finally {
    await Promise.all([attacker.end(), owner.end(), writer.end()]);
  }
});

test('a cast to JSON owned by an untrusted role never runs in the writer\'s transaction, only as the reader', async () => {
  const a = r.attacker.pool;
  await a.query(`
    CREATE TYPE attacker.mood AS ENUM ('happy');
    CREATE FUNCTION attacker.mood_json(attacker.mood) RETURNS json LANGUAGE plpgsql AS $f$
      BEGIN INSERT INTO public.pwned VALUES (current_user, 'cast'); RETURN '"escalated"'::json; END $f$;
    CREATE CAST (attacker.mood AS json) WITH FUNCTION attacker.mood_json(attacker.mood);
    CREATE TYPE attacker.wrapper AS (m attacker.mood[]);
    CREATE TABLE attacker.moods (id int PRIMARY KEY, m attacker.mood, w attacker.wrapper);
    GRANT USAGE ON SCHEMA attacker TO ${r.writer.sql}, ${r.owner.sql};
    GRANT SELECT, INSERT, UPDATE, DELETE ON attacker.moods TO ${r.writer.sql};
    GRANT SELECT ON attacker.moods TO ${r.owner.sql};
    SELECT event.enable_capture('attacker.moods');`);
  const mine = (await a.query('SELECT event.session_create() AS id')).rows[0].id as string;
  await a.query("SELECT event.subscribe_table($1, meta.relation_id('attacker', 'moods'))", [mine]);
  const theirs = (await r.owner.pool.query('SELECT event.session_create() AS id')).rows[0].id as string;
  await r.owner.pool.query("SELECT event.subscribe_table($1, meta.relation_id('attacker', 'moods'))", [theirs]);

  // the writer's transaction stores text: no cast, no user code, whoever is subscribed
  const writer = await r.writer.pool.connect();
  try {
    await writer.query('BEGIN');
    await writer.query("INSERT INTO attacker.moods VALUES (1, 'happy', ROW(ARRAY['happy']::attacker.mood[]))");
    await writer.query("UPDATE attacker.moods SET m = 'happy', w = ROW(ARRAY['happy', 'happy']::attacker.mood[])");
    assert.deepEqual(await pwned(), [], 'nothing ran inside the writer\'s transaction');
    await writer.query('COMMIT');
  } finally {
    writer.release();
  }
  assert.deepEqual(await pwned(), [], 'nor at its commit');

  // maintenance collects and dead-letters as the event system's owner without rendering through the type
  await db.pool.query('SELECT event.trim_changes()');
  await a.query('SELECT event.set_max_attempts($1, 1)', [mine]);
  assert.deepEqual(await pwned(), [], 'collecting (trim_changes) runs no cast');

  // the cast runs when a session is read, as the role reading it
  const read = await a.query("SELECT event FROM event.fetch_events($1, 10, '1 ms')", [mine]);
  assert.equal(read.rows[0].event.payload.m, 'escalated', 'the cast really runs at read time');
  const attackerRuns = await pwned();
  assert.ok(attackerRuns.length > 0);
  assert.deepEqual([...new Set(attackerRuns)], [`${r.attacker.name}:cast`], 'as the attacker, reading its own session');
  await db.pool.query('TRUNCATE public.pwned');
  await db.pool.query('SELECT pg_sleep(0.01)');
  const reclaimed = (await db.pool.query("SELECT event.reclaim_leases(now() + interval '1 minute') AS s")).rows[0].s;
  assert.ok(reclaimed.dead_lettered >= 1, 'the leased events became dead letters');
  assert.deepEqual(await pwned(), [], 'dead letters made by maintenance run no cast');

  const victim = await r.owner.pool.query('SELECT event FROM event.pending_event WHERE session_id = $1 ORDER BY id', [theirs]);
  assert.ok(victim.rowCount! > 0);
  const victimRuns = await pwned();
  assert.ok(victimRuns.length > 0);
  assert.deepEqual([...new Set(victimRuns)], [`${r.owner.name}:cast`],
    'another subscriber runs it with its own rights, as any SELECT of that type would');
  const superusers = (await db.pool.query(
    'SELECT array_agg(rolname) AS n FROM pg_roles WHERE rolsuper OR oid = (SELECT nspowner FROM pg_namespace WHERE nspname = \'event\')')).rows[0].n;
  for (const hit of [...attackerRuns, ...victimRuns]) {
    const who = hit.split(':')[0];
    assert.ok(!superusers.includes(who) && who !== r.writer.name, `never as ${who}`);
  }
  await a.query('SELECT event.session_delete($1)', [mine]);
  await r.owner.pool.query('SELECT event.session_delete($1)', [theirs]);
});
