// A programming error is not a lost connection: consumers and workers stop with it instead of retrying forever.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Aqevent, AqeventError } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { urlWithApplicationName } from './support/delivery.js';
import { eventually } from './support/roles.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
  await db.pool.query('CREATE TABLE public.thing (id int PRIMARY KEY)');
});
after(() => db.drop());

/**
 * A pool with a buggy custom type parser (pg's `types` option): it throws a
 * TypeError on JSON text, so every fetch fails in the driver, after the
 * database answered, the way a bug in the caller's setup would.
 */
function poolWithBuggyParser(): pg.Pool {
  const pool = new pg.Pool({
    connectionString: db.url,
    max: 4,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 25
        ? (text: string) => {
          if (text.startsWith('{')) throw new TypeError("Cannot read properties of undefined (reading 'payload')");
          return text;
        }
        : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', () => {});
  return pool;
}

const isProgrammingError = (error: unknown) => error instanceof AqeventError && error.code === 'internal' && error.cause instanceof TypeError;

/** Rejects once `count` transient failures were reported: the sign of a retry loop. */
function retriedTooOften(count: number): { report(): void; tripped: Promise<never> } {
  let seen = 0;
  let fail!: (error: Error) => void;
  const tripped = new Promise<never>((_, reject) => {
    fail = reject;
  });
  return { report: () => (++seen >= count ? fail(new Error(`${seen} retries of a programming error`)) : undefined), tripped };
}

test('a Worker stops with a TypeError from its fetch, reports no connection error and does not retry', async () => {
  const pool = poolWithBuggyParser();
  const aq = await Aqevent.connect({ pool });
  try {
    const session = await aq.createSession();
    await session.subscribeTable('public.thing');
    await db.pool.query('INSERT INTO public.thing VALUES (1)');
    let handled = 0;
    const worker = session.work(() => {
      handled++;
    }, { pollInterval: '50ms', maxReconnectDelay: '50ms' });
    const retries = retriedTooOften(3);
    const connectionErrors: AqeventError[] = [];
    worker.on('connectionError', (error) => {
      connectionErrors.push(error);
      retries.report();
    });
    let stoppedWith: AqeventError | undefined;
    worker.on('stopped', (error) => {
      stoppedWith = error;
    });
    await worker.start();
    await assert.rejects(Promise.race([worker.wait(), retries.tripped]), isProgrammingError);
    assert.ok(isProgrammingError(stoppedWith));
    assert.deepEqual(connectionErrors, []);
    assert.equal(handled, 0);
  } finally {
    await aq.close();
    await pool.end();
  }
});

test('session.events() ends with the TypeError instead of reconnecting', async () => {
  const pool = poolWithBuggyParser();
  try {
    const session = await (await Aqevent.connect({ pool })).createSession();
    await session.subscribeTable('public.thing');
    await db.pool.query('INSERT INTO public.thing VALUES (2)');
    const retries = retriedTooOften(3);
    const events = session.events({ pollInterval: '50ms', maxReconnectDelay: '50ms', onError: retries.report });
    await assert.rejects(Promise.race([events.next(), retries.tripped]), isProgrammingError);
  } finally {
    await pool.end();
  }
});

test('aq.close() under a running Worker: the worker stops with a "closed" error, and close() returns', async () => {
  const applicationName = `aq_close_${db.prefix}`.slice(0, 60);
  const aq = await Aqevent.connect({ connectionString: urlWithApplicationName(db.url, applicationName), poolSize: 3 });
  const session = await aq.createSession();
  await session.subscribeTable('public.thing');
  const worker = session.work(() => {}, { pollInterval: '50ms', maxReconnectDelay: '50ms' });
  const retries = retriedTooOften(3);
  worker.on('connectionError', retries.report);
  await worker.start();
  await eventually(async () => {
    const { rows } = await db.pool.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND (query LIKE 'LISTEN%' OR query LIKE '%event.listener_register()%')", [applicationName]);
    return rows.length > 0 ? true : undefined;
  }, 'the worker LISTENs');
  const closing = aq.close(); // pool.end() waits for the worker's LISTEN connection: the worker has to let go
  await assert.rejects(Promise.race([worker.wait(), retries.tripped]), (error: unknown) => error instanceof AqeventError && error.code === 'closed');
  await closing;
});
