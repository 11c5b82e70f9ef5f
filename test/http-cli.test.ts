/** aqevent token, serve and demo --web as real subprocesses. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { jwtVerify } from 'jose';
import { runCli, startCli } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

const SECRET = 'cli test secret';

test('aqevent token --role R --ttl: an HS256 JWT with the role and an expiry; no secret is a usage error', async () => {
  const started = Math.floor(Date.now() / 1000);
  const result = await runCli(['token', '--role', 'alice', '--ttl', '2h'], { AQEVENT_JWT_SECRET: SECRET });
  const finished = Math.ceil(Date.now() / 1000);
  assert.equal(result.code, 0, result.stderr);
  const { payload, protectedHeader } = await jwtVerify(result.stdout.trim(), new TextEncoder().encode(SECRET));
  assert.equal(protectedHeader.alg, 'HS256');
  assert.equal(payload.role, 'alice');
  assert.ok(payload.exp! >= started + 7200 && payload.exp! <= finished + 7200, `exp ${payload.exp} is two hours after the token was made`);
  const missing = await runCli(['token', '--role', 'alice'], { AQEVENT_JWT_SECRET: '' });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /AQEVENT_JWT_SECRET is not set/);
  const noRole = await runCli(['token'], { AQEVENT_JWT_SECRET: SECRET });
  assert.equal(noRole.code, 2);
});

test('aqevent serve prints its URL, answers, and stops on SIGINT', async () => {
  const serve = startCli(['serve', '--port', '0', '--json'], { DATABASE_URL: db.url, AQEVENT_JWT_SECRET: SECRET });
  const { line } = await serve.waitForLine((l) => l.startsWith('{'), 20_000);
  const { url } = JSON.parse(line) as { url: string };
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const health = await fetch(`${url}/healthz`);
  assert.equal(health.status, 200);
  const unauthorized = await fetch(`${url}/sessions`, { method: 'POST' });
  assert.equal(unauthorized.status, 401);
  assert.equal(await serve.stop('SIGINT'), 0);
  const bad = await runCli(['serve', '--port', 'eighty'], { DATABASE_URL: db.url });
  assert.equal(bad.code, 2);
});

test('aqevent demo --web serves the live page and the person table, and prints a psql command', async () => {
  const demo = startCli(['demo', '--web', '--port', '0', '--json'], { DATABASE_URL: db.url });
  try {
    const { line } = await demo.waitForLine((l) => l.startsWith('{'), 30_000);
    const printed = JSON.parse(line) as { url: string; psql: string };
    assert.match(printed.psql, /^psql ".+" -c "UPDATE aqevent_demo\.person/);
    const page = await fetch(printed.url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /import \{ liveTable, bindTable \} from '\/client\.js'/);
    const token = new URL(printed.url).hash.replace('#token=', '');
    const origin = new URL(printed.url).origin;
    const rows = await fetch(`${origin}/tables/aqevent_demo.person/rows`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(rows.status, 200);
    const body = await rows.json() as { rows: Array<{ name: string }> };
    assert.deepEqual(body.rows.map((r) => r.name), ['Joe Smith', 'Don Jones', 'Sandy Hill', 'Nancy Makowsky']);
  } finally {
    assert.equal(await demo.stop('SIGINT'), 0);
  }
});
