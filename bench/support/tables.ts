/**
 * The benchmark's test table and how it is filled and subscribed.
 *
 * One shape for every scenario: a typical application table with a bigint
 * key, six columns of common types and one secondary index. Baseline and
 * subject are always two tables of this same shape in the same database.
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

/** Creates `sessions` sessions, each with a table subscription to bench.<name>. */
export async function subscribeSessions(pool: pg.Pool, name: string, sessions: number): Promise<void> {
  // Volatile calls in the select list run once per row: one new session each.
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(DISTINCT event.subscribe_table(event.session_create(), meta.relation_id('bench', $2)))::int AS n
     FROM generate_series(1, $1)`,
    [sessions, name],
  );
  if (rows[0]!.n !== sessions) throw new Error(`expected ${sessions} subscriptions on bench.${name}, made ${rows[0]!.n}`);
}

/** Empties the queue and the captured chunks between repetitions, so every repetition starts alike. */
export async function resetQueue(pool: pg.Pool): Promise<void> {
  await pool.query('TRUNCATE event.queue, event.capture');
}

/** Pending events of a session: its queue rows and its captured rows not yet fetched. */
export async function pendingCount(pool: pg.Pool, sessionId: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM event.queue WHERE session_id = $1)
            + (SELECT coalesce(sum(row_count - next_row), 0) FROM event.capture WHERE session_id = $1) AS n`, [sessionId]);
  return Number(rows[0]!.n);
}

/**
 * The captured events as the queue rows a fetch would make of them
 * (sql/060 event._explode), without changing anything: what the floors copy.
 */
export const CAPTURED_EVENTS_SQL =
  'SELECT e.* FROM event.capture c CROSS JOIN LATERAL event._explode(c, c.next_row, c.row_count) e';

/** A new session with a table subscription to bench.<name>; returns the session id. */
export async function subscribedSession(pool: pg.Pool, name: string): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `WITH s AS MATERIALIZED (SELECT event.session_create() AS id)
     SELECT s.id FROM s, LATERAL event.subscribe_table(s.id, meta.relation_id('bench', $1)) AS sub`, [name]);
  return rows[0]!.id;
}

/** One row with this id (0: the consumers' warm-up, < 0: their sentinel; see bench/fixtures/consumer.mjs). */
export async function insertMarker(pool: pg.Pool, name: string, id: number): Promise<void> {
  await pool.query(INSERT_ONE_SQL(name), [id]);
}

/**
 * The columns of a queue row (sql/050_queue_compact_storage): what the floor
 * measurements copy, so that they write the rows a fetch makes of captured
 * events (and that capture itself wrote before sql/060).
 */
export const QUEUE_STORAGE_COLUMNS = [
  'id', 'session_id', 'subscription_id', 'event', 'operation', 'subscription_type',
  'relation_schema', 'relation_name', 'pk_columns', 'pk_values', 'column_name',
  'payload', 'old_value', 'transaction_id',
].join(', ');
