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
 * Leases and acks wait for their WAL flush, as every commit does by default,
 * so a lease survives a server crash. A connection with
 * aqevent.durable_leases = off (Aqevent.connect({ durableLeases: false }),
 * ALTER ROLE … SET, PGOPTIONS) commits them without waiting
 * (synchronous_commit = off for that one statement): still safe for delivery,
 * since a lease or ack lost in a crash only means the event is delivered
 * again, but the lease no longer holds across a crash (docs/guarantees.md;
 * the cost of each, bench: latency, drain).
 */
export const RELAXED_COMMIT = `(SELECT CASE WHEN pg_catalog.current_setting('aqevent.durable_leases', true) IN ('off', 'false', '0')
  THEN pg_catalog.set_config('synchronous_commit', 'off', true) END) AS relaxed_commit`;
