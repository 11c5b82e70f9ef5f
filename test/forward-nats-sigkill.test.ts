// The forwarder (a real CLI subprocess) killed with SIGKILL twelve times
// while forwarders forward 3,000 events into JetStream (the shared nats-server on
// 127.0.0.1:4222, a stream of this test's own): the stream then holds each
// event exactly once, each row's events in order, and the session is empty.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { assertExactlyOnce, killForwarders, remaining, rowsWithHistory, startForwarder, stopForwarder, untilRemaining } from './support/forward.js';
import { deleteStream, readStream, SHARED_NATS } from './support/nats.js';
import { eventually } from './support/roles.js';

const STREAM = `AQTEST_KILL_${randomBytes(4).toString('hex')}`;
const ROWS = 300;
const CHANGES = 10;
const KILLS = 12;
// A killed forwarder's leases block the (strict) session until they end: short, but several renewals long.
const FORWARD_ARGS = ['--lease', '1s', '--batch', '50', '--max-in-flight', '50'];

let db: TestDatabase;

/** Events of the session leased right now (to either forwarder). */
async function leased(sessionId: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>('SELECT in_flight AS n FROM event.stats() WHERE session_id = $1', [sessionId]);
  return Number(rows[0]?.n ?? 0);
}
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await killForwarders();
  await deleteStream(SHARED_NATS, STREAM);
  await db.drop();
});

test('3,000 events through 12 SIGKILLs of the forwarder: each exactly once in the stream, rows in order, nothing left', async (t) => {
  const { sessionId, ids } = await rowsWithHistory(db, 'kill_work', ROWS, CHANGES);
  const total = ids.length;
  // Two forwarders run at once (the session is strict: they take turns): the older one is killed, the
  // younger takes over, and a new one starts, so that starting a process (slow on a loaded machine)
  // overlaps the work instead of adding to it.
  let current = startForwarder(db, sessionId, SHARED_NATS, STREAM, FORWARD_ARGS);
  let standby = startForwarder(db, sessionId, SHARED_NATS, STREAM, FORWARD_ARGS);
  let killedInFlight = 0;
  for (let kill = 1; kill <= KILLS; kill++) {
    // Kill points spread over the run: after a further share of the events is forwarded, plus a random moment.
    const target = Math.round((total * kill) / (KILLS + 2));
    await untilRemaining(db, sessionId, total - target, current);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 50));
    const inFlight = await leased(sessionId);
    current.child.kill('SIGKILL');
    const { signal } = await current.exited;
    assert.equal(signal, 'SIGKILL', `kill ${kill} landed while the forwarder ran: ${current.stderr()}`);
    if (inFlight > 0) killedInFlight++;
    t.diagnostic(`kill ${kill}: ${total - (await remaining(db, sessionId))} of ${total} events acknowledged, ${inFlight} leased at the kill`);
    current = standby;
    standby = startForwarder(db, sessionId, SHARED_NATS, STREAM, FORWARD_ARGS);
  }
  const left = await remaining(db, sessionId);
  assert.ok(left > 0, 'the last kill came while events were left');

  await untilRemaining(db, sessionId, 0, current);
  await stopForwarder(current);
  // The last standby may still be starting: a SIGTERM before the CLI handles signals is not a graceful stop.
  await eventually(async () => (/using stream/.test(standby.stderr()) ? true : undefined), 'the standby forwarder to be up', 60_000);
  await stopForwarder(standby);

  const messages = await readStream(SHARED_NATS, STREAM);
  const counts = assertExactlyOnce(messages, sessionId, ids);
  assert.equal(counts.messages, total);
  assert.equal(counts.rows, ROWS);
  assert.equal(await remaining(db, sessionId), 0, 'nothing is left in the session');
  t.diagnostic(`${KILLS} kills: ${counts.messages} messages, ${counts.distinctMessageIds} distinct message ids, `
    + `${counts.distinctEvents} distinct events of ${total}, ${counts.rows} rows in order, ${left} events were left at the last kill, ${killedInFlight} kills with events leased`);
});
