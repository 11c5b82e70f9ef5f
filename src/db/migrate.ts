import type pg from 'pg';
import { AqeventError, fromPgError } from '../errors.js';
import { loadMigrations, type Migration } from './sql-files.js';

/** Key of the transaction-scoped advisory lock that serialises migrations. */
const MIGRATION_LOCK_KEY = 7021933452185599999n;

export interface MigrateResult {
  /** Versions applied by this call (empty when the schema was current). */
  applied: number[];
  /** The schema version after the call. */
  version: number;
}

/**
 * Applies the pending numbered migrations in one transaction, under an
 * advisory lock, recording each version in event.migration. Any number of
 * processes may call it at once: one applies, the others find nothing to do.
 */
export async function migrate(pool: pg.Pool, migrations?: Migration[]): Promise<MigrateResult> {
  const all = migrations ?? (await loadMigrations());
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("SET LOCAL lock_timeout = '120s'");
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query('CREATE SCHEMA IF NOT EXISTS event');
    await client.query(`CREATE TABLE IF NOT EXISTS event.migration (
      version    integer     PRIMARY KEY,
      name       text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM event.migration');
    const done = new Set(rows.map((row) => row.version));
    const applied: number[] = [];
    for (const migration of all) {
      if (done.has(migration.version)) continue;
      try {
        await client.query(migration.sql);
      } catch (error) {
        throw fromPgError(error, `migration ${String(migration.version).padStart(3, '0')}_${migration.name} failed`);
      }
      await client.query('INSERT INTO event.migration (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    const version = Math.max(0, ...all.map((m) => m.version).filter((v) => done.has(v) || applied.includes(v)));
    return { applied, version };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    if (error instanceof AqeventError) throw new AqeventError('migration', error.message, error.details);
    throw new AqeventError('migration', fromPgError(error).message, { ...fromPgError(error).details });
  } finally {
    client.release();
  }
}
