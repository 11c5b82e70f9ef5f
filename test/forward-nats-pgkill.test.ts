// The forwarder (a CLI subprocess) through outages of PostgreSQL: its
// connections terminated (pg_terminate_backend) three times mid-run. The
// stream (on the shared nats-server) ends with every event exactly once,
// each row's events in order, and nothing left in the session.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { assertExactlyOnce, killForwarders, remaining, rowsWithHistory, startForwarder, stopForwarder, untilRemaining } from './support/forward.js';
import { deleteStream, readStream, SHARED_NATS } from './support/nats.js';

const ROWS = 300;
const CHANGES = 10;
const FORWARD_ARGS = ['--lease', '5s', '--batch', '25', '--max-in-flight', '50'];

let db: TestDatabase;
const sharedStreams: string[] = [];
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await killForwarders();
  for (const stream of sharedStreams) await deleteStream(SHARED_NATS, stream);
  await db.drop();
});

test('the forwarder\'s PostgreSQL connections terminated three times mid-run: every event exactly once, rows in order, nothing left', async (t) => {
  const stream = `AQTEST_PGKILL_${randomBytes(4).toString('hex')}`;
  sharedStreams.push(stream);
  const { sessionId, ids } = await rowsWithHistory(db, 'pgkill_work', ROWS, CHANGES);
  const total = ids.length;
  const forwarder = startForwarder(db, sessionId, SHARED_NATS, stream, FORWARD_ARGS);
  let terminated = 0;
  for (const share of [1 / 4, 2 / 4, 3 / 4]) {
    await untilRemaining(db, sessionId, Math.round(total * (1 - share)), forwarder);
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND starts_with(application_name, 'aqevent-fwd:' || replace($1::text, '-', ''))) t`, [sessionId]);
    assert.ok(rows[0]!.n > 0, 'the forwarder had connections to terminate');
    terminated += rows[0]!.n;
    t.diagnostic(`terminated ${rows[0]!.n} connections with ${total - (await remaining(db, sessionId))} of ${total} events acknowledged`);
  }
  await untilRemaining(db, sessionId, 0, forwarder);
  await stopForwarder(forwarder);
  assert.match(forwarder.stderr(), /postgres: .*\(retrying\)/);

  const counts = assertExactlyOnce(await readStream(SHARED_NATS, stream), sessionId, ids);
  assert.equal(counts.messages, total);
  assert.equal(counts.rows, ROWS);
  t.diagnostic(`${terminated} connections terminated: ${counts.messages} messages, ${counts.distinctMessageIds} distinct message ids, `
    + `${counts.distinctEvents} distinct events of ${total}, ${counts.rows} rows in order`);
});
