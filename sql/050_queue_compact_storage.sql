-- 050_queue_compact_storage: a queue row holds the parts of its event, and
-- the event's JSON is put together when it is read.
--
-- Until now capture wrote each event's finished JSON, about 650 bytes per
-- event: row_id and field_id nest relation_id again and again. Building and
-- storing that JSON was most of what capture cost a bulk write (issue #6,
-- docs/benchmarks.md). A captured event is now stored as its parts (names,
-- key values, the row or the old and new value), written once per event;
-- event._render builds the same JSON as before whenever it is read: by
-- fetch_events, peek, the notifications and the view event.pending_event.
--
-- Rows queued before this migration, overflow markers and requeued dead
-- letters keep their finished JSON in the column "event", which _render
-- returns as it is. Nothing else changes for a consumer: the JSON of an
-- event is the same whichever way it was stored.

ALTER TABLE event.queue
  ALTER COLUMN event DROP NOT NULL,
  ADD COLUMN operation         text,
  ADD COLUMN subscription_type text,
  ADD COLUMN relation_schema   text,
  ADD COLUMN relation_name     text,
  ADD COLUMN pk_columns        text[],  -- NULL: the table has no primary key
  ADD COLUMN pk_values         text[],  -- canonical text of the key, in key order
  ADD COLUMN column_name       text,    -- field_update only
  ADD COLUMN payload           jsonb,   -- the row; for field_update the new value
  ADD COLUMN old_value         jsonb,   -- field_update only
  ADD COLUMN transaction_id    bigint,
  ADD CONSTRAINT queue_event_or_parts CHECK (event IS NOT NULL OR operation IS NOT NULL);

-- pk_column_id of a composite key: one column_id per key column, in order.
-- Apart from the inlinable _render below: a subquery would keep it from
-- being inlined, and single-column keys (the common case) never get here.
CREATE FUNCTION event._pk_column_ids(relation_id jsonb, pk_columns text[]) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_agg(jsonb_build_object('relation_id', relation_id, 'name', c.name) ORDER BY c.ord)
  FROM unnest(pk_columns) WITH ORDINALITY AS c(name, ord)
$$;

-- The relation_id JSON of a stored event, as meta.relation_id builds it.
CREATE FUNCTION event._stored_relation_id(relation_schema text, relation_name text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.jsonb_build_object('schema_id', pg_catalog.jsonb_build_object('name', relation_schema),
                                       'name', relation_name)
$$;

-- The row_id JSON of a stored event (NULL for keyless tables and truncate).
CREATE FUNCTION event._stored_row_id(relation_id jsonb, pk_columns text[], pk_values text[]) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN pk_values IS NULL OR pk_columns IS NULL THEN NULL
    WHEN pg_catalog.cardinality(pk_columns) = 1
      THEN pg_catalog.jsonb_build_object(
             'pk_column_id', pg_catalog.jsonb_build_object('relation_id', relation_id, 'name', pk_columns[1]),
             'pk_value', pk_values[1])
    ELSE pg_catalog.jsonb_build_object('pk_column_id', event._pk_column_ids(relation_id, pk_columns),
                                       'pk_value', pg_catalog.to_jsonb(pk_values))
  END
$$;

-- The JSON of a queue row's event. PL/pgSQL, one expression: its plan is
-- made once per connection. As an inlined SQL function it cost nothing per
-- row more, but every statement that called it planned the whole
-- expression again -- 0.4 ms for each fetch_events, which plans with the
-- queue's current size at every call. No SET clause (it would cost a
-- configuration change per event); every reference is schema-qualified.
CREATE FUNCTION event._render(q event.queue) RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
  RETURN COALESCE(q.event,
    pg_catalog.jsonb_build_object(
      'id', q.id,
      'operation', q.operation,
      'subscription_type', q.subscription_type,
      'subscription_id', q.subscription_id,
      'relation_id', event._stored_relation_id(q.relation_schema, q.relation_name),
      'row_id', event._stored_row_id(event._stored_relation_id(q.relation_schema, q.relation_name),
                                     q.pk_columns, q.pk_values),
      'payload', CASE WHEN q.operation OPERATOR(pg_catalog.=) 'field_update'
                      THEN pg_catalog.jsonb_build_object(q.column_name, q.payload)
                      ELSE q.payload END,
      'transaction_id', q.transaction_id,
      'timestamp', q.created_at)
    OPERATOR(pg_catalog.||)
    CASE WHEN q.operation OPERATOR(pg_catalog.=) 'field_update' THEN
      pg_catalog.jsonb_build_object(
        'field_id', pg_catalog.jsonb_build_object(
          'row_id', event._stored_row_id(event._stored_relation_id(q.relation_schema, q.relation_name),
                                         q.pk_columns, q.pk_values),
          'column_id', pg_catalog.jsonb_build_object(
            'relation_id', event._stored_relation_id(q.relation_schema, q.relation_name),
            'name', q.column_name)),
        'old_payload', pg_catalog.jsonb_build_object(q.column_name, q.old_value))
    ELSE '{}'::pg_catalog.jsonb END);
END
$$;

-- Every pending (not yet acknowledged) event with its JSON: the queue as a
-- consumer sees it. security_invoker: the queue's row-level security
-- applies to whoever reads the view, as it does to the table.
CREATE VIEW event.pending_event WITH (security_invoker = true) AS
  SELECT q.session_id, q.id, q.subscription_id, event._render(q) AS event,
         q.created_at, q.visible_at, q.attempts, q.last_error
  FROM event.queue q;

REVOKE ALL ON event.pending_event FROM PUBLIC;
GRANT SELECT ON event.pending_event TO aqevent_user;

SELECT event._apply_access_control();
