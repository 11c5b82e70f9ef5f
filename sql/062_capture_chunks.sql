-- 062_capture_chunks: the capture triggers write chunks (060) instead of
-- events.
--
-- Per statement: each changed row becomes jsonb once (to_jsonb), rows
-- are cut into chunks of at most 1,000 rows (fewer for an update of a wide
-- table: 2^20 / columns) and 8 MB, and every subscription that matches gets
-- its chunks, each chunk one event.capture row with a block of ids. Which
-- subscriptions match, what their owners may see, the pending cap
-- (event._admit) and the notifications (event._notify_captured) are decided
-- here, in the writer's transaction, as before; the events themselves are
-- made when the chunks are read. The chunk order, and so the id order, is
-- per session: subscription, then deletes, inserts, updates (an UPDATE that
-- changes keys is row_delete then row_insert, deletes first, as in 005),
-- then the rows in the order the statement changed them.
--
-- A chunk holds the rows as the subscription's owner may see them: columns
-- it may not read are left out (event._visible_rows), but for the key, by
-- which its events name their row. (Owners read their chunks through
-- event.pending_event and peek; with whole rows in them, column privileges
-- would not protect a column.)
--
-- The statements are written out in each trigger function: a transition
-- table can only be read by the trigger's own function. work_mem is raised
-- for them because a bulk statement's chunks are grouped and ordered in
-- memory (spilling to disk past it, never failing).

CREATE OR REPLACE FUNCTION event._capture_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_generic_plan
SET work_mem = '64MB'
AS $$
DECLARE
  ctx record;
  captured_chunks event.captured_chunk[];
  tx bigint := pg_current_xact_id()::text::bigint;
  small_done boolean;
BEGIN
  -- Up to 100 rows (about every OLTP write): one chunk per subscription and
  -- its notifications in one statement (which also finds the table's key:
  -- every query saved counts here), when every session may take them (not
  -- overflowed, under its cap; else the general path below, which knows
  -- about overflows) and is told each event (at most 100 events, at most
  -- 8 MB: else a batch notification, or several chunks). Each session's
  -- chunks continue its running count in subscription order, as below. No
  -- table subscription (row grains do not receive inserts): nothing to do.
  IF NOT EXISTS (SELECT 1 FROM aqevent_new_rows OFFSET 100) THEN
    WITH r AS MATERIALIZED (
      SELECT array_agg(r.t) AS all_rows, count(*)::integer AS n, sum(pg_column_size(r.t)) AS bytes
      FROM (SELECT to_jsonb(n.*) AS t FROM aqevent_new_rows n) r
    ), subs AS MATERIALIZED (
      SELECT s.id, s.session_id, s.kind, s.column_name, s.hidden, a.notify_payload,
             a.base + r.n * row_number() OVER (PARTITION BY s.session_id ORDER BY s.id) AS through,
             r.bytes <= 8388608 AND r.n * count(*) OVER (PARTITION BY s.session_id) <= 100
               AND event._may_take(a.overflowed, a.pending, r.n * count(*) OVER (PARTITION BY s.session_id),
                                   cap.value) AS fits
      FROM event._table_subscriptions(TG_RELID) s
      CROSS JOIN r
      CROSS JOIN LATERAL event._admission(s.session_id) a
      CROSS JOIN (SELECT x.value FROM event.settings x WHERE x.name = 'max_pending_per_session') cap
    ), captured AS (
      INSERT INTO event.capture (session_id, id, subscription_id, subscription_type, column_name, hidden,
                                 operation, relation_schema, relation_name, pk_columns, new_rows,
                                 row_count, pending_through, transaction_id)
      SELECT s.session_id, nextval('event.queue_id_seq'), s.id, s.kind, s.column_name, s.hidden,
             'row_insert', TG_TABLE_SCHEMA, TG_TABLE_NAME, t.pk,
             CASE WHEN s.hidden = '{}' THEN r.all_rows ELSE event._visible_rows(r.all_rows, s.hidden, t.pk) END,
             r.n, s.through, tx
      FROM r
      CROSS JOIN (SELECT * FROM subs ORDER BY subs.session_id, subs.id) s
      CROSS JOIN event._capture_key(TG_RELID) t
      WHERE r.n > 0 AND NOT EXISTS (SELECT 1 FROM subs WHERE NOT subs.fits)
      RETURNING *
    )
    SELECT coalesce(bool_and(s.fits), true) INTO small_done FROM subs s
    CROSS JOIN LATERAL (SELECT count(event._notify(c.session_id::text,
                                                   event._notification(s2.notify_payload, e.id, event._render(e))))
                        FROM captured c
                        JOIN subs s2 ON s2.id = c.subscription_id
                        CROSS JOIN LATERAL event._explode(c::event.capture, 0, c.row_count) e) n;
    IF small_done THEN
      RETURN NULL;
    END IF;
  END IF;

  SELECT * INTO ctx FROM event._capture_target(TG_RELID);
  IF ctx.has_table_subscriptions IS NOT TRUE THEN
    RETURN NULL;
  END IF;

  -- The rows, numbered and assigned to chunks, are kept once; the chunks'
  -- ids are drawn in order for each subscription from their keys alone, and
  -- each chunk's array goes straight from the aggregate into its rows:
  -- sorting rows that carry the arrays copied them twice.
  WITH subs AS MATERIALIZED (
    SELECT s.id, s.session_id, s.kind, s.column_name, s.hidden FROM event._table_subscriptions(TG_RELID) s
  ), admitted AS MATERIALIZED (
    SELECT a.session_id, a.base
    FROM event._admit(ARRAY(SELECT ROW(s.session_id, count(*) * (SELECT count(*) FROM aqevent_new_rows))::event.capture_want
                            FROM subs s GROUP BY s.session_id)) a
  ), numbered AS MATERIALIZED (
    SELECT r.t, (row_number() OVER () - 1) / 1000
                + sum(pg_column_size(r.t)) OVER (ROWS UNBOUNDED PRECEDING) / 8388608 AS chunk
    FROM (SELECT to_jsonb(n.*) AS t FROM aqevent_new_rows n OFFSET 0) r
  ), keys AS MATERIALIZED (
    SELECT k.*, nextval('event.queue_id_seq') AS block
    FROM (SELECT s.session_id, s.id AS subscription_id, s.kind, s.column_name, s.hidden, c.chunk, c.n,
                 a.base + sum(c.n) OVER (PARTITION BY s.session_id ORDER BY s.id, c.chunk) AS through
          FROM (SELECT r.chunk, count(*)::integer AS n FROM numbered r GROUP BY r.chunk) c
          CROSS JOIN subs s
          JOIN admitted a ON a.session_id = s.session_id
          ORDER BY s.session_id, s.id, c.chunk) k
  ), captured AS (
    INSERT INTO event.capture (session_id, id, subscription_id, subscription_type, column_name, hidden,
                               operation, relation_schema, relation_name, pk_columns, new_rows,
                               row_count, pending_through, transaction_id)
    SELECT k.session_id, k.block, k.subscription_id, k.kind, k.column_name, k.hidden,
           'row_insert', TG_TABLE_SCHEMA, TG_TABLE_NAME, ctx.pk,
           CASE WHEN k.hidden = '{}' THEN ch.texts ELSE event._visible_rows(ch.texts, k.hidden, ctx.pk) END,
           k.n, k.through, tx
    FROM (SELECT r.chunk, array_agg(r.t) AS texts FROM numbered r GROUP BY r.chunk) ch
    -- OFFSET 0: the keys are looked up per chunk, the chunk is not hashed.
    CROSS JOIN LATERAL (SELECT * FROM keys k WHERE k.chunk = ch.chunk OFFSET 0) k
    RETURNING session_id, id, row_count, id + row_count - 1 AS last_id)
  SELECT array_agg(ROW(c.session_id, c.id, c.row_count, c.last_id)::event.captured_chunk) INTO captured_chunks
  FROM captured c;
  IF captured_chunks IS NOT NULL THEN
    PERFORM event._notify_captured(captured_chunks);
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION event._capture_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_generic_plan
SET work_mem = '64MB'
AS $$
DECLARE
  ctx record;
  captured_chunks event.captured_chunk[];
  pk1 text;
  tx bigint := pg_current_xact_id()::text::bigint;
BEGIN
  SELECT * INTO ctx FROM event._capture_target(TG_RELID);
  IF (ctx.has_table_subscriptions OR ctx.has_row_subscriptions) IS NOT TRUE THEN
    RETURN NULL;
  END IF;
  pk1 := ctx.pk[1];
  -- As in _capture_insert: rows kept once with their chunk, ids drawn from
  -- the chunks' keys, arrays straight from the aggregate into their rows.
  WITH old AS MATERIALIZED (
    -- The key only to match row grains: the canonical text of each key
    -- column, as event._canonical_key computes it for subscriptions.
    SELECT r.t, row_number() OVER () - 1 AS i,
           (row_number() OVER () - 1) / 1000
             + sum(pg_column_size(r.t)) OVER (ROWS UNBOUNDED PRECEDING) / 8388608 AS chunk,
           CASE WHEN NOT ctx.has_row_subscriptions THEN NULL
                WHEN cardinality(ctx.pk) = 1 THEN ARRAY[r.t ->> pk1]
                WHEN cardinality(ctx.pk) > 1 THEN ARRAY(SELECT r.t ->> k FROM unnest(ctx.pk) AS k) END AS key
    FROM (SELECT to_jsonb(o.*) AS t FROM aqevent_old_rows o OFFSET 0) r
  ), subs AS MATERIALIZED (
    SELECT s.id, s.session_id, s.kind, s.column_name, s.hidden FROM event._table_subscriptions(TG_RELID) s
  ), row_hits AS MATERIALIZED (
    -- A row-grain subscription gets its rows, in chunks of its own.
    SELECT s.id, s.session_id, s.kind, s.column_name, v.hidden, o.t, o.i,
           (row_number() OVER w - 1) / 1000 + sum(pg_column_size(o.t)) OVER w / 8388608 AS chunk
    FROM old o
    -- An index lookup by (relation, key) per changed row, never a scan of
    -- the subscriptions: OFFSET 0 keeps the planner from turning it into a
    -- hash join over all of them. The owner looked up inside it: a subquery
    -- as _owner_view's argument would keep that function from being inlined.
    CROSS JOIN LATERAL (SELECT s.*, (SELECT ses.owner_role FROM event.session ses
                                     WHERE ses.id = s.session_id) AS owner_role
                        FROM event.subscription s
                        WHERE s.relation_oid = TG_RELID AND s.pk_values IS NOT NULL
                          AND s.pk_values = o.key OFFSET 0) s
    CROSS JOIN LATERAL event._owner_view(s.owner_role, TG_RELID) v
    WHERE ctx.has_row_subscriptions AND v.visible
      AND (s.column_name IS NULL OR s.column_name <> ALL (v.hidden))
    WINDOW w AS (PARTITION BY s.id ORDER BY o.i)
  ), wanted AS (
    SELECT w.session_id, sum(w.n) AS n
    FROM (SELECT s.session_id, (SELECT count(*) FROM old) AS n FROM subs s
          UNION ALL
          SELECT h.session_id, 1 FROM row_hits h) w
    GROUP BY w.session_id
  ), admitted AS MATERIALIZED (
    SELECT a.session_id, a.base
    FROM event._admit(ARRAY(SELECT ROW(w.session_id, w.n)::event.capture_want FROM wanted w)) a
  ), keys AS MATERIALIZED (
    -- One per subscription and chunk, ids in order: table grains first
    -- (every one gets the same chunks), then row grains.
    SELECT k.*, nextval('event.queue_id_seq') AS block
    FROM (SELECT s.session_id, s.subscription_id, s.kind, s.column_name, s.hidden, s.by_row, c.chunk, c.n,
                 a.base + sum(c.n) OVER (PARTITION BY s.session_id
                                         ORDER BY s.by_row, s.subscription_id, c.chunk) AS through
          FROM (SELECT t.id AS subscription_id, t.session_id, t.kind, t.column_name, t.hidden, false AS by_row
                FROM subs t
                UNION ALL
                SELECT DISTINCT h.id, h.session_id, h.kind, h.column_name, h.hidden, true
                FROM row_hits h) s
          JOIN (SELECT NULL::uuid AS subscription_id, o.chunk, count(*)::integer AS n
                FROM old o WHERE EXISTS (SELECT FROM subs) GROUP BY o.chunk
                UNION ALL
                SELECT h.id, h.chunk, count(*)::integer FROM row_hits h GROUP BY h.id, h.chunk) c
            ON c.subscription_id IS NOT DISTINCT FROM CASE WHEN s.by_row THEN s.subscription_id END
          JOIN admitted a ON a.session_id = s.session_id
          ORDER BY s.session_id, s.by_row, s.subscription_id, c.chunk) k
  ), captured AS (
    INSERT INTO event.capture (session_id, id, subscription_id, subscription_type, column_name, hidden,
                               operation, relation_schema, relation_name, pk_columns, old_rows,
                               row_count, pending_through, transaction_id)
    SELECT k.session_id, k.block, k.subscription_id, k.kind, k.column_name, k.hidden,
           'row_delete', TG_TABLE_SCHEMA, TG_TABLE_NAME, ctx.pk,
           CASE WHEN k.hidden = '{}' THEN ch.texts ELSE event._visible_rows(ch.texts, k.hidden, ctx.pk) END,
           k.n, k.through, tx
    FROM (SELECT NULL::uuid AS subscription_id, o.chunk, array_agg(o.t) AS texts
          FROM old o WHERE EXISTS (SELECT FROM subs) GROUP BY o.chunk
          UNION ALL
          SELECT h.id, h.chunk, array_agg(h.t ORDER BY h.i) FROM row_hits h GROUP BY h.id, h.chunk) ch
    -- OFFSET 0: the keys are looked up per chunk, the chunk is not hashed.
    CROSS JOIN LATERAL (SELECT * FROM keys k
                        WHERE k.chunk = ch.chunk
                          AND CASE WHEN k.by_row THEN k.subscription_id END IS NOT DISTINCT FROM ch.subscription_id
                        OFFSET 0) k
    RETURNING session_id, id, row_count, id + row_count - 1 AS last_id)
  SELECT array_agg(ROW(c.session_id, c.id, c.row_count, c.last_id)::event.captured_chunk) INTO captured_chunks
  FROM captured c;
  IF captured_chunks IS NOT NULL THEN
    PERFORM event._notify_captured(captured_chunks);
  END IF;
  RETURN NULL;
END
$$;

-- UPDATE: old and new rows are paired by primary key. A pair whose JSON
-- differs goes into an "update" chunk (made into one field_update per
-- changed column when read); an old row without a partner (its key changed,
-- or the table has no key) is a row_delete, a new row without one a
-- row_insert -- deletes first, as in 005.
CREATE OR REPLACE FUNCTION event._capture_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_generic_plan
SET work_mem = '64MB'
-- A hash join pairs old and new rows: the generic plan's merge join sorted
-- both transition tables by key first.
SET enable_mergejoin = off
AS $$
DECLARE
  ctx record;
  all_columns text[];
  per_chunk integer;
  captured_chunks event.captured_chunk[];
  pk1 text;
  tx bigint := pg_current_xact_id()::text::bigint;
BEGIN
  SELECT * INTO ctx FROM event._capture_target(TG_RELID);
  IF (ctx.has_table_subscriptions OR ctx.has_row_subscriptions) IS NOT TRUE THEN
    RETURN NULL;
  END IF;
  pk1 := ctx.pk[1];
  all_columns := event._capture_columns(TG_RELID);
  -- An update chunk numbers its events row * columns + column within its
  -- block of 2^20 ids.
  per_chunk := least(1000, 1048576 / greatest(cardinality(all_columns), 1));
  WITH changes AS MATERIALIZED (
    -- Each kind numbered on its own, in the order of the pairs, by running
    -- counts (no sort): i from 0; a chunk at most per_chunk rows (1,000 for
    -- inserts and deletes) and about 8 MB.
    SELECT c.*, c.i / CASE WHEN c.rank = 3 THEN per_chunk ELSE 1000 END + c.bytes / 8388608 AS chunk
    FROM (
    SELECT c.*,
           CASE c.rank WHEN 1 THEN count(*) FILTER (WHERE c.rank = 1) OVER w
                       WHEN 2 THEN count(*) FILTER (WHERE c.rank = 2) OVER w
                       ELSE count(*) FILTER (WHERE c.rank = 3) OVER w END - 1 AS i,
           sum(c.size) OVER w AS bytes
    FROM (SELECT CASE WHEN p.new_t IS NULL THEN 'row_delete' WHEN p.old_t IS NULL THEN 'row_insert'
                      ELSE 'update' END AS operation,
                 CASE WHEN p.new_t IS NULL THEN 1 WHEN p.old_t IS NULL THEN 2 ELSE 3 END AS rank,
                 coalesce(p.new_key, p.old_key) AS key, p.old_t, p.new_t,
                 coalesce(pg_column_size(p.old_t), 0) + coalesce(pg_column_size(p.new_t), 0) AS size
          FROM (SELECT o.t AS old_t, o.key AS old_key, n.t AS new_t, n.key AS new_key
                FROM (
                  -- The keys pair the rows: the canonical text of the key
                  -- columns, as event._canonical_key computes it for row
                  -- subscriptions.
                  SELECT r.t,
                         CASE WHEN cardinality(ctx.pk) = 1 THEN ARRAY[r.t ->> pk1]
                              WHEN cardinality(ctx.pk) > 1 THEN ARRAY(SELECT r.t ->> k FROM unnest(ctx.pk) AS k) END AS key
                  FROM (SELECT to_jsonb(o.*) AS t FROM aqevent_old_rows o OFFSET 0) r
                  OFFSET 0) o
                FULL JOIN (
                  SELECT r.t,
                         CASE WHEN cardinality(ctx.pk) = 1 THEN ARRAY[r.t ->> pk1]
                              WHEN cardinality(ctx.pk) > 1 THEN ARRAY(SELECT r.t ->> k FROM unnest(ctx.pk) AS k) END AS key
                  FROM (SELECT to_jsonb(n.*) AS t FROM aqevent_new_rows n OFFSET 0) r
                  OFFSET 0) n
                ON n.key = o.key
                -- (OFFSET 0 keeps every to_jsonb and key computed once.)
                OFFSET 0) p
          -- A pair whose values are all equal changed nothing.
          WHERE p.old_t IS NULL OR p.new_t IS NULL OR p.old_t <> p.new_t) c
    WINDOW w AS (ROWS UNBOUNDED PRECEDING)) c
  ), subs AS MATERIALIZED (
    SELECT s.id, s.session_id, s.kind, s.column_name, s.hidden FROM event._table_subscriptions(TG_RELID) s
  ), row_hits AS MATERIALIZED (
    -- Row grains: deletes of their row (key changes, keyless tables) and
    -- its updates, never inserts, in chunks of their own.
    SELECT s.id, s.session_id, s.kind, s.column_name, v.hidden, c.operation, c.rank, c.old_t, c.new_t, c.i,
           (row_number() OVER w - 1) / CASE WHEN c.operation = 'update' THEN per_chunk ELSE 1000 END
             + sum(c.size) OVER w / 8388608 AS chunk
    FROM changes c
    -- An index lookup by (relation, key) per changed row (see _capture_delete).
    CROSS JOIN LATERAL (SELECT s.*, (SELECT ses.owner_role FROM event.session ses
                                     WHERE ses.id = s.session_id) AS owner_role
                        FROM event.subscription s
                        WHERE s.relation_oid = TG_RELID AND s.pk_values IS NOT NULL
                          AND s.pk_values = c.key OFFSET 0) s
    CROSS JOIN LATERAL event._owner_view(s.owner_role, TG_RELID) v
    WHERE ctx.has_row_subscriptions AND v.visible AND c.operation <> 'row_insert'
      AND (s.column_name IS NULL OR s.column_name <> ALL (v.hidden))
    WINDOW w AS (PARTITION BY s.id, c.rank ORDER BY c.i)
  ), wanted AS (
    SELECT w.session_id, sum(w.n) AS n
    FROM (SELECT s.session_id, (SELECT count(*) FROM changes) AS n FROM subs s
          UNION ALL
          SELECT h.session_id, 1 FROM row_hits h) w
    GROUP BY w.session_id
  ), admitted AS MATERIALIZED (
    SELECT a.session_id, a.base
    FROM event._admit(ARRAY(SELECT ROW(w.session_id, w.n)::event.capture_want FROM wanted w)) a
  ), keys AS MATERIALIZED (
    -- One per subscription and chunk, ids in order (see _capture_delete):
    -- per subscription deletes, inserts, updates.
    SELECT k.*, nextval('event.queue_id_seq') AS block
    FROM (SELECT s.session_id, s.subscription_id, s.kind, s.column_name, s.hidden, s.by_row,
                 c.operation, c.rank, c.chunk, c.n,
                 a.base + sum(c.n) OVER (PARTITION BY s.session_id
                                         ORDER BY s.by_row, s.subscription_id, c.rank, c.chunk) AS through
          FROM (SELECT t.id AS subscription_id, t.session_id, t.kind, t.column_name, t.hidden, false AS by_row
                FROM subs t
                UNION ALL
                SELECT DISTINCT h.id, h.session_id, h.kind, h.column_name, h.hidden, true
                FROM row_hits h) s
          JOIN (SELECT NULL::uuid AS subscription_id, c.operation, c.rank, c.chunk, count(*)::integer AS n
                FROM changes c WHERE EXISTS (SELECT FROM subs) GROUP BY c.operation, c.rank, c.chunk
                UNION ALL
                SELECT h.id, h.operation, h.rank, h.chunk, count(*)::integer
                FROM row_hits h GROUP BY h.id, h.operation, h.rank, h.chunk) c
            ON c.subscription_id IS NOT DISTINCT FROM CASE WHEN s.by_row THEN s.subscription_id END
          JOIN admitted a ON a.session_id = s.session_id
          ORDER BY s.session_id, s.by_row, s.subscription_id, c.rank, c.chunk) k
  ), captured AS (
    INSERT INTO event.capture (session_id, id, subscription_id, subscription_type, column_name, hidden,
                               operation, relation_schema, relation_name, pk_columns, columns,
                               new_rows, old_rows, row_count, pending_through, transaction_id)
    SELECT k.session_id, k.block, k.subscription_id, k.kind, k.column_name, k.hidden,
           k.operation, TG_TABLE_SCHEMA, TG_TABLE_NAME, ctx.pk,
           CASE WHEN k.operation = 'update' THEN all_columns END,
           CASE WHEN k.operation = 'row_delete' THEN NULL WHEN k.hidden = '{}' THEN ch.new_texts
                ELSE event._visible_rows(ch.new_texts, k.hidden, ctx.pk) END,
           CASE WHEN k.operation = 'row_insert' THEN NULL WHEN k.hidden = '{}' THEN ch.old_texts
                ELSE event._visible_rows(ch.old_texts, k.hidden, ctx.pk) END,
           k.n, k.through, tx
    FROM (SELECT NULL::uuid AS subscription_id, c.rank, c.chunk,
                 array_agg(c.old_t) AS old_texts, array_agg(c.new_t) AS new_texts
          FROM changes c WHERE EXISTS (SELECT FROM subs) GROUP BY c.rank, c.chunk
          UNION ALL
          SELECT h.id, h.rank, h.chunk, array_agg(h.old_t ORDER BY h.i), array_agg(h.new_t ORDER BY h.i)
          FROM row_hits h GROUP BY h.id, h.rank, h.chunk) ch
    -- OFFSET 0: the keys are looked up per chunk, the chunk is not hashed.
    CROSS JOIN LATERAL (SELECT * FROM keys k
                        WHERE k.rank = ch.rank AND k.chunk = ch.chunk
                          AND CASE WHEN k.by_row THEN k.subscription_id END IS NOT DISTINCT FROM ch.subscription_id
                        OFFSET 0) k
    RETURNING session_id, id, row_count,
              id + CASE WHEN operation = 'update' THEN row_count * cardinality(columns) ELSE row_count END - 1
                AS last_id)
  SELECT array_agg(ROW(c.session_id, c.id, c.row_count, c.last_id)::event.captured_chunk) INTO captured_chunks
  FROM captured c;
  IF captured_chunks IS NOT NULL THEN
    PERFORM event._notify_captured(captured_chunks);
  END IF;
  RETURN NULL;
END
$$;

-- TRUNCATE has no transition table and no rows to keep: table and column
-- grains get one "truncate" event, row and field grains a row_delete of
-- their row with a NULL payload, written straight into event.queue (005's
-- events, admitted by the pending cap like every capture).
CREATE OR REPLACE FUNCTION event._capture_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  ctx record;
  batches event.queued_batch[];
  tx bigint := pg_current_xact_id()::text::bigint;
BEGIN
  SELECT * INTO ctx FROM event._capture_target(TG_RELID);
  IF (ctx.has_table_subscriptions OR ctx.has_row_subscriptions) IS NOT TRUE THEN
    RETURN NULL;
  END IF;
  WITH targets AS MATERIALIZED (
    SELECT 'truncate'::text AS operation, s.session_id, s.id AS subscription_id, s.kind,
           NULL::text[] AS key
    FROM event._table_subscriptions(TG_RELID) s
    UNION ALL
    SELECT 'row_delete', s.session_id, s.id, s.kind, s.pk_values
    FROM event.subscription s
    JOIN event.session ses ON ses.id = s.session_id
    CROSS JOIN LATERAL event._owner_view(ses.owner_role, TG_RELID) v
    WHERE s.relation_oid = TG_RELID AND s.pk_values IS NOT NULL AND v.visible
      AND (s.column_name IS NULL OR s.column_name <> ALL (v.hidden))
  ), admitted AS MATERIALIZED (
    SELECT a.session_id
    FROM event._admit(ARRAY(SELECT ROW(t.session_id, count(*))::event.capture_want
                            FROM targets t GROUP BY t.session_id)) a
  ), queued AS (
    INSERT INTO event.queue (id, session_id, subscription_id, operation, subscription_type,
                             relation_schema, relation_name, pk_columns, pk_values, transaction_id)
    SELECT nextval('event.queue_id_seq'), m.session_id, m.subscription_id, m.operation, m.kind,
           TG_TABLE_SCHEMA, TG_TABLE_NAME, ctx.pk, m.key, tx
    FROM (SELECT t.* FROM targets t JOIN admitted a ON a.session_id = t.session_id
          ORDER BY t.session_id, t.subscription_id) m
    RETURNING session_id, id)
  SELECT array_agg(ROW(b.session_id, b.ids, b.first_id, b.last_id)::event.queued_batch) INTO batches
  FROM (SELECT q.session_id, array_agg(q.id ORDER BY q.id) AS ids, min(q.id) AS first_id, max(q.id) AS last_id
        FROM queued q GROUP BY q.session_id) b;
  IF batches IS NOT NULL THEN
    PERFORM event._queued(batches);
  END IF;
  RETURN NULL;
END
$$;
