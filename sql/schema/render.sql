-- Render: an inbox row becomes the event JSON consumers read.
--
-- Runs with the reader's rights (SECURITY INVOKER): stored rows are cast to
-- the table's row type and turned into JSON with to_jsonb, so input
-- functions, domain checks and casts to JSON that belong to the table's
-- types run as the role reading the session, never as the event system's
-- owner. One dynamic statement per table and batch.
--
-- A row whose table changed shape since it was captured (a column added,
-- dropped, retyped), or that cannot be cast or rendered (a value too large
-- for jsonb, a type dropped since), is rendered field by field; a field that
-- still cannot be becomes {"aqevent_unrenderable": <reason>, "bytes": <size>}.

-- The helpers up to _event_json are single expressions without a fixed
-- search_path and without sub-selects, declared STABLE (as jsonb_build_object
-- is), so that they are inlined into the statements calling them (which fix
-- their search_path): a call of an SQL function that is not inlined costs
-- about 5-10 µs per row. Every name in them is schema-qualified. What needs a
-- sub-select (keys of more than one column, a column list) is a function of
-- its own, called only then.
CREATE FUNCTION event._relation_json(schema_name text, relation_name text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.jsonb_build_object('schema_id', pg_catalog.jsonb_build_object('name', schema_name),
                                       'name', relation_name)
$$;

-- pk_column_id of a key of more than one column.
CREATE FUNCTION event._key_columns_json(relation jsonb, pk_columns text[]) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('relation_id', relation, 'name', c) ORDER BY o)
  FROM pg_catalog.unnest(pk_columns) WITH ORDINALITY AS u(c, o)
$$;

CREATE FUNCTION event._row_id_json(relation jsonb, pk_columns text[], pk_values text[]) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN pk_columns IS NULL OR pk_values IS NULL THEN NULL
    WHEN pg_catalog.cardinality(pk_columns) OPERATOR(pg_catalog.=) 1 THEN
      pg_catalog.jsonb_build_object('pk_column_id', pg_catalog.jsonb_build_object('relation_id', relation,
                                                                                'name', pk_columns[1]),
                                    'pk_value', pk_values[1])
    ELSE pg_catalog.jsonb_build_object('pk_column_id', event._key_columns_json(relation, pk_columns),
                                       'pk_value', pg_catalog.to_jsonb(pk_values))
  END
$$;

-- The listed columns of a rendered row.
CREATE FUNCTION event._only_columns(full_row jsonb, columns text[]) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT coalesce((SELECT pg_catalog.jsonb_object_agg(e.key, e.value)
                   FROM pg_catalog.jsonb_each(full_row) e
                   WHERE e.key OPERATOR(pg_catalog.=) ANY (columns)), '{}')
$$;

-- The columns of a rendered row that an event's payload carries.
CREATE FUNCTION event._payload(full_row jsonb, columns text[], hidden text[]) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN full_row IS NULL THEN NULL
              WHEN columns IS NULL THEN full_row OPERATOR(pg_catalog.-) coalesce(hidden, '{}')
              ELSE event._only_columns(full_row, columns) END
$$;

-- The values of a key of more than one column, from a rendered row.
-- COST 1: the planner inlines _row_id_json, whose pk_values argument calls
-- this, only when that argument is estimated cheap.
CREATE FUNCTION event._key_values_of(pk_columns text[], full_row jsonb) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE COST 1
AS $$
  SELECT ARRAY(SELECT full_row OPERATOR(pg_catalog.->>) k
               FROM pg_catalog.unnest(pk_columns) WITH ORDINALITY AS u(k, o) ORDER BY u.o)
$$;

-- The key values of an event: from its rendered row, else as stored.
CREATE FUNCTION event._key_values(pk_columns text[], pk_values text[], full_row jsonb) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN full_row IS NULL OR pk_columns IS NULL THEN pk_values
              WHEN pg_catalog.cardinality(pk_columns) OPERATOR(pg_catalog.=) 1
              THEN ARRAY[full_row OPERATOR(pg_catalog.->>) pk_columns[1]]
              ELSE event._key_values_of(pk_columns, full_row) END
$$;

-- The event JSON of an inbox row, given its rows rendered and its relation_id.
CREATE FUNCTION event._event_json(q event.inbox, new_full jsonb, old_full jsonb, relation jsonb) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.jsonb_build_object(
           'id', q.id,
           'operation', q.operation,
           'subscription_type', q.subscription_type,
           'subscription_id', q.subscription_id,
           'relation_id', relation,
           'row_id', event._row_id_json(relation, q.pk_columns,
                                        event._key_values(q.pk_columns, q.pk_values, coalesce(new_full, old_full))),
           'payload', CASE q.operation
                        WHEN 'row_insert' THEN event._payload(new_full, q.payload_columns, q.hidden)
                        WHEN 'row_delete' THEN event._payload(old_full, q.payload_columns, q.hidden)
                        WHEN 'field_update' THEN pg_catalog.jsonb_build_object(q.column_name,
                                                   new_full OPERATOR(pg_catalog.->) q.column_name)
                      END,
           'transaction_id', q.transaction_id,
           'timestamp', q.created_at)
         OPERATOR(pg_catalog.||) CASE WHEN q.reason IS NULL THEN '{}'::pg_catalog.jsonb
                                      ELSE pg_catalog.jsonb_build_object('reason', q.reason) END
         OPERATOR(pg_catalog.||) CASE WHEN q.operation OPERATOR(pg_catalog.=) 'field_update' THEN
              pg_catalog.jsonb_build_object(
                'field_id', pg_catalog.jsonb_build_object(
                  'row_id', event._row_id_json(relation, q.pk_columns,
                                               event._key_values(q.pk_columns, q.pk_values, coalesce(new_full, old_full))),
                  'column_id', pg_catalog.jsonb_build_object(
                    'relation_id', relation, 'name', q.column_name)),
                'old_payload', pg_catalog.jsonb_build_object(q.column_name, old_full OPERATOR(pg_catalog.->) q.column_name))
            ELSE '{}'::pg_catalog.jsonb END
$$;

CREATE FUNCTION event._event_json(q event.inbox, new_full jsonb, old_full jsonb) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT event._event_json(q, new_full, old_full, event._relation_json(q.relation_schema, q.relation_name)) $$;

-- Is the table still of the shape its rows were captured in? (PL/pgSQL:
-- planned once per connection; as an SQL function with a fixed search_path
-- it was planned at every call, 0.2 ms of each read.)
CREATE FUNCTION event._shape_is_current(shape integer) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN EXISTS (
    SELECT 1 FROM event.shape s
    WHERE s.id = shape
      AND (s.columns, s.types) = (SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}'),
                                         coalesce(array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum), '{}')
                                  FROM pg_attribute a
                                  WHERE a.attrelid = s.relid AND a.attnum > 0 AND NOT a.attisdropped));
END
$$;

-- A stored row rendered field by field with the types of its shape.
CREATE FUNCTION event._render_fields(literal text, shape integer) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s event.shape;
  fields text[];
  result jsonb := '{}';
  value text;
  rendered jsonb;
BEGIN
  IF literal IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT * INTO s FROM event.shape x WHERE x.id = shape;
  fields := event._fields(literal);
  FOR i IN 1 .. coalesce(cardinality(s.columns), 0) LOOP
    value := event._unquote(fields[i]);
    IF value IS NULL THEN
      rendered := 'null';
    ELSE
      BEGIN
        EXECUTE format('SELECT to_jsonb($1::%s)', s.types[i]) INTO rendered USING value;
      EXCEPTION WHEN OTHERS THEN
        rendered := jsonb_build_object('aqevent_unrenderable', SQLERRM, 'sqlstate', SQLSTATE,
                                       'bytes', octet_length(value));
      END;
    END IF;
    result := result || jsonb_build_object(s.columns[i], rendered);
  END LOOP;
  RETURN result;
END
$$;

-- Event JSON for a batch of inbox rows, as (id, event). Each table's rows
-- are rendered into arrays first and returned only when all of them were
-- (rows already returned could not be taken back when one fails).
CREATE FUNCTION event._render(batch event.inbox[]) RETURNS TABLE (id bigint, event jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  g record;
  ids bigint[];
  events jsonb[];
BEGIN
  RETURN QUERY SELECT q.id, q.event FROM unnest(batch) q WHERE q.event IS NOT NULL;
  FOR g IN
    SELECT DISTINCT q.relid, q.shape FROM unnest(batch) q WHERE q.event IS NULL
  LOOP
    ids := NULL;
    IF event._shape_is_current(g.shape) THEN
      BEGIN
        -- the rows made JSON once each, in a sub-select kept apart (OFFSET 0): passed
        -- as expressions, the inlined _event_json would evaluate them at each use
        EXECUTE format('SELECT array_agg(q.id), array_agg(event._event_json(q, r.new_full, r.old_full, r.relation)) '
                       'FROM unnest($1) q CROSS JOIN LATERAL (SELECT to_jsonb(q.new_row::%1$s) AS new_full, '
                       'to_jsonb(q.old_row::%1$s) AS old_full, '
                       'event._relation_json(q.relation_schema, q.relation_name) AS relation OFFSET 0) r '
                       'WHERE q.event IS NULL AND q.relid = $2 AND q.shape = $3', g.relid::regclass)
          INTO ids, events USING batch, g.relid, g.shape;
      EXCEPTION WHEN OTHERS THEN
        ids := NULL;
      END;
    END IF;
    IF ids IS NULL THEN
      SELECT array_agg(q.id), array_agg(event._event_json(q, r.new_full, r.old_full, r.relation))
        INTO ids, events
      FROM unnest(batch) q
      CROSS JOIN LATERAL (SELECT event._render_fields(q.new_row, q.shape) AS new_full,
                                 event._render_fields(q.old_row, q.shape) AS old_full,
                                 event._relation_json(q.relation_schema, q.relation_name) AS relation OFFSET 0) r
      WHERE q.event IS NULL AND q.relid IS NOT DISTINCT FROM g.relid AND q.shape IS NOT DISTINCT FROM g.shape;
    END IF;
    RETURN QUERY SELECT u.i, u.e FROM unnest(ids, events) AS u(i, e);
  END LOOP;
END
$$;
