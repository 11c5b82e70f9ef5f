-- 060_capture_storage: capture keeps what a statement changed, and the
-- events are made from it when they are read.
--
-- Until now capture wrote one event.queue row per event: a 100,000-row
-- INSERT wrote 100,000 queue rows in the writer's transaction, so storing
-- events alone cost about as much as the user's own statement, and a
-- 100,000-row DELETE (which only marks rows) took twenty times longer
-- (docs/benchmarks.md). Now capture writes, per statement and subscription,
-- a few event.capture rows holding the changed rows as JSON text (a chunk
-- of up to 1,000 rows each). The events are made from a chunk when a
-- consumer fetches (the chunk's head rows become event.queue rows, which
-- are leased and acknowledged as before), when a session is peeked, and by
-- the view event.pending_event / event.queue_event.
--
-- Nothing changes for a consumer: the same events, with the same JSON, in
-- the same order per subscription and per row. What the writer pays is one
-- to_json per changed row and a few row inserts per statement.
--
-- Ids. Every draw from event.queue_id_seq now reserves a block of 2^20
-- ids: a chunk's events are numbered inside its block (its first id plus
-- the row's position, or, for an update, position * columns + the
-- column's position), so an event's id is fixed when it is captured, before
-- the event itself is made. Ids still increase in the order statements run,
-- and a later change of a row still has the higher id (docs/guarantees.md).
-- 2^43 blocks remain: a thousand capturing statements a second for 278
-- years.
--
-- Rows are kept as jsonb (to_jsonb, what capture always used): reading a
-- chunk then parses nothing, and an update pairs and compares old and new
-- rows as the values they are.

ALTER SEQUENCE event.queue_id_seq INCREMENT BY 1048576;

CREATE TABLE event.capture (
  session_id        uuid        NOT NULL,
  -- The chunk's block of ids: its events have ids from id to id + 2^20 - 1.
  id                bigint      NOT NULL,
  subscription_id   uuid        NOT NULL,
  subscription_type text        NOT NULL,
  -- column and field grains: the column subscribed to.
  column_name       text,
  -- Columns the session's owner may not read: left out of every event.
  hidden            text[]      NOT NULL DEFAULT '{}',
  -- row_insert and row_delete: one event per row; update: one field_update
  -- per changed column of each (old row, new row) pair with the same key.
  operation         text        NOT NULL,   -- 'row_insert', 'row_delete' or 'update'
  relation_schema   text        NOT NULL,
  relation_name     text        NOT NULL,
  pk_columns        text[],     -- NULL: the table has no primary key
  columns           text[],     -- update: the table's columns in order
  new_rows          jsonb[],    -- row_insert and update: each row, to_jsonb
  old_rows          jsonb[],    -- row_delete and update
  row_count         integer     NOT NULL,   -- of new_rows, old_rows, or both (update)
  -- Rows before next_row have been made into event.queue rows. A reader
  -- moves it forward (063), with lease_until set when the rows it passes
  -- over are to be leased to it at once rather than queued.
  next_row          integer     NOT NULL DEFAULT 0,
  lease_until       timestamptz,
  -- Rows captured for the session up to and including this chunk, counted
  -- from its oldest chunk still there (the pending-event cap, 061).
  pending_through   bigint      NOT NULL,
  transaction_id    bigint      NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, id)
);
-- No CHECK constraints: only capture (062) writes chunks, and every
-- single-row write would pay for them -- PostgreSQL prepares a table's
-- checks for every INSERT statement anew (about 60 µs here for the three
-- this table had). The expansion trigger (063) checks what readers change.

-- Chunks are compressed with lz4 where the server has it (pglz, the
-- default, costs a bulk statement about a third more time).
DO $$
BEGIN
  ALTER TABLE event.capture ALTER COLUMN new_rows SET COMPRESSION lz4,
                            ALTER COLUMN old_rows SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END
$$;

-- Like event.queue (040): rows come and go all the time. fillfactor leaves
-- room for the consumer's next_row update to be a HOT update.
ALTER TABLE event.capture SET (
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 1000,
  autovacuum_analyze_scale_factor = 0,
  autovacuum_analyze_threshold = 1000,
  autovacuum_vacuum_cost_delay = 0,
  fillfactor = 90
);

-- The events of rows first_row .. last_row - 1 of a chunk (0-based, in
-- order), as event.queue rows: deliverable, never attempted. A SQL
-- function, inlined where it is called. The key is read before hidden
-- columns are removed, as capture did.
CREATE FUNCTION event._explode(c event.capture, first_row integer, last_row integer)
RETURNS SETOF event.queue
LANGUAGE sql STABLE
AS $$
  SELECT c.id OPERATOR(pg_catalog.+) r.i, c.session_id, c.subscription_id, NULL::pg_catalog.jsonb,
         c.created_at, NULL::pg_catalog.timestamptz, 0, NULL::pg_catalog.text,
         c.operation, c.subscription_type, c.relation_schema, c.relation_name, c.pk_columns,
         CASE WHEN pg_catalog.cardinality(c.pk_columns) OPERATOR(pg_catalog.=) 1
                THEN ARRAY[r.j OPERATOR(pg_catalog.->>) c.pk_columns[1]]
              WHEN pg_catalog.cardinality(c.pk_columns) OPERATOR(pg_catalog.>) 1
                THEN ARRAY(SELECT r.j OPERATOR(pg_catalog.->>) k FROM pg_catalog.unnest(c.pk_columns) AS k) END,
         NULL::pg_catalog.text,
         CASE WHEN c.hidden OPERATOR(pg_catalog.=) '{}' THEN r.j ELSE r.j OPERATOR(pg_catalog.-) c.hidden END,
         NULL::pg_catalog.jsonb, c.transaction_id
  FROM (SELECT x.t AS j, first_row OPERATOR(pg_catalog.+) x.k OPERATOR(pg_catalog.-) 1 AS i
        FROM pg_catalog.unnest((CASE WHEN c.operation OPERATOR(pg_catalog.=) 'row_insert' THEN c.new_rows
                                     ELSE c.old_rows END)[first_row OPERATOR(pg_catalog.+) 1 : last_row])
             WITH ORDINALITY AS x(t, k)) r
  WHERE c.operation OPERATOR(pg_catalog.<>) 'update'
  UNION ALL
  -- (OPERATOR() syntax has one precedence for all: parenthesised.)
  SELECT c.id OPERATOR(pg_catalog.+) (r.i OPERATOR(pg_catalog.*) pg_catalog.cardinality(c.columns))
              OPERATOR(pg_catalog.+) (p.pos OPERATOR(pg_catalog.-) 1),
         c.session_id, c.subscription_id, NULL::pg_catalog.jsonb,
         c.created_at, NULL::pg_catalog.timestamptz, 0, NULL::pg_catalog.text,
         'field_update', c.subscription_type, c.relation_schema, c.relation_name, c.pk_columns,
         CASE WHEN pg_catalog.cardinality(c.pk_columns) OPERATOR(pg_catalog.=) 1
                THEN ARRAY[r.n OPERATOR(pg_catalog.->>) c.pk_columns[1]]
              ELSE ARRAY(SELECT r.n OPERATOR(pg_catalog.->>) k FROM pg_catalog.unnest(c.pk_columns) AS k) END,
         p.name, r.n OPERATOR(pg_catalog.->) p.name, r.o OPERATOR(pg_catalog.->) p.name, c.transaction_id
  FROM (SELECT x.nt AS n, x.ot AS o,
               first_row OPERATOR(pg_catalog.+) x.k OPERATOR(pg_catalog.-) 1 AS i
        FROM ROWS FROM (pg_catalog.unnest(c.new_rows[first_row OPERATOR(pg_catalog.+) 1 : last_row]),
                        pg_catalog.unnest(c.old_rows[first_row OPERATOR(pg_catalog.+) 1 : last_row]))
             WITH ORDINALITY AS x(nt, ot, k)) r
  -- The columns of each row (a lateral subquery that reads r, kept whole by
  -- OFFSET 0, so that rows are the outer loop: the other way round, every
  -- column would unnest the chunk's rows again).
  CROSS JOIN LATERAL (SELECT p.name, p.pos
                      FROM pg_catalog.unnest(c.columns) WITH ORDINALITY AS p(name, pos)
                      WHERE (r.n OPERATOR(pg_catalog.->) p.name) IS DISTINCT FROM (r.o OPERATOR(pg_catalog.->) p.name)
                        AND p.name OPERATOR(pg_catalog.<>) ALL (c.hidden)
                        AND (c.column_name IS NULL OR p.name OPERATOR(pg_catalog.=) c.column_name)
                      OFFSET 0) p
  WHERE c.operation OPERATOR(pg_catalog.=) 'update'
$$;
