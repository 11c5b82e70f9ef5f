// meta identifiers: constructors, JSON shape, accessors.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

async function value(sql: string): Promise<unknown> {
  return (await db.pool.query(`SELECT (${sql}) AS v`)).rows[0].v;
}

const relation = { schema_id: { name: 'public' }, name: 'person' };

test('constructors nest as in the Aquameta design', async () => {
  assert.deepEqual(await value("meta.schema_id('public')::jsonb"), { name: 'public' });
  assert.deepEqual(await value("meta.relation_id('public', 'person')::jsonb"), relation);
  assert.deepEqual(await value("meta.column_id('public', 'person', 'name')::jsonb"), { relation_id: relation, name: 'name' });
  const rowId = { pk_column_id: { relation_id: relation, name: 'id' }, pk_value: '3' };
  assert.deepEqual(await value("meta.row_id('public', 'person', 'id', '3')::jsonb"), rowId);
  assert.deepEqual(await value("meta.field_id('public', 'person', 'id', '3', 'name')::jsonb"),
    { row_id: rowId, column_id: { relation_id: relation, name: 'name' } });
  // The text form keeps the documented nesting (jsonb orders keys by length).
  assert.equal(await value("meta.row_id('public', 'person', 'id', '3')::text"),
    '{"pk_value": "3", "pk_column_id": {"name": "id", "relation_id": {"name": "person", "schema_id": {"name": "public"}}}}');
});

test('accessors take identifiers apart, for single and composite keys', async () => {
  assert.deepEqual(await value("meta.pk_values(meta.row_id('s', 't', ARRAY['a', 'b'], ARRAY['1', '2']))"), ['1', '2']);
  assert.deepEqual(await value("meta.pk_column_names(meta.row_id('s', 't', ARRAY['a', 'b'], ARRAY['1', '2']))"), ['a', 'b']);
  assert.deepEqual(await value("meta.relation_of(meta.row_id('s', 't', 'id', '1'))::jsonb"), { schema_id: { name: 's' }, name: 't' });
  assert.deepEqual(await value("meta.field_id(meta.row_id('s', 't', 'id', '1'), 'c')::jsonb -> 'column_id'"),
    { relation_id: { schema_id: { name: 's' }, name: 't' }, name: 'c' });
});

test('identifiers compare by value and NULL parts give NULL', async () => {
  assert.equal(await value("meta.relation_id('a', 'b') = '{\"name\": \"b\", \"schema_id\": {\"name\": \"a\"}}'::meta.relation_id"), true);
  assert.equal(await value("meta.row_id('public', 'person', 'id', NULL) IS NULL"), true);
});

test('a composite key needs as many values as columns', async () => {
  await assert.rejects(db.pool.query("SELECT meta.row_id('s', 't', ARRAY['a', 'b'], ARRAY['1'])"),
    (error: Error & { code?: string }) => error.code === '23514' && /row_id/.test(error.message));
});
