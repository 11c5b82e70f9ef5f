// The one error classifier: what counts as a connection error and what is worth retrying.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { AqeventError, fromPgError, isTransient } from '../src/errors.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

test('programming errors are neither connection errors nor transient', () => {
  for (const error of [new TypeError("Cannot read properties of undefined (reading 'id')"), new RangeError('bad'), new SyntaxError('x'),
    new Error('something else'), 'a string', undefined, { code: 'ERR_INVALID_ARG_TYPE', message: 'x' },
    new TypeError('Connection terminated')]) {
    const wrapped = fromPgError(error);
    assert.equal(wrapped.code, 'internal', String(error));
    assert.equal(isTransient(error), false, String(error));
    assert.equal(isTransient(wrapped), false, String(error));
  }
});

test('SQLSTATEs: connection, shutdown, resources and lock conflicts are transient; statement and data errors are not', () => {
  for (const code of ['08000', '08003', '08006', '08P01', '57P01', '57P02', '57P03', '53000', '53100', '53200', '53300', '40001', '40P01', '55P03']) {
    assert.equal(fromPgError(withCode(code)).code, 'database');
    assert.equal(isTransient(withCode(code)), true, code);
  }
  for (const code of ['42601', '42P01', '42703', '42704', '42501', '22P02', '22023', '22004', '23505', '23514', '0A000', '55000', '57014', 'XX000']) {
    assert.equal(isTransient(withCode(code)), false, code);
  }
});

test('socket errors and node-postgres connection messages are connection errors', () => {
  for (const errno of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EAI_AGAIN']) {
    assert.equal(fromPgError(withCode(errno)).code, 'connection', errno);
    assert.equal(isTransient(withCode(errno)), true, errno);
  }
  assert.equal(isTransient(withCode('ENOENT')), false);
  assert.equal(fromPgError(withCode('EPERM')).sqlstate, undefined, 'a five-letter errno is no SQLSTATE');
  for (const message of ['Connection terminated', 'Connection terminated unexpectedly', 'Connection terminated due to connection timeout',
    'Client has encountered a connection error and is not queryable', 'timeout exceeded when trying to connect', 'Query read timeout']) {
    assert.equal(fromPgError(new Error(message)).code, 'connection', message);
    assert.equal(isTransient(new Error(message)), true, message);
  }
  assert.equal(isTransient(new Error('Connection terminated, or not')), false, 'the whole message, not a part of it');
});

test('an AqeventError keeps its code; SQLSTATE, detail and hint are carried through', () => {
  const own = new AqeventError('invalid_argument', 'bad');
  assert.equal(fromPgError(own), own);
  assert.equal(isTransient(new AqeventError('connection', 'lost')), true);
  const wrapped = fromPgError(Object.assign(new Error('no'), { code: '42704', detail: 'd', hint: 'h' }), 'attach session');
  assert.deepEqual([wrapped.code, wrapped.sqlstate, wrapped.details.detail, wrapped.details.hint, wrapped.message],
    ['database', '42704', 'd', 'h', 'attach session: no']);
});

test('real failures: a refused connection and a terminated backend are transient, a bad statement and an ended pool are not', async () => {
  const nowhere = new URL(db.url);
  nowhere.port = '1'; // nobody listens there
  const refused = new pg.Client({ connectionString: nowhere.toString() });
  const connectError = await refused.connect().then(() => undefined, (error: unknown) => error);
  await refused.end().catch(() => {});
  assert.equal(fromPgError(connectError).code, 'connection', String(connectError));
  assert.equal(isTransient(connectError), true);

  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => {});
  await client.connect();
  const syntax = await client.query('SELEC 1').then(() => undefined, (error: unknown) => error);
  assert.equal(fromPgError(syntax).sqlstate, '42601');
  assert.equal(isTransient(syntax), false);
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const running = client.query('SELECT pg_sleep(30)').then(() => undefined, (error: unknown) => error);
  await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
  const terminated = await running;
  assert.equal(isTransient(terminated), true, String(terminated));
  const afterwards = await client.query('SELECT 1').then(() => undefined, (error: unknown) => error);
  assert.equal(isTransient(afterwards), true, String(afterwards));
  await client.end().catch(() => {});

  const pool = new pg.Pool({ connectionString: db.url });
  await pool.end();
  const ended = await pool.query('SELECT 1').then(() => undefined, (error: unknown) => error);
  assert.equal(fromPgError(ended).code, 'closed');
  assert.equal(isTransient(ended), false);
});
