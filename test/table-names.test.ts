// Table names as PostgreSQL reads them (search_path, quoting), and human output that quotes what needs it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Aqevent, AqeventError } from '../src/index.js';
import { type CliResult, runCli } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { queued } from './support/events.js';

let db: TestDatabase;
let aq: Aqevent;
const cli = (...args: string[]) => runCli(['--database-url', db.url, ...args]);

function ok(result: CliResult): string {
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

before(async () => {
  db = await createTestDatabase();
  await db.pool.query(`
    CREATE SCHEMA app;
    CREATE TABLE app.person (id int PRIMARY KEY, name text);
    CREATE TABLE public.person (id int PRIMARY KEY, name text);
    CREATE TABLE public."we""ird; drop" (k text PRIMARY KEY, "Order" int);
    CREATE TABLE public.pair (a text, b text, PRIMARY KEY (a, b));
    ALTER DATABASE "${db.name}" SET search_path = app, public`);
  // Connections opened from here on have app first in their search_path.
  aq = await Aqevent.connect({ connectionString: db.url, poolSize: 2 });
});
after(async () => {
  await aq.close();
  await db.drop();
});

test('the library resolves a table without a schema through search_path, as regclass does', async () => {
  const session = await aq.createSession();
  await session.subscribeTable('person');
  await session.subscribeColumn('PERSON', 'name'); // unquoted: folds to lower case
  await aq.pool.query("INSERT INTO app.person VALUES (1, 'in app'); INSERT INTO public.person VALUES (1, 'in public')");
  const events = await queued(db.pool, session.id);
  assert.deepEqual(events.map((e) => [e.relation_id.schema_id.name, e.operation]), [['app', 'row_insert'], ['app', 'row_insert']],
    'app.person, first in search_path; not public.person');
  await session.subscribeTable('public.person');
  await session.subscribeTable('"we""ird; drop"');
  await assert.rejects(session.subscribeTable('nobody'), (error: unknown) =>
    error instanceof AqeventError && error.sqlstate === '42P01' && /"nobody" does not exist/.test(error.message));
  await assert.rejects(session.subscribeTable('"Person"'), (error: unknown) => error instanceof AqeventError && error.sqlstate === '42P01');
});

test('the CLI takes a table without a schema; a name that finds nothing is one line with 42P01', async () => {
  const session = ok(await cli('session', 'create')).trim();
  ok(await cli('subscribe', session, 'table', 'person'));
  ok(await cli('subscribe', session, 'row', 'person', '1'));
  const shown = ok(await cli('session', 'show', session));
  assert.match(shown, /\btable\s+app\.person\b/);
  assert.match(shown, /\brow\s+app\.person\s+1\b/);
  const missing = await cli('subscribe', session, 'table', 'nobody');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^aqevent: table "nobody" does not exist \(search_path: app, public\) \[42P01\]\n$/);
});

test('human output quotes identifiers and key values that need it, so nothing can be misread', async () => {
  const session = ok(await cli('session', 'create')).trim();
  ok(await cli('subscribe', session, 'table', 'public."we""ird; drop"'));
  ok(await cli('subscribe', session, 'table', 'pair'));
  ok(await cli('subscribe', session, 'row', 'pair', '"x,y",z'));
  await db.pool.query(`INSERT INTO public."we""ird; drop" VALUES ('x,y', 1), ('plain', 2);
    INSERT INTO public.pair VALUES ('x,y', 'z'), ('x', 'y,z');
    DELETE FROM public.pair WHERE a = 'x,y'`);
  const lines = ok(await cli('drain', session)).split('\n').filter((line) => line.includes('#'));
  assert.equal(lines.length, 6, lines.join('\n'));
  assert.match(lines[0]!, /row_insert\s+public\."we""ird; drop"\["x,y"\] k="x,y" "Order"=1/);
  assert.match(lines[1]!, /row_insert\s+public\."we""ird; drop"\[plain\] k="plain" "Order"=2/);
  assert.match(lines[2]!, /row_insert\s+public\.pair\["x,y",z\]/);
  assert.match(lines[3]!, /row_insert\s+public\.pair\[x,"y,z"\]/, 'two keys that print alike without quotes differ');
  assert.match(lines[4]!, /row_delete\s+public\.pair\["x,y",z\]/);
  assert.match(lines[5]!, /row_delete\s+public\.pair\["x,y",z\]/, 'the same delete, through the row subscription');
  const shown = ok(await cli('session', 'show', session));
  assert.match(shown, /\brow\s+public\.pair\s+"x,y",z\b/, 'session show prints the key as subscribe reads it');
});
