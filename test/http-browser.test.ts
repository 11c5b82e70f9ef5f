/**
 * aqevent serve with a real browser (headless chromium): a page that keeps
 * the person table live through /client.js. SQL changes appear within 2 s;
 * killing and restarting serve loses nothing and doubles nothing; roles keep
 * tabs apart.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, openLivePage, shownRows } from './support/browser.js';
import { type RunningCli, startCli } from './support/cli.js';
import { httpFixture, type HttpFixture, SECRET } from './support/http.js';

let f: HttpFixture;
let browser: Browser;
let serveProcess: RunningCli;
let base: string;
let port: number;
let aliceTab: Page;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: chosen } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return chosen;
}

async function startServe(): Promise<void> {
  serveProcess = startCli(['serve', '--port', String(port)], { DATABASE_URL: f.roles.srv.url, AQEVENT_JWT_SECRET: SECRET });
  await serveProcess.waitForLine((line) => line.includes('listening on'), 20_000);
}

const hasRow = (page: Page, text: string, timeout = 2000) =>
  page.waitForFunction((t) => [...document.querySelectorAll('#rows td')].some((td) => td.textContent === t), text, { timeout });

before(async () => {
  f = await httpFixture();
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  await startServe();
  browser = await launchBrowser();
  aliceTab = await openLivePage(browser, base, { token: await f.token(f.roles.alice.name), table: 'public.person' });
  await aliceTab.waitForFunction(() => document.body.dataset.status === 'live', null, { timeout: 10_000 });
});

after(async () => {
  await browser?.close();
  await serveProcess?.stop('SIGKILL');
  await f.close();
});

test('the page shows the initial rows', async () => {
  await aliceTab.waitForFunction(() => document.querySelectorAll('#rows tbody tr').length === 4, null, { timeout: 5000 });
  const rows = await shownRows(aliceTab);
  assert.deepEqual(rows.map((r) => r.key), ['1', '2', '3', '4']);
  assert.deepEqual(rows[0]!.cells, ['1', 'Joe Smith', '15', 's1']);
  const headers = await aliceTab.$$eval('#rows th', (ths) => ths.map((th) => th.textContent));
  assert.deepEqual(headers, ['id', 'name', 'score', 'secret']);
});

test('an INSERT, an UPDATE and a DELETE made with SQL appear within 2 s', async () => {
  await f.db.pool.query("INSERT INTO public.person (name, score, secret) VALUES ('Don Pablo', 14, 's5')");
  await hasRow(aliceTab, 'Don Pablo');
  await f.db.pool.query("UPDATE public.person SET name = 'Sandy Jones', score = score + 3 WHERE id = 3");
  await hasRow(aliceTab, 'Sandy Jones');
  await aliceTab.waitForFunction(() => document.querySelector('#rows tr[data-key="3"] td:nth-child(3)')?.textContent === '19', null, { timeout: 2000 });
  await f.db.pool.query('DELETE FROM public.person WHERE id = 4');
  await aliceTab.waitForFunction(() => document.querySelector('#rows tr[data-key="4"]') === null, null, { timeout: 2000 });
  assert.deepEqual((await shownRows(aliceTab)).map((r) => r.key), ['1', '2', '3', '5']);
});

test('serve killed and restarted: the page reconnects, shows the change made meanwhile, doubles no row', async () => {
  await serveProcess.stop('SIGKILL');
  await aliceTab.waitForFunction(() => document.body.dataset.status === 'reconnecting', null, { timeout: 10_000 });
  await f.db.pool.query("INSERT INTO public.person (name, score, secret) VALUES ('While Down', 1, 's6')");
  await f.db.pool.query("UPDATE public.person SET score = 100 WHERE id = 1");
  await startServe();
  await hasRow(aliceTab, 'While Down', 40_000);
  await aliceTab.waitForFunction(() => document.querySelector('#rows tr[data-key="1"] td:nth-child(3)')?.textContent === '100', null, { timeout: 5000 });
  const rows = await shownRows(aliceTab);
  const keys = rows.map((r) => r.key);
  assert.equal(new Set(keys).size, keys.length, `no row twice: ${keys}`);
  const { rows: inDb } = await f.db.pool.query<{ id: string }>('SELECT id::text AS id FROM public.person ORDER BY id');
  assert.deepEqual(keys, inDb.map((r) => r.id));
});

test("a tab with role B's token cannot read role A's session; a tab on another session is unaffected", async () => {
  const aliceSession = await aliceTab.evaluate(() => document.body.dataset.session!);
  const bobToken = await f.token(f.roles.bob.name);
  const intruder = await openLivePage(browser, base, { token: bobToken, table: 'public.person', session: aliceSession });
  await intruder.waitForFunction(() => document.body.dataset.status === 'error', null, { timeout: 10_000 });
  assert.match(await intruder.evaluate(() => document.body.dataset.detail!), /^404 42704/);

  const bobTab = await openLivePage(browser, base, { token: bobToken, table: 'public.person' });
  await bobTab.waitForFunction(() => document.body.dataset.status === 'live', null, { timeout: 10_000 });
  const bobSession = await bobTab.evaluate(() => document.body.dataset.session!);
  assert.notEqual(bobSession, aliceSession);
  await f.db.pool.query("INSERT INTO public.person (name, score, secret) VALUES ('For Both', 2, 's7')");
  await hasRow(aliceTab, 'For Both');
  await hasRow(bobTab, 'For Both');
  assert.equal(await intruder.evaluate(() => (window as unknown as { live: { lastEventId?: string } }).live.lastEventId), undefined,
    "no event of alice's session reached bob's tab");
  await bobTab.close();
  await f.db.pool.query("UPDATE public.person SET name = 'Alice Only' WHERE name = 'For Both'");
  await hasRow(aliceTab, 'Alice Only');
  await intruder.close();
});
