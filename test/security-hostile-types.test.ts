/**
 * The siblings of a hostile cast to JSON (issue 14, item 1): user code reached
 * through a table's types (domain checks, casts of array elements, a row type
 * nested in a column and altered after subscribing, ranges and multiranges of a
 * checked domain, a cast to jsonb) never runs in the writer's transaction,
 * never during maintenance, never as the event system's owner or a superuser:
 * only as the role reading the session, here the attacker itself.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createRoles, endRoles, sqlstateOf, type TestRole } from './support/roles.js';

let db: TestDatabase;
let r: Record<'writer' | 'attacker', TestRole>;

before(async () => {
  db = await createTestDatabase();
  r = await createRoles(db, ['writer', 'attacker'] as const);
  await db.pool.query(`
    GRANT aqevent_user TO ${r.attacker.sql};
    CREATE TABLE public.pwned (who text, what text);
    GRANT INSERT ON public.pwned TO PUBLIC;
    CREATE SCHEMA attacker AUTHORIZATION ${r.attacker.sql};`);
  await r.attacker.pool.query(`GRANT USAGE ON SCHEMA attacker TO ${r.writer.sql}`);
});

after(async () => {
  await endRoles(r);
  await db.drop();
});

async function pwned(): Promise<string[]> {
  const { rows } = await db.pool.query("SELECT who || ':' || what AS hit FROM public.pwned ORDER BY 1");
  return rows.map((row) => row.hit as string);
}

/**
 * A function of the attacker that records who runs it and tries to make the
 * attacker a superuser (which only works when it runs as one).
 */
function trap(name: string, args: string, returns: string, result: string): string {
  return `
    CREATE FUNCTION attacker.${name}(${args}) RETURNS ${returns} LANGUAGE plpgsql SECURITY INVOKER AS $f$
    BEGIN
      INSERT INTO public.pwned VALUES (current_user, '${name}');
      BEGIN
        EXECUTE format('ALTER ROLE %I SUPERUSER', '${r.attacker.name}');
      EXCEPTION WHEN OTHERS THEN NULL;
      END;
      RETURN ${result};
    END $f$;`;
}

interface Route {
  /** The captured table (in schema attacker), with id int PRIMARY KEY. */
  table: string;
  /** The attacker's types, functions and table. */
  setup: string;
  /** Rows the attacker writes before capture (their checks run as the attacker). */
  seed?: string;
  /** The attacker's DDL after it subscribed. */
  afterSubscribe?: string;
  /** The writer's statements, given the table to write. */
  writes: (table: string) => string[];
  /** Whether the hostile function runs when the session is read. */
  runsAtRead: boolean;
  /** What the hostile function ran for the writer's own statements, without aqevent. */
  writerOwn: string[];
}

/**
 * Runs a route: the writer writes an uncaptured twin (what PostgreSQL itself
 * runs for the writer's statements) and then the captured table; capture adds
 * nothing to that. Maintenance as the superuser runs nothing. Reading runs it
 * as the attacker only, and the attacker stays an ordinary role.
 */
async function checkRoute(route: Route): Promise<{ events: Record<string, unknown>[] }> {
  const a = r.attacker.pool;
  const table = `attacker.${route.table}`;
  const twin = `attacker.${route.table}_twin`;
  await a.query(`${route.setup}
    CREATE TABLE ${twin} (LIKE ${table} INCLUDING ALL);
    GRANT SELECT, INSERT, UPDATE ON ${table}, ${twin} TO ${r.writer.sql};`);
  if (route.seed) {
    await a.query(route.seed.replaceAll('%T', table));
    await a.query(route.seed.replaceAll('%T', twin));
  }
  const session = (await a.query('SELECT event.session_create() AS id')).rows[0].id as string;
  await a.query("SELECT event.subscribe_table($1, meta.relation_id('attacker', $2))", [session, route.table]);
  if (route.afterSubscribe) await a.query(route.afterSubscribe);
  await db.pool.query('TRUNCATE public.pwned');

  const write = async (target: string): Promise<string[]> => {
    const writer = await r.writer.pool.connect();
    try {
      await writer.query('BEGIN');
      for (const sql of route.writes(target)) await writer.query(sql);
      await writer.query('COMMIT');
    } finally {
      writer.release();
    }
    const hits = await pwned();
    await db.pool.query('TRUNCATE public.pwned');
    return hits;
  };
  // (a) the write commits and capture ran no user code in its transaction
  const baseline = await write(twin);
  assert.deepEqual(baseline, route.writerOwn, "what PostgreSQL runs for the writer's own statements");
  assert.deepEqual(await write(table), baseline, "capture ran nothing in the writer's transaction");
  const captured = await db.pool.query('SELECT count(*)::int AS n FROM event.change WHERE relid = $1::regclass', [table]);
  assert.ok(captured.rows[0].n > 0, 'the writes were captured');

  // (b) maintenance as the superuser collects and trims without rendering
  await db.pool.query('SELECT event.trim_changes()');
  assert.deepEqual(await pwned(), [], 'trim_changes runs no user code');
  await db.pool.query('SELECT event.maintain()');
  assert.deepEqual(await pwned(), [], 'maintain runs no user code');

  // (c) reading its own session runs it as the attacker only
  const peeked = await a.query('SELECT event FROM event.peek($1, 100)', [session]);
  const queued = await a.query('SELECT event FROM event.queue WHERE session_id = $1 ORDER BY id', [session]);
  assert.ok(peeked.rowCount! > 0);
  assert.equal(queued.rowCount, peeked.rowCount);
  const runs = await pwned();
  if (route.runsAtRead) assert.ok(runs.length > 0, 'the hostile function really runs at read time');
  else assert.deepEqual(runs, [], 'PostgreSQL never calls it when rendering');
  for (const hit of runs) assert.ok(hit.startsWith(`${r.attacker.name}:`), `ran as the reader, not ${hit}`);
  const superuser = await db.pool.query('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [r.attacker.name]);
  assert.equal(superuser.rows[0].rolsuper, false, 'the attacker is still an ordinary role');

  // (d) never as a superuser or the event system's owner
  const privileged = (await db.pool.query(
    "SELECT array_agg(rolname) AS n FROM pg_roles WHERE rolsuper OR oid = (SELECT nspowner FROM pg_namespace WHERE nspname = 'event')")).rows[0].n as string[];
  for (const hit of [...baseline, ...runs]) assert.ok(!privileged.includes(hit.slice(0, hit.indexOf(':'))), `never as ${hit}`);

  await a.query('SELECT event.session_delete($1)', [session]);
  await db.pool.query('TRUNCATE public.pwned');
  return { events: peeked.rows.map((row) => row.event) };
}

test('a domain over a user type whose CHECK calls user code runs it only as the reader', async () => {
  const { events } = await checkRoute({
    table: 'toned',
    setup: `
      CREATE TYPE attacker.tone AS ENUM ('low', 'high');
      ${trap('tone_ok', 'attacker.tone', 'boolean', 'true')}
      CREATE DOMAIN attacker.checked_tone AS attacker.tone CHECK (attacker.tone_ok(VALUE));
      CREATE TABLE attacker.toned (id int PRIMARY KEY, t attacker.checked_tone, note text);`,
    seed: "INSERT INTO %T VALUES (1, 'low', 'seeded')",
    writes: (t) => [`INSERT INTO ${t} VALUES (2, 'high', 'new')`, `UPDATE ${t} SET note = 'changed'`],
    runsAtRead: true,
    // the INSERT checks its own value as the writer; the UPDATE does not touch the domain column
    writerOwn: [`${r.writer.name}:tone_ok`],
  });
  assert.ok(events.some((e) => (e.payload as Record<string, unknown> | null)?.t === 'high'));
});

test('an array of an enum with a cast to json runs the cast only as the reader', async () => {
  const { events } = await checkRoute({
    table: 'shades',
    setup: `
      CREATE TYPE attacker.shade AS ENUM ('dark', 'light');
      ${trap('shade_json', 'attacker.shade', 'json', `'"escalated"'::json`)}
      CREATE CAST (attacker.shade AS json) WITH FUNCTION attacker.shade_json(attacker.shade);
      CREATE TABLE attacker.shades (id int PRIMARY KEY, s attacker.shade[]);`,
    writes: (t) => [`INSERT INTO ${t} VALUES (1, ARRAY['dark', 'light']::attacker.shade[])`,
      `UPDATE ${t} SET s = ARRAY['light']::attacker.shade[]`],
    runsAtRead: true,
    writerOwn: [],
  });
  const insert = events.find((e) => e.operation === 'row_insert');
  assert.deepEqual((insert?.payload as Record<string, unknown>).s, ['escalated', 'escalated'], 'rendered through the cast');
});

test('a row type nested in a subscribed table and given a column with a cast to json after subscribing', async () => {
  const { events } = await checkRoute({
    table: 'outer_t',
    setup: `
      CREATE TYPE attacker.evil AS ENUM ('boom');
      ${trap('evil_json', 'attacker.evil', 'json', `'"escalated"'::json`)}
      CREATE CAST (attacker.evil AS json) WITH FUNCTION attacker.evil_json(attacker.evil);
      CREATE TABLE attacker.inner_t (x int);
      CREATE TABLE attacker.outer_t (id int PRIMARY KEY, inner_col attacker.inner_t);`,
    // the issue's route: the DDL is on inner_t, which is not captured
    afterSubscribe: 'ALTER TABLE attacker.inner_t ADD COLUMN y attacker.evil',
    writes: (t) => [`INSERT INTO ${t} VALUES (1, ROW(1, 'boom')::attacker.inner_t)`,
      `UPDATE ${t} SET inner_col = ROW(2, 'boom')::attacker.inner_t`],
    runsAtRead: true,
    writerOwn: [],
  });
  const insert = events.find((e) => e.operation === 'row_insert');
  assert.deepEqual((insert?.payload as Record<string, unknown>).inner_col, { x: 1, y: 'escalated' });
});

test('a range and a multirange over a domain whose CHECK calls user code run it only as the reader', async () => {
  const { events } = await checkRoute({
    table: 'spans',
    setup: `
      ${trap('step_ok', 'integer', 'boolean', 'true')}
      CREATE DOMAIN attacker.step AS integer CHECK (attacker.step_ok(VALUE));
      CREATE TYPE attacker.step_range AS RANGE (subtype = attacker.step, multirange_type_name = attacker.step_multirange);
      CREATE TABLE attacker.spans (id int PRIMARY KEY, r attacker.step_range, m attacker.step_multirange, note text);`,
    seed: "INSERT INTO %T VALUES (1, '[1,5)', '{[1,2), [3,4)}', 'seeded')",
    writes: (t) => [`INSERT INTO ${t} VALUES (2, '[10,20)', '{[7,8)}', 'new')`, `UPDATE ${t} SET note = 'changed'`],
    runsAtRead: true,
    // the INSERT's literals are checked as the writer: two range bounds, two multirange bounds
    writerOwn: Array(4).fill(`${r.writer.name}:step_ok`),
  });
  assert.ok(events.some((e) => (e.payload as Record<string, unknown> | null)?.r === '[10,20)'));
});

test('a cast to jsonb is never called to render, by anyone', async () => {
  const { events } = await checkRoute({
    table: 'jmoods',
    setup: `
      CREATE TYPE attacker.jmood AS ENUM ('sly');
      ${trap('jmood_jsonb', 'attacker.jmood', 'jsonb', `'"escalated"'::jsonb`)}
      CREATE CAST (attacker.jmood AS jsonb) WITH FUNCTION attacker.jmood_jsonb(attacker.jmood);
      CREATE TABLE attacker.jmoods (id int PRIMARY KEY, m attacker.jmood, ms attacker.jmood[]);`,
    writes: (t) => [`INSERT INTO ${t} VALUES (1, 'sly', ARRAY['sly']::attacker.jmood[])`, `UPDATE ${t} SET ms = '{}'`],
    runsAtRead: false, // to_jsonb looks for casts to json only
    writerOwn: [],
  });
  const insert = events.find((e) => e.operation === 'row_insert');
  assert.equal((insert?.payload as Record<string, unknown>).m, 'sly', 'rendered with the output function');
  // the cast does run for whoever calls it: it is the attacker's own code
  await r.attacker.pool.query("SELECT 'sly'::attacker.jmood::jsonb");
  assert.deepEqual(await pwned(), [`${r.attacker.name}:jmood_jsonb`]);
  await db.pool.query('TRUNCATE public.pwned');
});

test('input functions, the one place a row is parsed from text, cannot be written by an ordinary role', async () => {
  assert.equal(await sqlstateOf(r.attacker.pool.query('CREATE TYPE attacker.base')), '42501',
    'not even a shell type for one');
  assert.equal(await sqlstateOf(r.attacker.pool.query(
    'CREATE TYPE attacker.base (INPUT = int4in, OUTPUT = int4out, LIKE = integer)')), '42501',
    'a base type (its input and output functions) needs a superuser');
  assert.equal(await sqlstateOf(r.attacker.pool.query(
    'CREATE FUNCTION attacker.fake_in(cstring) RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$')), '42P13',
    'SQL functions cannot take cstring');
});
