/**
 * The HTTP API without a browser (docs/http.md): every error status, the
 * Last-Event-ID resume with exact ids, manual acks, heartbeats, roles and
 * column privileges, CORS, metrics, one LISTEN connection for many streams.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Aqevent } from '../src/client.js';
import { createHandler } from '../src/http/handler.js';
import type { RunningServer } from '../src/http/serve.js';
import { queued } from './support/events.js';
import { api, httpFixture, type HttpFixture, isEvent, openStream, SECRET } from './support/http.js';
import { eventually } from './support/roles.js';

let f: HttpFixture;
let server: RunningServer;
let alice: string;
let bob: string;

before(async () => {
  f = await httpFixture();
  server = await f.start({ heartbeat: 100 });
  alice = await f.token(f.roles.alice.name);
  bob = await f.token(f.roles.bob.name);
});
after(() => f.close());

async function sessionWithTable(token: string, table = 'public.person'): Promise<string> {
  const created = await api(server.url, 'POST', '/sessions', { token, body: { ttl: '1h' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const sub = await api(server.url, 'POST', `/sessions/${created.body.id}/subscriptions`, { token, body: { grain: 'table', target: table } });
  assert.equal(sub.status, 201, JSON.stringify(sub.body));
  return created.body.id;
}

const pendingIds = async (session: string) => (await queued(f.db.pool, session)).map((e) => String(e.id));

async function insert(...names: string[]): Promise<void> {
  for (const name of names) await f.db.pool.query('INSERT INTO public.person (name, score, secret) VALUES ($1, 1, $2)', [name, `${name}-secret`]);
}

test('401: no token without an anonymous role, a malformed, forged or expired token, a token without a role', async () => {
  const none = await api(server.url, 'POST', '/sessions');
  assert.deepEqual([none.status, none.body.code], [401, 'unauthorized']);
  const cases = [
    { headers: { authorization: 'Basic abc' } },
    { token: 'not-a-jwt' },
    { token: await f.token(f.roles.alice.name, { secret: 'another secret, another signature' }) },
    { token: await f.token(f.roles.alice.name, { ttlMs: -60_000 }) },
  ];
  for (const c of cases) {
    const response = await api(server.url, 'POST', '/sessions', c);
    assert.deepEqual([response.status, response.body.code], [401, 'unauthorized'], JSON.stringify(response.body));
  }
  const expired = await api(server.url, 'POST', '/sessions', cases[3]!);
  assert.match(expired.body.error, /expired/);
  const query = await api(server.url, 'POST', `/sessions?access_token=${alice}`);
  assert.equal(query.status, 201, 'the token is also taken from ?access_token=');
});

test('no token: the anonymous role when one is set', async () => {
  const anon = await f.start({ anonRole: f.roles.alice.name });
  const created = await api(anon.url, 'POST', '/sessions');
  assert.equal(created.status, 201);
  const { rows } = await f.db.pool.query('SELECT pg_get_userbyid(owner_role) AS owner FROM event.session WHERE id = $1', [created.body.id]);
  assert.equal(rows[0].owner, f.roles.alice.name);
});

test("403: a role the login role may not become, a role that does not exist; 404 on another role's session", async () => {
  const carol = await api(server.url, 'POST', '/sessions', { token: await f.token(f.roles.carol.name) });
  assert.equal(carol.status, 403);
  assert.equal(carol.body.code, 'forbidden');
  assert.match(carol.body.error, /may not act as role/);
  const ghost = await api(server.url, 'POST', '/sessions', { token: await f.token('no such "role"') });
  assert.deepEqual([ghost.status, ghost.body.code], [403, 'forbidden']);
  assert.match(ghost.body.error, /does not exist/);

  const session = await sessionWithTable(alice);
  const stream = await openStream(`${server.url}/sessions/${session}/events`, { token: bob });
  assert.equal(stream.status, 404);
  const sub = await api(server.url, 'POST', `/sessions/${session}/subscriptions`, { token: bob, body: { grain: 'table', target: 'public.person' } });
  assert.deepEqual([sub.status, sub.body.code], [404, '42704']);
  const ack = await api(server.url, 'POST', `/sessions/${session}/ack`, { token: bob, body: { ids: ['1'] } });
  assert.deepEqual([ack.status, ack.body.code], [404, '42704']);
  const del = await api(server.url, 'DELETE', `/sessions/${session}`, { token: bob });
  assert.equal(del.status, 404);
  const carolRows = await api(server.url, 'GET', '/tables/public.person/rows', { token: await f.token(f.roles.carol.name) });
  assert.equal(carolRows.status, 403);
});

test('400, 404, 405, 409: bad input, unknown things, wrong methods, conflicts', async () => {
  const session = await sessionWithTable(alice);
  const subs = `/sessions/${session}/subscriptions`;
  for (const field of ['filter', 'snapshot', 'columns']) {
    const response = await api(server.url, 'POST', subs, { token: alice, body: { grain: 'table', target: 'public.person', [field]: {} } });
    assert.deepEqual([response.status, response.body.code], [400, 'bad_request']);
    assert.match(response.body.error, new RegExp(`${field}:`));
  }
  // a filter the database refuses: its SQLSTATE
  const refused = await api(server.url, 'POST', subs, { token: alice, body: { grain: 'table', target: 'public.person', filter: 'nosuch > 1' } });
  assert.deepEqual([refused.status, refused.body.code], [404, '42703']);
  const volatile = await api(server.url, 'POST', subs, { token: alice, body: { grain: 'table', target: 'public.person', filter: 'random() > 0.5' } });
  assert.deepEqual([volatile.status, volatile.body.code], [400, '22023']);
  const filtered = await api(server.url, 'POST', subs,
    { token: alice, body: { grain: 'table', target: 'public.person', filter: "name = 'Joe'", columns: ['name'], snapshot: true } });
  assert.equal(filtered.status, 201);
  assert.equal((await api(server.url, 'POST', subs, { token: alice, body: { grain: 'row', target: ['public.person', 1], snapshot: true } })).status, 400);
  const bad = [
    { body: { grain: 'galaxy', target: 'public.person' } },
    { body: { grain: 'table' } },
    { rawBody: '{"grain": ' },
  ];
  for (const c of bad) assert.equal((await api(server.url, 'POST', subs, { token: alice, ...c })).status, 400, JSON.stringify(c));
  // an unqualified name resolves through the role's search_path, as PostgreSQL resolves it
  assert.equal((await api(server.url, 'POST', subs, { token: alice, body: { grain: 'table', target: 'person' } })).status, 201);
  assert.equal((await api(server.url, 'POST', '/sessions', { token: alice, body: { ttl: 'forever' } })).status, 400);
  const lastId = await openStream(`${server.url}/sessions/${session}/events`, { token: alice, lastEventId: 'abc' });
  assert.equal(lastId.status, 400);
  assert.equal((await openStream(`${server.url}/sessions/${session}/events?ack=never`, { token: alice })).status, 400);
  assert.equal((await api(server.url, 'POST', `/sessions/${session}/ack`, { token: alice, body: { ids: ['x'] } })).status, 400);

  const missingTable = await api(server.url, 'POST', subs, { token: alice, body: { grain: 'table', target: 'public.nothing' } });
  assert.deepEqual([missingTable.status, missingTable.body.code], [404, '42P01']);
  const noKey = await api(server.url, 'POST', subs, { token: alice, body: { grain: 'row', target: ['public.nokey', 1] } });
  assert.deepEqual([noKey.status, noKey.body.code], [409, '55000']);
  const denied = await api(server.url, 'POST', subs, { token: bob, body: { grain: 'table', target: 'public.nokey' } });
  assert.equal(denied.status, 404, 'not bob\'s session');
  assert.equal((await api(server.url, 'GET', '/nowhere', { token: alice })).status, 404);
  assert.equal((await api(server.url, 'DELETE', '/subscriptions/not-a-uuid', { token: alice })).status, 404);
  assert.equal((await api(server.url, 'DELETE', '/subscriptions/00000000-0000-4000-8000-000000000000', { token: alice })).status, 404);
  const wrong = await api(server.url, 'PUT', '/sessions', { token: alice });
  assert.deepEqual([wrong.status, wrong.headers.get('allow')], [405, 'POST']);
  assert.equal((await api(server.url, 'GET', '/tables/public.nothing/rows', { token: alice })).status, 404);
});

test('503 when the database cannot be reached', async () => {
  const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 2000 });
  pool.on('error', () => {});
  const aq = await Aqevent.connect({ pool });
  const handler = createHandler(aq, { jwtSecret: SECRET, env: {} });
  const { createServer } = await import('node:http');
  const down = createServer(handler);
  await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(down.address() as { port: number }).port}`;
  try {
    const response = await api(url, 'POST', '/sessions', { token: alice });
    assert.equal(response.status, 503);
    assert.equal((await api(url, 'GET', '/healthz')).status, 503);
  } finally {
    await handler.close();
    down.close();
    await pool.end();
  }
});

test('a stream: the backlog, then live events, each with id, event and data', async () => {
  const session = await sessionWithTable(alice);
  await insert('Backlog');
  const stream = await openStream(`${server.url}/sessions/${session}/events`, { token: alice });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type')!, /^text\/event-stream/);
  const [first] = await stream.waitFor(isEvent);
  await f.db.pool.query("UPDATE public.person SET score = 99 WHERE name = 'Backlog'");
  await f.db.pool.query("DELETE FROM public.person WHERE name = 'Backlog'");
  const events = await stream.waitFor(isEvent, 3);
  stream.close();
  assert.deepEqual(events.map((m) => m.event), ['row_insert', 'field_update', 'row_delete']);
  for (const m of events) {
    const data = JSON.parse(m.data!);
    assert.equal(String(data.id), m.id);
    assert.equal(data.operation, m.event);
  }
  assert.equal(first!.id, events[0]!.id);
  assert.deepEqual(JSON.parse(events[0]!.data!).payload, { id: JSON.parse(events[0]!.data!).payload.id, name: 'Backlog', score: 1, secret: 'Backlog-secret' });
});

test('Last-Event-ID acknowledges exactly what was sent up to it and resumes after it, also after a restart', async () => {
  const session = await sessionWithTable(alice);
  await insert('L1', 'L2', 'L3', 'L4');
  const ids = await pendingIds(session);
  assert.equal(ids.length, 4);
  const url = `${server.url}/sessions/${session}/events`;
  const first = await openStream(url, { token: alice });
  await first.waitFor(isEvent, 4);
  first.close();
  assert.deepEqual(first.ids(), ids);

  const second = await openStream(url, { token: alice, lastEventId: ids[1] });
  await second.waitFor(isEvent, 2);
  assert.deepEqual(second.ids(), ids.slice(2), 'resumes after the last id, nothing twice');
  assert.deepEqual(await pendingIds(session), ids.slice(2), 'everything up to it is acknowledged');
  second.close();

  // A new server knows nothing of what was sent: it acknowledges the pending events up to the id.
  const restarted = await f.start();
  const third = await openStream(`${restarted.url}/sessions/${session}/events`, { token: alice, lastEventId: ids[2] });
  await third.waitFor(isEvent, 1);
  await insert('L5');
  const [, live] = await third.waitFor(isEvent, 2);
  third.close();
  assert.deepEqual(third.ids(), [ids[3], live!.id]);
  assert.deepEqual(await pendingIds(session), [ids[3], live!.id]);
});

test('?ack=manual: Last-Event-ID only skips; POST /sessions/:id/ack acknowledges', async () => {
  const session = await sessionWithTable(alice);
  await insert('M1', 'M2', 'M3');
  const ids = await pendingIds(session);
  const url = `${server.url}/sessions/${session}/events?ack=manual`;
  const first = await openStream(url, { token: alice });
  await first.waitFor(isEvent, 3);
  first.close();
  const second = await openStream(url, { token: alice, lastEventId: ids[1] });
  await second.waitFor(isEvent, 1);
  assert.deepEqual(second.ids(), [ids[2]]);
  assert.deepEqual(await pendingIds(session), ids, 'nothing acknowledged by Last-Event-ID');
  const acked = await api(server.url, 'POST', `/sessions/${session}/ack`, { token: alice, body: { ids: [ids[0], ids[2]] } });
  assert.deepEqual([acked.status, acked.body], [200, { acknowledged: 2 }]);
  assert.deepEqual(await pendingIds(session), [ids[1]]);
  second.close();
});

test('an event whose transaction began first and commits last is still sent', async () => {
  const session = await sessionWithTable(alice);
  const stream = await openStream(`${server.url}/sessions/${session}/events`, { token: alice });
  const slow = await f.db.pool.connect();
  try {
    await slow.query('BEGIN');
    await slow.query("INSERT INTO public.person (name, score) VALUES ('early id, late commit', 1)");
    await insert('later id, early commit');
    const [fast] = await stream.waitFor(isEvent);
    assert.equal(JSON.parse(fast!.data!).payload.name, 'later id, early commit');
    await slow.query('COMMIT');
    // Whether capture numbered it below the first (ids drawn in the writer) or above it (ids given in
    // commit order), the stream reads from its floor, not after the last id sent: the late commit arrives.
    const [, late] = await stream.waitFor(isEvent, 2);
    assert.equal(JSON.parse(late!.data!).payload.name, 'early id, late commit');
  } finally {
    slow.release();
    stream.close();
  }
});

test("heartbeats: a comment within the interval; the default interval is at most 15 s", async () => {
  const session = await sessionWithTable(alice);
  const stream = await openStream(`${server.url}/sessions/${session}/events`, { token: alice });
  await stream.waitFor((m) => m.comment === 'heartbeat', 2, 2000);
  stream.close();
  assert.throws(() => createHandler(f.aq, { heartbeat: '16s' }), /heartbeat must be between/);
  const plain = await f.start();
  const started = Date.now();
  const defaults = await openStream(`${plain.url}/sessions/${session}/events`, { token: alice });
  await defaults.waitFor((m) => m.comment === 'heartbeat', 1, 15_500);
  defaults.close();
  assert.ok(Date.now() - started <= 15_500);
});

test("column privileges decide what a role's events and rows hold", async () => {
  const created = await api(server.url, 'POST', '/sessions', { token: bob });
  const session = created.body.id;
  const table = await api(server.url, 'POST', `/sessions/${session}/subscriptions`, { token: bob, body: { grain: 'table', target: 'public.account' } });
  assert.deepEqual([table.status, table.body.code], [403, '42501'], 'a table grain needs SELECT on every column');
  const column = await api(server.url, 'POST', `/sessions/${session}/subscriptions`, { token: bob, body: { grain: 'column', target: ['public.account', 'name'] } });
  assert.equal(column.status, 201, JSON.stringify(column.body));
  const rows = await api(server.url, 'GET', '/tables/public.account/rows', { token: bob });
  assert.equal(rows.status, 200);
  assert.deepEqual(rows.body, { table: 'public.account', key: ['id'], columns: ['id', 'name'], rows: [{ id: 1, name: 'one' }] });
  const aliceRows = await api(server.url, 'GET', '/tables/public.account/rows', { token: alice });
  assert.deepEqual(aliceRows.body.rows, [{ id: 1, name: 'one', secret: 'hidden' }]);
  const stream = await openStream(`${server.url}/sessions/${session}/events`, { token: bob });
  await f.db.pool.query("INSERT INTO public.account VALUES (2, 'two', 'also hidden')");
  const [event] = await stream.waitFor(isEvent);
  stream.close();
  assert.deepEqual(JSON.parse(event!.data!).payload, { id: 2, name: 'two' });
});

test('CORS: no origin allowed by default; configured origins get the headers and preflights', async () => {
  const plain = await api(server.url, 'GET', '/healthz', { headers: { origin: 'http://elsewhere.test' } });
  assert.equal(plain.headers.get('access-control-allow-origin'), null);
  const refused = await fetch(`${server.url}/sessions`, { method: 'OPTIONS', headers: { origin: 'http://elsewhere.test' } });
  assert.equal(refused.status, 403);
  const open = await f.start({ corsOrigins: ['http://app.test'] });
  const allowed = await api(open.url, 'GET', '/healthz', { headers: { origin: 'http://app.test' } });
  assert.equal(allowed.headers.get('access-control-allow-origin'), 'http://app.test');
  const preflight = await fetch(`${open.url}/sessions`, { method: 'OPTIONS', headers: { origin: 'http://app.test' } });
  assert.equal(preflight.status, 204);
  assert.match(preflight.headers.get('access-control-allow-headers')!, /authorization/);
  const other = await api(open.url, 'GET', '/healthz', { headers: { origin: 'http://elsewhere.test' } });
  assert.equal(other.headers.get('access-control-allow-origin'), null);
});

test('many streams share one LISTEN connection; /metrics counts them and their sessions', async () => {
  const own = await f.start();
  const sessions = await Promise.all(Array.from({ length: 12 }, () => sessionWithTable(alice)));
  const streams = await Promise.all(sessions.map((s) => openStream(`${own.url}/sessions/${s}/events`, { token: alice })));
  await eventually(async () => (own.handler.streams === 12 ? true : undefined), 'twelve streams');
  await insert('Fan-out');
  await Promise.all(streams.map((s) => s.waitFor(isEvent)));
  const { rows } = await f.db.pool.query<{ n: number; listens: number }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE query ILIKE 'LISTEN%')::int AS listens
     FROM pg_stat_activity WHERE usename = $1 AND datname = current_database()`, [f.roles.srv.name]);
  assert.ok(rows[0]!.n <= 6, `at most the pool's 6 connections for 12 streams (${rows[0]!.n})`);
  const metrics = await api(own.url, 'GET', '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^aqevent_sse_streams 12$/m);
  assert.match(metrics.body, /^aqevent_listen_connected 1$/m);
  assert.match(metrics.body, new RegExp(`^aqevent_session_backlog\\{session="${sessions[0]}"\\} \\d+$`, 'm'));
  assert.match(metrics.body, /^aqevent_events_delivered_total \d+$/m);
  assert.match(metrics.body, new RegExp(`^aqevent_session_events_captured_total\\{session="${sessions[0]}"\\} \\d+$`, 'm'));
  assert.match(metrics.body, new RegExp(`^aqevent_session_events_acknowledged_total\\{session="${sessions[0]}"\\} \\d+$`, 'm'));
  assert.match(metrics.body, /^aqevent_delivery_latency_seconds_count [1-9]\d*$/m);
  assert.match(metrics.body, /^aqevent_pool_connections\{state="total"\} \d+$/m);
  for (const s of streams) s.close();
  await eventually(async () => (own.handler.streams === 0 ? true : undefined), 'streams closed');
  const health = await api(own.url, 'GET', '/healthz');
  assert.equal(health.status, 200);
});

test('a deleted session ends its stream with an error event', async () => {
  const session = await sessionWithTable(alice);
  const stream = await openStream(`${server.url}/sessions/${session}/events`, { token: alice });
  await stream.waitFor((m) => m.comment === 'heartbeat');
  assert.equal((await api(server.url, 'DELETE', `/sessions/${session}`, { token: alice })).status, 204);
  // No notification comes for a deleted session: the poll re-reads the stream and finds it gone.
  const [error] = await stream.waitFor((m) => m.event === 'error', 1, 15_000);
  assert.equal(JSON.parse(error!.data!).code, '42704');
});

test('a read that fails is reported to onReadError (aqevent serve prints it) and ends the stream with its SQLSTATE', async () => {
  const failures: Array<{ sqlstate: string | undefined; sessions: number }> = [];
  const watched = await f.start({ poll: 100, onReadError: (error, sessions) => failures.push({ sqlstate: error.sqlstate, sessions }) });
  try {
    const session = await sessionWithTable(bob);
    const stream = await openStream(`${watched.url}/sessions/${session}/events`, { token: bob });
    await stream.waitFor((m) => m.comment === 'heartbeat');
    assert.equal(failures.length, 0, JSON.stringify(failures));
    await f.db.pool.query(`REVOKE aqevent_user FROM ${f.roles.bob.sql}`);
    const [error] = await stream.waitFor((m) => m.event === 'error', 1, 15_000);
    assert.equal(JSON.parse(error!.data!).code, '42501');
    assert.ok(failures.some((x) => x.sqlstate === '42501' && x.sessions === 1), JSON.stringify(failures));
  } finally {
    await f.db.pool.query(`GRANT aqevent_user TO ${f.roles.bob.sql}`);
    await watched.close();
  }
});

test('the poll: an event no notification announces reaches the stream within the poll interval', async () => {
  const polled = await f.start({ poll: 300 });
  try {
    const session = await sessionWithTable(alice);
    const stream = await openStream(`${polled.url}/sessions/${session}/events`, { token: alice });
    await f.db.pool.query('DELETE FROM event.inbox WHERE session_id = $1', [session]);
    await new Promise((resolve) => setTimeout(resolve, 400)); // read at least once since
    // an event put straight into the inbox (as a requeued dead letter is): no NOTIFY
    const id = 9_000_000_000_000;
    const put = Date.now();
    await f.db.pool.query(
      "INSERT INTO event.inbox (session_id, id, operation, event, created_at) VALUES ($1, $2, 'row_insert', $3, now())",
      [session, id, JSON.stringify({ id, operation: 'row_insert', payload: { name: 'unannounced' } })]);
    const [message] = await stream.waitFor((m) => isEvent(m) && m.id === String(id), 1, 5_000);
    assert.equal(JSON.parse(message!.data!).payload.name, 'unannounced');
    assert.ok(Date.now() - put < 2_000, `within the poll interval and a read (${Date.now() - put} ms)`);
  } finally {
    await polled.close();
  }
});

test('GET /client.js serves the browser module', async () => {
  const response = await fetch(`${server.url}/client.js`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type')!, /javascript/);
  assert.match(await response.text(), /export function liveTable/);
});

test('pages: a backlog larger than a page arrives whole and in order, and live events after it', async () => {
  const small = await f.start({ pageSize: 2, poll: 50 });
  const session = await sessionWithTable(alice);
  await insert('P1', 'P2', 'P3', 'P4', 'P5');
  const ids = await pendingIds(session);
  const stream = await openStream(`${small.url}/sessions/${session}/events`, { token: alice });
  await stream.waitFor(isEvent, 5);
  // Polls every 50 ms move the stream's floor past the backlog; what comes next is still sent, once.
  await insert('P6');
  await stream.waitFor(isEvent, 6);
  await insert('P7');
  const all = await stream.waitFor(isEvent, 7);
  stream.close();
  assert.deepEqual(all.slice(0, 5).map((m) => m.id), ids);
  assert.equal(new Set(all.map((m) => m.id)).size, 7, 'nothing twice');
  assert.deepEqual(all.slice(5).map((m) => JSON.parse(m.data!).payload.name), ['P6', 'P7']);
});
