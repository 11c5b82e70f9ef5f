// Session time to live: set on create or later, validated.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Aqevent } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
let aq: Aqevent;
before(async () => {
  db = await createTestDatabase();
  aq = await Aqevent.connect({ pool: db.pool });
});
after(() => db.drop());

const ttlOf = async (id: string) =>
  (await db.pool.query("SELECT extract(epoch FROM ttl)::int AS s FROM event.session WHERE id = $1", [id])).rows[0].s;

test('a ttl given as a duration is stored as an interval; null clears it', async () => {
  const session = await aq.createSession({ ttl: '7d' });
  assert.equal(await ttlOf(session.id), 7 * 86400);
  await session.configure({ ttl: 'PT90M' });
  assert.equal(await ttlOf(session.id), 90 * 60);
  await session.configure({ ttl: null });
  assert.equal(await ttlOf(session.id), null);
  const { rows } = await db.pool.query("SELECT event.session_create(interval '1 hour') AS id");
  assert.equal(await ttlOf(rows[0].id), 3600);
});

test('bad ttls are refused before and inside the database', async () => {
  await assert.rejects(aq.createSession({ ttl: 'soon' }), (error: Error & { code?: string }) =>
    error.code === 'invalid_argument' && /ttl "soon" is not a duration/.test(error.message));
  await assert.rejects(db.pool.query("SELECT event.session_create(interval '-1 hour')"),
    (error: Error & { code?: string }) => error.code === '22023');
});
