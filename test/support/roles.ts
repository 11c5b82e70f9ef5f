/**
 * Login roles for access-control tests. Role names start with the test
 * database's prefix (cluster-wide unique; test/run.ts drops them at the end)
 * and each role gets its own small pool on the test database.
 */
import pg from 'pg';
import type { TestDatabase } from './database.js';

export interface TestRole {
  /** The role's name (unquoted). */
  name: string;
  /** The role's name quoted for SQL text. */
  sql: string;
  pool: pg.Pool;
  /** Connection string of this role on the test database. */
  url: string;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Creates LOGIN roles `${db.prefix}_${key}` with password 'pw'. */
export async function createRoles<K extends string>(db: TestDatabase, keys: readonly K[]): Promise<Record<K, TestRole>> {
  const roles = {} as Record<K, TestRole>;
  for (const key of keys) {
    const name = `${db.prefix}_${key}`;
    await db.pool.query(`CREATE ROLE ${quoteIdent(name)} LOGIN PASSWORD 'pw'`);
    const url = db.urlFor(name);
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => {}); // DROP DATABASE … WITH (FORCE) ends idle clients
    roles[key] = { name, sql: quoteIdent(name), pool, url };
  }
  return roles;
}

export async function endRoles(roles: Record<string, TestRole> | undefined): Promise<void> {
  if (!roles) return;
  await Promise.all(Object.values(roles).map((role) => role.pool.end()));
}

/** The SQLSTATE of a rejected promise (fails the test when it resolves). */
export async function sqlstateOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? 'no sqlstate';
  }
  throw new Error('expected the statement to fail, but it succeeded');
}

/** Waits until check() returns a value other than undefined, or fails at the deadline. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
