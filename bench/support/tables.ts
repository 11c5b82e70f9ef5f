/**
 * The benchmark's test table and how it is filled and subscribed.
 *
 * One shape for every scenario: a typical application table with a bigint
 * key, six columns of common types and one secondary index. Baseline and
 * subject are always tables of this same shape in the same database.
 */
import type pg from 'pg';

export async function createItemTable(pool: pg.Pool, name: string): Promise<void> {
  await pool.query('CREATE SCHEMA IF NOT EXISTS bench');
  await pool.query(`CREATE TABLE bench.${name} (
    id         bigint        PRIMARY KEY,
    account_id integer       NOT NULL,
    title      text          NOT NULL,
    quantity   integer       NOT NULL,
    price      numeric(12,2) NOT NULL,
    updated_at timestamptz   NOT NULL)`);
  await pool.query(`CREATE INDEX ON bench.${name} (account_id)`);
}

/** INSERT … SELECT of rows first..first+count-1 into bench.<name>. */
export function insertRowsSql(name: string, first: number, count: number): string {
  return `INSERT INTO bench.${name} (id, account_id, title, quantity, price, updated_at)
          SELECT g, g % 1000, 'item number ' || g, g % 100, (g % 100000) / 100.0, now()
          FROM generate_series(${first}, ${first + count - 1}) AS g`;
}

/** Values of one row for a prepared single-row INSERT ($1 = id). */
export const INSERT_ONE_SQL = (name: string) =>
  `INSERT INTO bench.${name} (id, account_id, title, quantity, price, updated_at)
   SELECT k, k % 1000, 'item number ' || k, k % 100, (k % 100000) / 100.0, now() FROM (SELECT $1::bigint AS k) v`;

/** Creates `sessions` sessions, each with a table subscription to schema.name; returns their ids. */
export async function subscribeSessions(pool: pg.Pool, name: string, sessions: number, schema = 'bench'): Promise<string[]> {
  // Volatile calls in the select list run once per row: one new session each.
  const { rows } = await pool.query<{ id: string }>(
    `WITH s AS MATERIALIZED (SELECT event.session_create() AS id FROM generate_series(1, $1))
     SELECT s.id FROM s, LATERAL event.subscribe_table(s.id, meta.relation_id($3, $2)) AS sub`,
    [sessions, name, schema],
  );
  if (rows.length !== sessions) throw new Error(`expected ${sessions} subscriptions on ${schema}.${name}, made ${rows.length}`);
  return rows.map((r) => r.id);
}

/** A new session with a table subscription to bench.<name>; returns the session id. */
export async function subscribedSession(pool: pg.Pool, name: string): Promise<string> {
  return (await subscribeSessions(pool, name, 1))[0]!;
}

/**
 * Empties the change log and every inbox between repetitions, so that every
 * repetition starts alike (the bench database is its own: no one else reads).
 * Sessions' pending counters follow their inboxes.
 */
export async function resetEvents(pool: pg.Pool): Promise<void> {
  await pool.query('TRUNCATE event.change, event.inbox');
  await pool.query('UPDATE event.session SET pending = 0 WHERE pending <> 0');
}

/**
 * Events of a session not yet acknowledged: its inbox rows plus the change
 * log rows its reader has not collected yet (committed after its cursor).
 * Counts log rows of every table, so use it with one captured table.
 */
export async function pendingCount(pool: pg.Pool, sessionId: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM event.inbox q WHERE q.session_id = s.id)
            + (SELECT count(*) FROM event.change c
               WHERE c.xid >= pg_snapshot_xmin(s.cursor) AND NOT pg_visible_in_snapshot(c.xid, s.cursor)) AS n
     FROM event.session s WHERE s.id = $1`, [sessionId]);
  return Number(rows[0]?.n ?? 0);
}

/** One row with this id (0: the consumers' warm-up, < 0: their sentinel; see bench/fixtures/consumer.mjs). */
export async function insertMarker(pool: pg.Pool, name: string, id: number): Promise<void> {
  await pool.query(INSERT_ONE_SQL(name), [id]);
}
