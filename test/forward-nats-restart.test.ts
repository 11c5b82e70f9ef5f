// The forwarder (a CLI subprocess) through outages of NATS: the test's own
// nats-server restarted twice mid-run. The stream ends with every event
// exactly once, each row's events in order, and nothing left in the session.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { assertExactlyOnce, killForwarders, remaining, rowsWithHistory, startForwarder, stopForwarder, untilRemaining } from './support/forward.js';
import { type OwnNats, readStream, startOwnNats } from './support/nats.js';

const ROWS = 300;
const CHANGES = 10;
const FORWARD_ARGS = ['--lease', '5s', '--batch', '25', '--max-in-flight', '50'];

let db: TestDatabase;
let nats: OwnNats | undefined;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await killForwarders();
  await nats?.destroy();
  await db.drop();
});

test('the NATS server restarted twice mid-run: every event exactly once, rows in order, nothing left', async (t) => {
  nats = await startOwnNats();
  const stream = 'AQTEST_RESTART';
  const { sessionId, ids } = await rowsWithHistory(db, 'restart_work', ROWS, CHANGES);
  const total = ids.length;
  const forwarder = startForwarder(db, sessionId, nats.url, stream, FORWARD_ARGS);
  for (const share of [1 / 3, 2 / 3]) {
    await untilRemaining(db, sessionId, Math.round(total * (1 - share)), forwarder);
    await nats.stop();
    const atStop = await remaining(db, sessionId);
    await nats.start();
    t.diagnostic(`nats-server restarted with ${total - atStop} of ${total} events acknowledged`);
  }
  await untilRemaining(db, sessionId, 0, forwarder);
  await stopForwarder(forwarder);
  assert.match(forwarder.stderr(), /nats: lost the connection/);
  assert.match(forwarder.stderr(), /nats: reconnected/);

  const counts = assertExactlyOnce(await readStream(nats.url, stream), sessionId, ids);
  assert.equal(counts.messages, total);
  assert.equal(counts.rows, ROWS);
  assert.equal(await remaining(db, sessionId), 0);
  const reconnects = forwarder.stderr().split('\n').filter((line) => /reconnecting to/.test(line)).length;
  t.diagnostic(`2 restarts: ${counts.messages} messages, ${counts.distinctMessageIds} distinct message ids, `
    + `${counts.distinctEvents} distinct events of ${total}, ${counts.rows} rows in order, ${reconnects} reconnect attempts logged; ${forwarder.stdout().trim()}`);
});
