/**
 * The README's SQL tour, run as written: its last query must print the rows
 * shown in the README's comments under it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

async function tourSql(): Promise<string> {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```sql\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'the README has an SQL block');
  return block[1]!;
}

test('the README SQL tour prints the four events it shows', async () => {
  const sql = await tourSql();
  const expected = sql.split('\n').filter((line) => /^--\s+\w+\s+\|/.test(line))
    .map((line) => line.replace(/^--\s+/, '').split('|').map((cell) => cell.trim()));
  assert.equal(expected.length, 4);
  // LISTEN needs the real session id; the tour marks that line as optional.
  const statements = sql.replace(/--.*$/gm, '').split(';').map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('listen'));
  const client = await db.pool.connect();
  try {
    let last: unknown[][] = [];
    for (const statement of statements) {
      last = (await client.query({ text: statement, rowMode: 'array' })).rows;
    }
    assert.deepEqual(last.map((row) => [row[0], row[1], JSON.stringify(row[2])]),
      expected.map(([op, key, payload]) => [op, key, JSON.stringify(JSON.parse(payload!))]));
  } finally {
    client.release();
  }
});
