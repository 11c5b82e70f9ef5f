// Keys whose text form depends on the session's settings (#15 item 6): a row
// subscription made under one set of settings matches the UPDATE and DELETE
// of writers under others, and every event names the row with one pk_value.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession, queued } from './support/events.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

/** [type, the key as the subscriber writes it, a literal for the writers, the settings each writer runs under] */
const CASES: Array<[string, string, string, string[]]> = [
  ['date', '2026-03-01', "'2026-03-01'::date",
    ["SET DateStyle = 'German, DMY'", "SET DateStyle = 'SQL, MDY'"]],
  ['timestamp', '2026-03-01 13:30:00', "'2026-03-01 13:30:00'::timestamp",
    ["SET DateStyle = 'Postgres, DMY'", "SET DateStyle = 'SQL, DMY'"]],
  ['interval', '1 day 02:03:04', "interval '1 day 02:03:04'",
    ["SET IntervalStyle = 'sql_standard'", "SET IntervalStyle = 'iso_8601'"]],
  ['float8', '0.1', '0.1::float8',
    ['SET extra_float_digits = 3', 'SET extra_float_digits = -15']],
  ['float4', '1.1', '1.1::float4',
    ['SET extra_float_digits = 3', 'SET extra_float_digits = 0']],
  // this machine has only the C locales, so lc_monetary cannot change money's text here; the case pins it
  ['money', '12.50', "'12.50'::money",
    ["SET lc_monetary = 'C'", "SET lc_monetary = 'C.UTF-8'"]],
  ['timetz', '12:00:00+02', "'12:00:00+02'::timetz",
    ["SET TimeZone = 'Asia/Tokyo'", "SET TimeZone = 'America/New_York'"]],
];

for (const [type, key, literal, settings] of CASES) {
  test(`a ${type} key matches and reads the same whatever the writer's settings`, async () => {
    const table = `key_${type}`;
    await db.pool.query(`CREATE TABLE public.${table} (k ${type} PRIMARY KEY, v int NOT NULL)`);
    await db.pool.query(`INSERT INTO public.${table} VALUES (${literal}, 0)`);
    const session = await newSession(db.pool);
    const subscriber = new pg.Client({ connectionString: db.url });
    await subscriber.connect();
    try {
      // the subscriber's own settings are the writers' second set, reversed
      await subscriber.query(settings[1]!);
      await subscriber.query("SELECT event.subscribe_row($1, meta.row_id('public', $2, 'k', $3))", [session, table, key]);
    } finally {
      await subscriber.end();
    }
    for (const [i, statement] of [`UPDATE public.${table} SET v = 1 WHERE k = ${literal}`,
                                  `DELETE FROM public.${table} WHERE k = ${literal}`].entries()) {
      const writer = new pg.Client({ connectionString: db.url });
      await writer.connect();
      try {
        await writer.query(settings[i]!);
        await writer.query(statement);
      } finally {
        await writer.end();
      }
    }
    const events = await queued(db.pool, session);
    assert.deepEqual(events.map((e) => e.operation), ['field_update', 'row_delete'], type);
    assert.equal(events[0]!.row_id.pk_value, events[1]!.row_id.pk_value, `${type}: one row, one pk_value`);
  });
}
