import type pg from 'pg';
import { fromPgError } from '../errors.js';

/**
 * What a statement runs on: a pool, or a client (a caller's transaction, a
 * LISTENing connection). The wrappers in src/sql/ take one of these, bind
 * every value and turn driver errors into AqeventError naming the statement.
 */
export type Queryable = Pick<pg.Pool | pg.PoolClient | pg.Client, 'query'>;

export async function query<R extends pg.QueryResultRow>(db: Queryable, what: string, sql: string, values: unknown[] = []): Promise<R[]> {
  try {
    return (await db.query<R>(sql, values)).rows;
  } catch (error) {
    throw fromPgError(error, what);
  }
}

/**
 * Leases and acks commit without waiting for their WAL flush
 * (synchronous_commit = off for that one statement). Safe: a lease or ack
 * lost in a server crash only means the event is delivered again, which
 * at-least-once delivery allows; it halves the consumer's commit latency.
 */
export const RELAXED_COMMIT = "(SELECT pg_catalog.set_config('synchronous_commit', 'off', true)) AS relaxed_commit";
