/**
 * The schema as the last numbered-migration release left it (001–064, kept
 * in test/fixtures/schema-v64 exactly as shipped), installed the way that
 * release's migrate did: every file in one transaction, each version
 * recorded in event.migration. For the upgrade tests.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';

const DIR = join('test', 'fixtures', 'schema-v64');

export async function installSchemaV64(pool: pg.Pool): Promise<void> {
  const files = (await readdir(DIR)).filter((name) => /^\d{3}_.+\.sql$/.test(name)).sort();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('CREATE SCHEMA IF NOT EXISTS event');
    await client.query('CREATE TABLE event.migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const file of files) {
      await client.query(await readFile(join(DIR, file), 'utf8'));
      await client.query('INSERT INTO event.migration (version, name) VALUES ($1, $2)',
        [Number(file.slice(0, 3)), file.slice(4, -4)]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
