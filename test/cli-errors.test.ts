// One-line CLI errors with a way out, as subprocesses: unmigrated database, missing grant, PostgreSQL's detail and hint kept.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase, withDatabase } from './support/database.js';
import { runCli } from './support/cli.js';
import { createRoles, endRoles, type TestRole } from './support/roles.js';

let db: TestDatabase;
let empty: string;
let roles: Record<'stranger' | 'user', TestRole>;
before(async () => {
  db = await createTestDatabase();
  empty = `${db.name}_empty`;
  await db.pool.query(`CREATE DATABASE "${empty}"`);
  roles = await createRoles(db, ['stranger', 'user'] as const);
  await db.pool.query(`GRANT aqevent_user TO ${roles.user.sql}`);
});
after(async () => {
  await endRoles(roles);
  await db.pool.query(`DROP DATABASE IF EXISTS "${empty}" WITH (FORCE)`);
  await db.drop();
});

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, no stack trace: ${stderr}`);
  return lines[0]!;
}

test('an unmigrated database: 3F000 and "run `aqevent migrate`"; the same code for another schema adds nothing', async () => {
  const unmigrated = await runCli(['--database-url', withDatabase(db.url, empty), 'session', 'create']);
  assert.equal(unmigrated.code, 1);
  assert.match(oneLine(unmigrated.stderr), /^aqevent: .*schema "event" does not exist \[3F000\]; run `aqevent migrate`/);
  const migrated = await runCli(['--database-url', withDatabase(db.url, empty), 'migrate'], {}, 120_000);
  assert.equal(migrated.code, 0, migrated.stderr);
  const works = await runCli(['--database-url', withDatabase(db.url, empty), 'session', 'create']);
  assert.equal(works.code, 0, works.stderr);

  const session = works.stdout.trim();
  const otherSchema = await runCli(['--database-url', withDatabase(db.url, empty), 'subscribe', session, 'table', 'no_such_schema.t']);
  assert.equal(otherSchema.code, 1);
  const line = oneLine(otherSchema.stderr);
  assert.match(line, /\[3F000\]|\[42P01\]/);
  assert.doesNotMatch(line, /aqevent migrate/, 'the event schema is there: migrating would not help');
});

test('a role without aqevent_user: 42501 and "grant aqevent_user to <role>"; a member denied for another reason gets no such advice', async () => {
  const denied = await runCli(['--database-url', roles.stranger.url, 'session', 'list']);
  assert.equal(denied.code, 1);
  assert.match(oneLine(denied.stderr), new RegExp(`\\[42501\\]; .*grant aqevent_user to ${roles.stranger.name}$`));

  await db.pool.query('CREATE TABLE secret (id int PRIMARY KEY); REVOKE ALL ON secret FROM PUBLIC');
  const session = (await runCli(['--database-url', roles.user.url, 'session', 'create'])).stdout.trim();
  const member = await runCli(['--database-url', roles.user.url, 'subscribe', session, 'table', 'public.secret']);
  assert.equal(member.code, 1);
  const line = oneLine(member.stderr);
  assert.match(line, /\[42501\]/);
  assert.doesNotMatch(line, /grant aqevent_user/);
});

test('PostgreSQL\'s detail and hint stay in the one line', async () => {
  // A role that may read a table but not lock it cannot be the one to install its capture: 42501 with a detail and a hint.
  await db.pool.query(`CREATE TABLE readable (id int PRIMARY KEY); GRANT SELECT ON readable TO ${roles.user.sql}`);
  const session = (await runCli(['--database-url', roles.user.url, 'session', 'create'])).stdout.trim();
  // What the server says, asked directly: the CLI must pass it on whatever the wording.
  const client = new pg.Client({ connectionString: roles.user.url });
  await client.connect();
  const expected = await client.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'readable'))", [session])
    .then(() => assert.fail('the subscription is refused'), (error: pg.DatabaseError) => error);
  await client.end();
  assert.ok(expected.detail && expected.hint, `the server gives a detail and a hint: ${expected.message}`);
  const result = await runCli(['--database-url', roles.user.url, 'subscribe', session, 'table', 'public.readable']);
  assert.equal(result.code, 1);
  const line = oneLine(result.stderr);
  assert.ok(line.includes(`[${expected.code}]; detail: ${expected.detail}; hint: ${expected.hint}`), line);
  assert.doesNotMatch(line, /grant aqevent_user/, 'a member of aqevent_user: the grant would not help');
});
