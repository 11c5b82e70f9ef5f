import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLosslessJson } from '../src/events/lossless-json.js';
import { toDeliveredEvent } from '../src/events/schema.js';
import { AqeventError } from '../src/errors.js';

test('numbers a JS number cannot hold exactly come out as strings, others as numbers', () => {
  const parsed = parseLosslessJson(
    '{"big": 9223372036854775807, "neg": -9007199254740993, "safe": 9007199254740991, "n": 12.5, "e": 1e3,'
    + ' "precise": 3.14159265358979323846, "s": "12345678901234567890 in a string \\" 99999999999999999999", "a": [1, 18446744073709551616]}');
  assert.deepEqual(parsed, {
    big: '9223372036854775807', neg: '-9007199254740993', safe: 9007199254740991, n: 12.5, e: 1000,
    precise: '3.14159265358979323846', s: '12345678901234567890 in a string " 99999999999999999999', a: [1, '18446744073709551616'],
  });
});

const base = {
  id: 7, subscription_type: 'table', subscription_id: '8d6e2c1a-3b4f-4c5d-9e8f-0a1b2c3d4e5f',
  relation_id: { schema_id: { name: 'public' }, name: 't' }, transaction_id: 9, timestamp: '2026-01-01T00:00:00+00:00',
};

test('events are validated and discriminated on operation', () => {
  const insert = toDeliveredEvent({ id: '7', attempts: 1, event: JSON.stringify({
    ...base, operation: 'row_insert', row_id: null, payload: { id: 1 } }) });
  assert.equal(insert.operation, 'row_insert');
  assert.equal(insert.id, '7');
  assert.equal(insert.attempts, 1);
  const truncate = toDeliveredEvent({ id: '8', attempts: 2, event: JSON.stringify({ ...base, operation: 'truncate', row_id: null, payload: null }) });
  assert.equal(truncate.operation, 'truncate');
  assert.throws(() => toDeliveredEvent({ id: '9', attempts: 1, event: JSON.stringify({ ...base, operation: 'row_upsert', payload: {} }) }),
    (error: unknown) => error instanceof AqeventError && /event 9/.test(error.message));
  assert.throws(() => toDeliveredEvent({ id: '10', attempts: 1, event: JSON.stringify({ ...base, operation: 'field_update', row_id: null, payload: {} }) }),
    AqeventError);
});
