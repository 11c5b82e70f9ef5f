-- 005_event_capture: statement-level triggers that turn a write into
-- relational-diff events in event.queue, in the writer's transaction.
--
-- One INSERT ... SELECT per statement, over the statement's transition
-- tables: a 100,000-row UPDATE costs one pass, not 100,000 trigger calls.
-- The trigger functions are SECURITY DEFINER so that writers need no
-- privilege on the event schema.
--
-- Rows become JSON as to_jsonb(n.*), never to_jsonb(n): in the latter a
-- user column named "n" (or "o") wins over the table alias, and every event
-- of such a table carried that column's value instead of the row.
--
-- The helpers below carry no SET clause on purpose: that keeps them
-- inlinable into the capture statements (a function with a SET clause is
-- never inlined; from SQL it is planned again at every call), which
-- themselves run with a fixed search_path. Every reference in them is
-- schema-qualified all the same.
--
-- The trigger functions run with jit = off: the planner's estimates for a
-- transition table times its subscriptions easily pass jit_above_cost, and
-- compiling costs 100-500 ms per statement while the work is in jsonb
-- functions that JIT does not speed up. And with generic plans only: the
-- default (custom plans, because their parameter TG_RELID makes them look
-- better) planned every capture statement again at every write, most of
-- a single-row write's cost.

-- The JSON of one event. STABLE, like jsonb_build_object itself: an
-- IMMUTABLE SQL function whose body is not immutable is never inlined, and
-- a call per event through the SQL-function executor cost more than the
-- rest of the capture together.
CREATE FUNCTION event._event_json(id bigint, operation text, subscription_type text,
                                  subscription_id uuid, relation_id jsonb, row_id jsonb,
                                  payload jsonb, transaction_id bigint, at timestamptz)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.jsonb_build_object(
    'id', id,
    'operation', operation,
    'subscription_type', subscription_type,
    'subscription_id', subscription_id,
    'relation_id', relation_id,
    'row_id', row_id,
    'payload', payload,
    'transaction_id', transaction_id,
    'timestamp', at)
$$;

-- The row_id JSON of a row, given its key values (NULL for keyless tables).
CREATE FUNCTION event._row_id_json(pk_column_ids jsonb, key text[]) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN key IS NULL THEN NULL
    WHEN pg_catalog.jsonb_typeof(pk_column_ids) = 'array'
      THEN pg_catalog.jsonb_build_object('pk_column_id', pk_column_ids, 'pk_value', pg_catalog.to_jsonb(key))
    ELSE pg_catalog.jsonb_build_object('pk_column_id', pk_column_ids, 'pk_value', key[1])
  END
$$;

-- Everything capture needs to know about the table being written, once per
-- statement: one catalog query, inlined into the caller's cached plan. The
-- identifiers are built as meta.relation_id / meta.column_id build them.
CREATE FUNCTION event._capture_context(relid oid)
RETURNS TABLE (relation_id jsonb, pk text[], pk_column_ids jsonb, columns text[],
               has_table_subscriptions boolean, has_row_subscriptions boolean)
LANGUAGE sql STABLE
AS $$
  SELECT r.relation_id, k.pk,
         CASE WHEN pg_catalog.cardinality(k.pk) = 1 THEN k.ids -> 0 ELSE k.ids END,
         -- COLLATE "default": attname is a name (collation "C"), and keys
         -- compared in "C" could not use the index on subscription.pk_values.
         ARRAY(SELECT a.attname::text COLLATE "default" FROM pg_catalog.pg_attribute a
               WHERE a.attrelid = relid AND a.attnum > 0 AND NOT a.attisdropped
               ORDER BY a.attnum),
         -- ORDER BY ... LIMIT 1 in the order of the partial indexes: a
         -- generic plan would otherwise happily seq-scan 10,000 row
         -- subscriptions of this table (or all tables) for EXISTS.
         (SELECT s.relation_oid FROM event.subscription s
          WHERE s.relation_oid = relid AND s.pk_values IS NULL
          ORDER BY s.relation_oid LIMIT 1) IS NOT NULL,
         (SELECT s.relation_oid FROM event.subscription s
          WHERE s.relation_oid = relid AND s.pk_values IS NOT NULL
          ORDER BY s.relation_oid, s.pk_values LIMIT 1) IS NOT NULL
  FROM (SELECT pg_catalog.jsonb_build_object('schema_id', pg_catalog.jsonb_build_object('name', n.nspname),
                                             'name', c.relname) AS relation_id
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = relid) r
  CROSS JOIN LATERAL (
    SELECT pg_catalog.array_agg(a.attname::text COLLATE "default" ORDER BY u.ord) AS pk,
           pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('relation_id', r.relation_id, 'name', a.attname)
                                ORDER BY u.ord) AS ids
    FROM pg_catalog.pg_index i
    CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY AS u(attnum, ord)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum
    WHERE i.indrelid = relid AND i.indisprimary) k
$$;

-- Subscriptions on a relation, with what their owners may see:
-- whole-table grains (table, column) only; row grains are matched by key.
-- A set-returning SQL function without a SET clause, so that it (and
-- event._owner_view in it) is inlined into the capture statements and
-- planned with them, once per session: as a PL/pgSQL function it cost a
-- call, and a call of _owner_view per subscription, at every statement.
-- Events keep their order per subscription whatever the join order: the
-- capture statements cross-join the changed rows with these subscriptions,
-- a nested loop that keeps the order of both sides.
CREATE FUNCTION event._table_subscriptions(relid oid)
RETURNS TABLE (id uuid, session_id uuid, kind text, column_name text, hidden text[])
LANGUAGE sql STABLE
AS $$
  SELECT s.id, s.session_id, s.kind, s.column_name, v.hidden
  FROM event.subscription s
  -- The owner by primary key, per subscription (a join may hash all
  -- sessions). A lateral subquery, not a scalar one as _owner_view's
  -- argument: a function whose arguments hold a subquery is not inlined.
  CROSS JOIN LATERAL (SELECT ses.owner_role FROM event.session ses
                      WHERE ses.id = s.session_id OFFSET 0) o
  CROSS JOIN LATERAL event._owner_view(o.owner_role, relid) v
  WHERE s.relation_oid = relid AND s.pk_values IS NULL AND v.visible
    AND (s.column_name IS NULL OR s.column_name OPERATOR(pg_catalog.<>) ALL (v.hidden))
$$;

CREATE FUNCTION event._capture_insert() RETURNS trigger
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
  SELECT * INTO ctx FROM event._capture_context(TG_RELID);
  IF ctx.has_table_subscriptions IS NOT TRUE THEN
    RETURN NULL;  -- row grains do not receive inserts
  END IF;
  pk1 := ctx.pk[1];
  WITH queued AS (
  INSERT INTO event.queue (id, session_id, subscription_id, event)
  SELECT e.id, e.session_id, e.subscription_id,
         event._event_json(e.id, 'row_insert', e.kind, e.subscription_id, ctx.relation_id,
                           event._row_id_json(ctx.pk_column_ids, e.key), e.payload, tx, now())
  FROM (
    SELECT nextval('event.queue_id_seq') AS id, s.session_id, s.id AS subscription_id, s.kind,
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

CREATE FUNCTION event._capture_delete() RETURNS trigger
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
  SELECT * INTO ctx FROM event._capture_context(TG_RELID);
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
  INSERT INTO event.queue (id, session_id, subscription_id, event)
  SELECT e.id, e.session_id, e.subscription_id,
         event._event_json(e.id, 'row_delete', e.kind, e.subscription_id, ctx.relation_id,
                           event._row_id_json(ctx.pk_column_ids, e.key), e.payload, tx, now())
  FROM (
    SELECT nextval('event.queue_id_seq') AS id, m.*
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
    ) m
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

-- UPDATE: old and new rows are paired by primary key. A pair gives one
-- field_update per column whose value changed; an old row without a partner
-- (its key changed, or the table has no key) is a row_delete, a new row
-- without one a row_insert -- deletes first.
CREATE FUNCTION event._capture_update() RETURNS trigger
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
  SELECT * INTO ctx FROM event._capture_context(TG_RELID);
  IF (ctx.has_table_subscriptions OR ctx.has_row_subscriptions) IS NOT TRUE THEN
    RETURN NULL;
  END IF;
  pk1 := ctx.pk[1];
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
    FROM pairs p CROSS JOIN LATERAL unnest(ctx.columns) AS c(name)
    WHERE p.old_j IS NOT NULL AND p.new_j IS NOT NULL
      AND (p.new_j -> c.name) IS DISTINCT FROM (p.old_j -> c.name)
  ),
  queued AS (
  INSERT INTO event.queue (id, session_id, subscription_id, event)
  SELECT e.id, e.session_id, e.subscription_id,
         CASE WHEN e.operation = 'field_update'
              -- One object, not _event_json(...) || {...}: the concatenation
              -- copies the whole event again. field_id is meta.field_id(row_id,
              -- column) built here: its domain checks and SET clause cost more
              -- than the rest of the event.
              THEN jsonb_build_object(
                'id', e.id, 'operation', e.operation, 'subscription_type', e.kind,
                'subscription_id', e.subscription_id, 'relation_id', ctx.relation_id,
                'row_id', e.row_id, 'payload', jsonb_build_object(e.column_name, e.payload),
                'transaction_id', tx, 'timestamp', now(),
                'field_id', jsonb_build_object(
                  'row_id', e.row_id,
                  'column_id', jsonb_build_object('relation_id', ctx.relation_id, 'name', e.column_name)),
                'old_payload', jsonb_build_object(e.column_name, e.old_value))
              ELSE event._event_json(e.id, e.operation, e.kind, e.subscription_id, ctx.relation_id, e.row_id,
                                     CASE WHEN e.hidden = '{}' THEN e.payload ELSE e.payload - e.hidden END,
                                     tx, now())
         END
  FROM (
    SELECT nextval('event.queue_id_seq') AS id, m.*,
           event._row_id_json(ctx.pk_column_ids, m.key) AS row_id
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
    ) m
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

-- TRUNCATE has no transition table: table and column grains get one
-- "truncate" event; row and field grains a row_delete of their row with a
-- NULL payload (the old row is not known).
CREATE FUNCTION event._capture_truncate() RETURNS trigger
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
  SELECT * INTO ctx FROM event._capture_context(TG_RELID);
  IF (ctx.has_table_subscriptions OR ctx.has_row_subscriptions) IS NOT TRUE THEN
    RETURN NULL;
  END IF;
  WITH queued AS (
  INSERT INTO event.queue (id, session_id, subscription_id, event)
  SELECT e.id, e.session_id, e.subscription_id,
         event._event_json(e.id, e.operation, e.kind, e.subscription_id, ctx.relation_id,
                           e.row_id, NULL, tx, now())
  FROM (
    SELECT nextval('event.queue_id_seq') AS id, m.*
    FROM (
      SELECT 'truncate'::text AS operation, s.session_id, s.id AS subscription_id, s.kind,
             NULL::jsonb AS row_id
      FROM event._table_subscriptions(TG_RELID) s
      UNION ALL
      SELECT 'row_delete', s.session_id, s.id, s.kind,
             event._row_id_json(ctx.pk_column_ids, s.pk_values)
      FROM event.subscription s
      JOIN event.session ses ON ses.id = s.session_id
      CROSS JOIN LATERAL event._owner_view(ses.owner_role, TG_RELID) v
      WHERE s.relation_oid = TG_RELID AND s.pk_values IS NOT NULL AND v.visible
        AND (s.column_name IS NULL OR s.column_name <> ALL (v.hidden))
      ORDER BY 2, 3
    ) m
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
