/**
 * The floors every writer figure is shown beside, measured in the same run
 * on tables of the same shape (support/tables.ts):
 *
 * - no-op floor: statement-level AFTER INSERT / UPDATE / DELETE triggers with
 *   the transition tables capture uses (REFERENCING NEW / OLD TABLE), whose
 *   function only returns. What PostgreSQL charges for any statement trigger
 *   that sees the statement's rows: firing it and filling the transition
 *   tables.
 * - one-append floor: the same triggers, whose function does one
 *   INSERT … SELECT of the statement's rows, as text (format('%s', n.*)),
 *   into bench.append_log, a table with event.change's columns, defaults and
 *   xid index. INSERT and UPDATE append the new rows, DELETE the old ones.
 *   Plain PL/pgSQL: no SECURITY DEFINER, no fixed settings, no listener check,
 *   no NOTIFY, and for UPDATE no old images paired with the new ones. The
 *   least a capture that appends each changed row once to a shared log costs.
 */
import type pg from 'pg';

/** Idempotent: the floor functions and their log. */
async function makeFunctions(pool: pg.Pool): Promise<void> {
  await pool.query('CREATE SCHEMA IF NOT EXISTS bench');
  await pool.query(`CREATE OR REPLACE FUNCTION bench.noop_floor() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RETURN NULL;
    END $$`);
  await pool.query(`CREATE TABLE IF NOT EXISTS bench.append_log (
    id          bigserial,
    xid         xid8        NOT NULL DEFAULT pg_current_xact_id(),
    relid       oid         NOT NULL,
    shape       integer     NOT NULL,
    op          "char"      NOT NULL,
    new_row     text,
    old_row     text,
    captured_at timestamptz NOT NULL DEFAULT now())`);
  await pool.query('CREATE INDEX IF NOT EXISTS append_log_xid_idx ON bench.append_log (xid)');
  await pool.query(`CREATE OR REPLACE FUNCTION bench.append_floor() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        INSERT INTO bench.append_log (relid, shape, op, old_row)
        SELECT TG_RELID, 0, 'd', format('%s', o.*) FROM floor_old o;
      ELSE
        INSERT INTO bench.append_log (relid, shape, op, new_row)
        SELECT TG_RELID, 0, lower(left(TG_OP, 1)), format('%s', n.*) FROM floor_new n;
      END IF;
      RETURN NULL;
    END $$`);
}

export type Floor = 'noop' | 'append';

/** Adds the floor's three statement triggers to bench.<table>. */
export async function addFloorTriggers(pool: pg.Pool, table: string, floor: Floor): Promise<void> {
  await makeFunctions(pool);
  const fn = floor === 'noop' ? 'bench.noop_floor()' : 'bench.append_floor()';
  await pool.query(`CREATE TRIGGER floor_insert AFTER INSERT ON bench.${table} REFERENCING NEW TABLE AS floor_new
                    FOR EACH STATEMENT EXECUTE FUNCTION ${fn}`);
  await pool.query(`CREATE TRIGGER floor_update AFTER UPDATE ON bench.${table}
                    REFERENCING OLD TABLE AS floor_old NEW TABLE AS floor_new FOR EACH STATEMENT EXECUTE FUNCTION ${fn}`);
  await pool.query(`CREATE TRIGGER floor_delete AFTER DELETE ON bench.${table} REFERENCING OLD TABLE AS floor_old
                    FOR EACH STATEMENT EXECUTE FUNCTION ${fn}`);
}

/** Empties the one-append floor's log (between repetitions, as the change log is). */
export async function resetFloorLog(pool: pg.Pool): Promise<void> {
  await makeFunctions(pool);
  await pool.query('TRUNCATE bench.append_log');
}
