-- 051_capture_compact: capture stores each event as its parts
-- (050_queue_compact_storage) instead of its finished JSON.
--
-- Same statements as 005_event_capture, same matching, same order of
-- events; what goes into each queue row changed. Per event: the operation,
-- the subscription's kind, the key values, the row (or a column's old and
-- new value) and the transaction. Per statement, the table's schema, name
-- and key columns, as they are at the time of the write.

-- What capture needs to know about the table being written, once per
-- statement: its primary key and whether it has subscriptions of each kind.
-- Inlined into the caller's cached plan. The key comes from pg_constraint
-- (looked up by its conrelid index); the schema and table names come from
-- the trigger itself (TG_TABLE_SCHEMA, TG_TABLE_NAME), and the column list,
-- which only UPDATE needs, from event._capture_columns.
CREATE FUNCTION event._capture_target(relid oid)
RETURNS TABLE (pk text[], has_table_subscriptions boolean, has_row_subscriptions boolean)
LANGUAGE sql STABLE
AS $$
  SELECT (SELECT pg_catalog.array_agg(a.attname::text COLLATE "default" ORDER BY k.ord)
          FROM pg_catalog.pg_constraint c
          CROSS JOIN LATERAL pg_catalog.unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
          WHERE c.conrelid = relid AND c.contype = 'p'),
         -- ORDER BY ... LIMIT 1 in the order of the partial indexes: a
         -- generic plan would otherwise happily seq-scan 10,000 row
         -- subscriptions of this table (or all tables) for EXISTS.
         (SELECT s.relation_oid FROM event.subscription s
          WHERE s.relation_oid = relid AND s.pk_values IS NULL
          ORDER BY s.relation_oid LIMIT 1) IS NOT NULL,
         (SELECT s.relation_oid FROM event.subscription s
          WHERE s.relation_oid = relid AND s.pk_values IS NOT NULL
          ORDER BY s.relation_oid, s.pk_values LIMIT 1) IS NOT NULL
$$;

-- The table's columns in order (UPDATE compares them one by one).
-- COLLATE "default": attname is a name (collation "C").
CREATE FUNCTION event._capture_columns(relid oid) RETURNS text[]
LANGUAGE sql STABLE
AS $$
  SELECT ARRAY(SELECT a.attname::text COLLATE "default" FROM pg_catalog.pg_attribute a
               WHERE a.attrelid = relid AND a.attnum > 0 AND NOT a.attisdropped
               ORDER BY a.attnum)
$$;

CREATE OR REPLACE FUNCTION event._capture_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  ctx record;
  batches event.queued_batch[];
  pk1 text;
  tx bigint := pg_current_xact_id()::text::bigint;
BEGIN
  SELECT * INTO ctx FROM event._capture_target(TG_RELID);
  IF ctx.has_table_subscriptions IS NOT TRUE THEN
    RETURN NULL;  -- row grains do not receive inserts
  END IF;
  pk1 := ctx.pk[1];
  WITH queued AS (
  INSERT INTO event.queue (id, session_id, subscription_id, operation, subscription_type,
                           relation_schema, relation_name, pk_columns, pk_values, payload, transaction_id)
  SELECT nextval('event.queue_id_seq'), e.session_id, e.subscription_id, 'row_insert', e.kind,
         TG_TABLE_SCHEMA, TG_TABLE_NAME, ctx.pk, e.key, e.payload, tx
  FROM (
    SELECT s.session_id, s.id AS subscription_id, s.kind,
           CASE WHEN s.hidden = '{}' THEN r.j ELSE r.j - s.hidden END AS payload, r.key
    FROM (SELECT r.j,
                 CASE WHEN cardinality(ctx.pk) = 1 THEN ARRAY[r.j ->> pk1]
                      WHEN cardinality(ctx.pk) > 1 THEN ARRAY(SELECT r.j ->> k FROM unnest(ctx.pk) AS k) END AS key
          FROM (SELECT to_jsonb(n.*) AS j FROM aqevent_new_rows n OFFSET 0) r) r
    CROSS JOIN (SELECT * FROM event._table_subscriptions(TG_RELID) OFFSET 0) s
    OFFSET 0
  ) e
  RETURNING session_id, id)
  -- Per session, for the notifications and the pending cap (event._queued).
  SELECT array_agg(ROW(b.session_id, b.ids, b.first_id, b.last_id)::event.queued_batch) INTO batches
  FROM (SELECT q.session_id, array_agg(q.id) AS ids, min(q.id) AS first_id, max(q.id) AS last_id
        FROM queued q GROUP BY q.session_id) b;
  IF batches IS NOT NULL THEN
    PERFORM event._queued(batches);
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION event._capture_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  ctx record;
  batches event.queued_batch[];
  pk1 text;
  tx bigint := pg_current_xact_id()::text::bigint;
BEGIN
  SELECT * INTO ctx FROM event._capture_target(TG_RELID);
  IF (ctx.has_table_subscriptions OR ctx.has_row_subscriptions) IS NOT TRUE THEN
    RETURN NULL;
  END IF;
  pk1 := ctx.pk[1];
  WITH changed AS MATERIALIZED (
    SELECT r.j,
           CASE WHEN cardinality(ctx.pk) = 1 THEN ARRAY[r.j ->> pk1]
                WHEN cardinality(ctx.pk) > 1 THEN ARRAY(SELECT r.j ->> k FROM unnest(ctx.pk) AS k) END AS key
    FROM (SELECT to_jsonb(o.*) AS j FROM aqevent_old_rows o OFFSET 0) r
  ),
  queued AS (
  INSERT INTO event.queue (id, session_id, subscription_id, operation, subscription_type,
                           relation_schema, relation_name, pk_columns, pk_values, payload, transaction_id)
  SELECT nextval('event.queue_id_seq'), m.session_id, m.subscription_id, 'row_delete', m.kind,
         TG_TABLE_SCHEMA, TG_TABLE_NAME, ctx.pk, m.key, m.payload, tx
  FROM (
    SELECT s.session_id, s.id AS subscription_id, s.kind,
           CASE WHEN s.hidden = '{}' THEN c.j ELSE c.j - s.hidden END AS payload, c.key
    FROM changed c
    CROSS JOIN (SELECT * FROM event._table_subscriptions(TG_RELID) OFFSET 0) s
    UNION ALL
    SELECT s.session_id, s.id, s.kind, CASE WHEN v.hidden = '{}' THEN c.j ELSE c.j - v.hidden END, c.key
    FROM changed c
    -- An index lookup by (relation, key) per changed row, never a scan of
    -- the subscriptions: OFFSET 0 keeps the planner from turning it into a
    -- hash join over all of them.
    -- The owner looked up inside it: a subquery as _owner_view's argument
    -- would keep that function from being inlined.
    CROSS JOIN LATERAL (SELECT s.*, (SELECT ses.owner_role FROM event.session ses
                                     WHERE ses.id = s.session_id) AS owner_role
                        FROM event.subscription s
                        WHERE s.relation_oid = TG_RELID AND s.pk_values IS NOT NULL
                          AND s.pk_values = c.key OFFSET 0) s
    CROSS JOIN LATERAL event._owner_view(s.owner_role, TG_RELID) v
    WHERE ctx.has_row_subscriptions AND v.visible
      AND (s.column_name IS NULL OR s.column_name <> ALL (v.hidden))
    OFFSET 0
  ) m
  RETURNING session_id, id)
  -- Per session, for the notifications and the pending cap (event._queued).
  SELECT array_agg(ROW(b.session_id, b.ids, b.first_id, b.last_id)::event.queued_batch) INTO batches
  FROM (SELECT q.session_id, array_agg(q.id) AS ids, min(q.id) AS first_id, max(q.id) AS last_id
        FROM queued q GROUP BY q.session_id) b;
  IF batches IS NOT NULL THEN
    PERFORM event._queued(batches);
  END IF;
  RETURN NULL;
END
$$;

-- UPDATE: old and new rows are paired by primary key. A pair gives one
-- field_update per column whose value changed; an old row without a partner
-- (its key changed, or the table has no key) is a row_delete, a new row
-- without one a row_insert -- deletes first.
CREATE OR REPLACE FUNCTION event._capture_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_generic_plan
-- A hash join pairs old and new rows: the generic plan's merge join sorted
-- both transition tables by key first.
SET enable_mergejoin = off
AS $$
DECLARE
  ctx record;
  all_columns text[];
  batches event.queued_batch[];
  pk1 text;
  tx bigint := pg_current_xact_id()::text::bigint;
BEGIN
  SELECT * INTO ctx FROM event._capture_target(TG_RELID);
  IF (ctx.has_table_subscriptions OR ctx.has_row_subscriptions) IS NOT TRUE THEN
    RETURN NULL;
  END IF;
  pk1 := ctx.pk[1];
  all_columns := event._capture_columns(TG_RELID);
  WITH pairs AS MATERIALIZED (
    SELECT o.key AS old_key, o.j AS old_j, n.key AS new_key, n.j AS new_j
    FROM (SELECT r.j,
                 CASE WHEN cardinality(ctx.pk) = 1 THEN ARRAY[r.j ->> pk1]
                      WHEN cardinality(ctx.pk) > 1 THEN ARRAY(SELECT r.j ->> k FROM unnest(ctx.pk) AS k) END AS key
          FROM (SELECT to_jsonb(o.*) AS j FROM aqevent_old_rows o OFFSET 0) r) o
    FULL JOIN
         (SELECT r.j,
                 CASE WHEN cardinality(ctx.pk) = 1 THEN ARRAY[r.j ->> pk1]
                      WHEN cardinality(ctx.pk) > 1 THEN ARRAY(SELECT r.j ->> k FROM unnest(ctx.pk) AS k) END AS key
          FROM (SELECT to_jsonb(n.*) AS j FROM aqevent_new_rows n OFFSET 0) r) n
      ON n.key = o.key
  ),
  changed AS MATERIALIZED (
    SELECT 'row_delete'::text AS operation, p.old_key AS key, NULL::text AS column_name,
           p.old_j AS payload, NULL::jsonb AS old_value
    FROM pairs p WHERE p.new_j IS NULL
    UNION ALL
    SELECT 'row_insert', p.new_key, NULL, p.new_j, NULL
    FROM pairs p WHERE p.old_j IS NULL
    UNION ALL
    SELECT 'field_update', p.new_key, c.name, p.new_j -> c.name, p.old_j -> c.name
    FROM pairs p CROSS JOIN LATERAL unnest(all_columns) AS c(name)
    WHERE p.old_j IS NOT NULL AND p.new_j IS NOT NULL
      AND (p.new_j -> c.name) IS DISTINCT FROM (p.old_j -> c.name)
  ),
  queued AS (
  INSERT INTO event.queue (id, session_id, subscription_id, operation, subscription_type,
                           relation_schema, relation_name, pk_columns, pk_values, column_name,
                           payload, old_value, transaction_id)
  SELECT nextval('event.queue_id_seq'), m.session_id, m.subscription_id, m.operation, m.kind,
         TG_TABLE_SCHEMA, TG_TABLE_NAME, ctx.pk, m.key, m.column_name,
         CASE WHEN m.operation = 'field_update' OR m.hidden = '{}' THEN m.payload
              ELSE m.payload - m.hidden END,
         m.old_value, tx
  FROM (
    SELECT c.operation, c.key, c.column_name, c.payload, c.old_value,
           s.session_id, s.id AS subscription_id, s.kind, s.hidden
    FROM changed c
    CROSS JOIN (SELECT * FROM event._table_subscriptions(TG_RELID) OFFSET 0) s
    WHERE c.operation <> 'field_update'
       OR (c.column_name <> ALL (s.hidden) AND (s.kind = 'table' OR s.column_name = c.column_name))
    UNION ALL
    SELECT c.operation, c.key, c.column_name, c.payload, c.old_value,
           s.session_id, s.id, s.kind, v.hidden
    FROM changed c
    -- An index lookup by (relation, key) per changed row, never a scan of
    -- the subscriptions: OFFSET 0 keeps the planner from turning it into a
    -- hash join over all of them.
    -- The owner looked up inside it: a subquery as _owner_view's argument
    -- would keep that function from being inlined.
    CROSS JOIN LATERAL (SELECT s.*, (SELECT ses.owner_role FROM event.session ses
                                     WHERE ses.id = s.session_id) AS owner_role
                        FROM event.subscription s
                        WHERE s.relation_oid = TG_RELID AND s.pk_values IS NOT NULL
                          AND s.pk_values = c.key OFFSET 0) s
    CROSS JOIN LATERAL event._owner_view(s.owner_role, TG_RELID) v
    WHERE ctx.has_row_subscriptions AND v.visible AND c.operation <> 'row_insert'
      AND (s.column_name IS NULL OR s.column_name <> ALL (v.hidden))
      AND (c.operation = 'row_delete'
           OR (c.column_name <> ALL (v.hidden) AND (s.kind = 'row' OR s.column_name = c.column_name)))
    OFFSET 0
  ) m
  RETURNING session_id, id)
  -- Per session, for the notifications and the pending cap (event._queued).
  SELECT array_agg(ROW(b.session_id, b.ids, b.first_id, b.last_id)::event.queued_batch) INTO batches
  FROM (SELECT q.session_id, array_agg(q.id) AS ids, min(q.id) AS first_id, max(q.id) AS last_id
        FROM queued q GROUP BY q.session_id) b;
  IF batches IS NOT NULL THEN
    PERFORM event._queued(batches);
  END IF;
  RETURN NULL;
END
$$;

-- TRUNCATE has no transition table: table and column grains get one
-- "truncate" event; row and field grains a row_delete of their row with a
-- NULL payload (the old row is not known).
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
  WITH queued AS (
  INSERT INTO event.queue (id, session_id, subscription_id, operation, subscription_type,
                           relation_schema, relation_name, pk_columns, pk_values, transaction_id)
  SELECT nextval('event.queue_id_seq'), m.session_id, m.subscription_id, m.operation, m.kind,
         TG_TABLE_SCHEMA, TG_TABLE_NAME, ctx.pk, m.key, tx
  FROM (
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
    ORDER BY 2, 3
    OFFSET 0
  ) m
  RETURNING session_id, id)
  -- Per session, for the notifications and the pending cap (event._queued).
  SELECT array_agg(ROW(b.session_id, b.ids, b.first_id, b.last_id)::event.queued_batch) INTO batches
  FROM (SELECT q.session_id, array_agg(q.id) AS ids, min(q.id) AS first_id, max(q.id) AS last_id
        FROM queued q GROUP BY q.session_id) b;
  IF batches IS NOT NULL THEN
    PERFORM event._queued(batches);
  END IF;
  RETURN NULL;
END
$$;

-- Replaced by event._capture_target and event._render (050).
DROP FUNCTION event._capture_context(oid);
DROP FUNCTION event._event_json(bigint, text, text, uuid, jsonb, jsonb, jsonb, bigint, timestamptz);
DROP FUNCTION event._row_id_json(jsonb, text[]);

SELECT event._apply_access_control();
