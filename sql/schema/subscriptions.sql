-- Subscriptions: what a session wants, at four grains (table, row, field,
-- column), and the checks made when it subscribes.
--
-- Subscribing records what to match; it does no work for writers beyond
-- making sure the table is captured (capture.sql). Matching happens when the
-- session's reader collects (collect.sql). since is the snapshot at
-- subscribe time: only changes committed after it match. filter (checked
-- and deparsed) and columns narrow what matches (filters.sql).

CREATE TABLE event.subscription (
  id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id   uuid        NOT NULL REFERENCES event.session (id) ON DELETE CASCADE,
  kind         text        NOT NULL CONSTRAINT subscription_kind_check
                           CHECK (kind IN ('table', 'row', 'field', 'column')),
  relation_oid oid         NOT NULL,
  target       jsonb       NOT NULL,
  pk_values    text[],
  column_name  text,
  filter       text,
  columns      text[],
  created_at   timestamptz NOT NULL DEFAULT now(),
  since        pg_snapshot NOT NULL DEFAULT pg_current_snapshot(),
  since_xid    xid8        NOT NULL DEFAULT pg_current_xact_id(),
  CONSTRAINT subscription_key_check CHECK ((kind IN ('row', 'field')) = (pk_values IS NOT NULL)),
  CONSTRAINT subscription_column_check CHECK ((kind IN ('field', 'column')) = (column_name IS NOT NULL)),
  CONSTRAINT subscription_target_key UNIQUE NULLS NOT DISTINCT
    (session_id, relation_oid, kind, pk_values, column_name, filter, columns)
);

CREATE INDEX subscription_relation_idx ON event.subscription (relation_oid);

-- Output text of values under fixed settings: the form capture stores
-- (capture.sql sets the same), so a key means the same whoever wrote it.
CREATE FUNCTION event._canonical_text(value text, type_sql text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET "DateStyle" = 'ISO, MDY'
SET "IntervalStyle" = 'postgres'
SET "TimeZone" = 'UTC'
SET extra_float_digits = 1
SET bytea_output = 'hex'
SET lc_monetary = 'C'
AS $$
DECLARE
  result text;
BEGIN
  EXECUTE format('SELECT format(''%%s'', $1::%s)', type_sql) INTO result USING value;
  RETURN result;
END
$$;

-- The meta views (catalog.sql) are keyed by their id column.
CREATE FUNCTION event._primary_key(relid oid) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF event._is_meta_view(relid) THEN
    RETURN ARRAY['id'];
  END IF;
  RETURN (SELECT array_agg(a.attname::text ORDER BY k.ord)
          FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = relid AND i.indisprimary);
END
$$;

-- Does row-level security filter what owner_role would read from relid?
-- Then the reader checks each row against the policies (filters.sql).
CREATE FUNCTION event._rls_applies(owner_role oid, relid oid) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT c.relrowsecurity
                 AND NOT r.rolsuper AND NOT r.rolbypassrls
                 AND (c.relforcerowsecurity OR NOT pg_has_role(owner_role, c.relowner, 'USAGE'))
          FROM pg_class c, pg_roles r
          WHERE c.oid = relid AND r.oid = owner_role);
END
$$;

-- The table a relation_id names, if it may be subscribed at all.
CREATE FUNCTION event._subscribable_relation(relation meta.relation_id, owner_role oid)
RETURNS oid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  relid oid;
  cls record;
BEGIN
  IF relation IS NULL THEN
    RAISE EXCEPTION 'relation_id must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  relid := meta.relation_oid(relation);
  SELECT c.relkind, n.nspname, c.relname, c.relnamespace INTO cls
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relid;
  IF event._is_meta_view(relid) THEN
    RETURN relid;  -- captured by the DDL trigger (catalog-diff.sql)
  END IF;
  IF cls.nspname IN ('event', 'meta', 'pg_catalog', 'information_schema')
     OR cls.nspname LIKE 'pg\_toast%' OR cls.nspname LIKE 'pg\_temp%' THEN
    RAISE EXCEPTION 'cannot subscribe to %.%: the event system does not capture system or its own tables',
      quote_ident(cls.nspname), quote_ident(cls.relname)
      USING ERRCODE = 'feature_not_supported';
  END IF;
  IF cls.relkind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '%.% is not a table (it is a %); only tables and the views meta.schema, meta.relation and meta.column can be subscribed',
      quote_ident(cls.nspname), quote_ident(cls.relname),
      CASE cls.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table'
                       WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' ELSE format('relation of kind %s', cls.relkind) END
      USING ERRCODE = 'wrong_object_type';
  END IF;
  IF NOT has_schema_privilege(owner_role, cls.relnamespace, 'USAGE') THEN
    RAISE EXCEPTION 'permission denied: role % has no USAGE on schema %',
      quote_ident(pg_get_userbyid(owner_role)), quote_ident(cls.nspname)
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN relid;
END
$$;

-- 42501 unless owner_role may SELECT the table (column_name NULL) or the
-- column, and every column of its primary key (events carry the key).
CREATE FUNCTION event._require_select(owner_role oid, relid oid, column_name text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  hidden_key text;
BEGIN
  IF column_name IS NULL THEN
    IF NOT has_table_privilege(owner_role, relid, 'SELECT') THEN
      RAISE EXCEPTION 'permission denied: role % may not SELECT from %',
        quote_ident(pg_get_userbyid(owner_role)), relid::regclass
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  ELSIF NOT has_column_privilege(owner_role, relid, column_name, 'SELECT') THEN
    RAISE EXCEPTION 'permission denied: role % may not SELECT column % of %',
      quote_ident(pg_get_userbyid(owner_role)), quote_ident(column_name), relid::regclass
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT k INTO hidden_key FROM unnest(event._primary_key(relid)) AS k
  WHERE NOT has_column_privilege(owner_role, relid, k, 'SELECT') LIMIT 1;
  IF hidden_key IS NOT NULL THEN
    RAISE EXCEPTION 'permission denied: role % may not SELECT column % of %, part of its primary key',
      quote_ident(pg_get_userbyid(owner_role)), quote_ident(hidden_key), relid::regclass
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Every event names its row by the primary key.';
  END IF;
END
$$;

CREATE FUNCTION event._require_column(relid oid, column_name text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF column_name IS NULL OR NOT EXISTS (
       SELECT 1 FROM pg_attribute a
       WHERE a.attrelid = relid AND a.attname = column_name AND a.attnum > 0 AND NOT a.attisdropped) THEN
    RAISE EXCEPTION 'column % of relation % does not exist', quote_ident(column_name), relid::regclass
      USING ERRCODE = 'undefined_column';
  END IF;
END
$$;

-- The key values of row_id in canonical form, in the key's order.
CREATE FUNCTION event._canonical_key(relid oid, row_id meta.row_id) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  key_names text[] := event._primary_key(relid);
  given_names text[] := meta.pk_column_names(row_id);
  given_values text[] := meta.pk_values(row_id);
  result text[] := '{}';
  col record;
BEGIN
  IF key_names IS NULL THEN
    RAISE EXCEPTION 'relation % has no primary key; row and field subscriptions need one', relid::regclass
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Add a primary key, or subscribe to the whole table or a column.';
  END IF;
  IF cardinality(given_names) <> cardinality(key_names)
     OR NOT (given_names @> key_names AND key_names @> given_names) THEN
    RAISE EXCEPTION 'the key of % is (%), not (%)', relid::regclass,
      array_to_string(key_names, ', '), array_to_string(given_names, ', ')
      USING ERRCODE = 'invalid_column_reference';
  END IF;
  FOR col IN
    SELECT k.name, format_type(a.atttypid, a.atttypmod) AS type_sql,
           given_values[array_position(given_names, k.name)] AS value
    FROM unnest(key_names) WITH ORDINALITY AS k(name, ord)
    JOIN pg_attribute a ON a.attrelid = relid AND a.attname = k.name
    ORDER BY k.ord
  LOOP
    BEGIN
      result := result || event._canonical_text(col.value, col.type_sql);
    EXCEPTION WHEN data_exception THEN
      RAISE EXCEPTION 'invalid key value for column % of %: %', quote_ident(col.name), relid::regclass, SQLERRM
        USING ERRCODE = SQLSTATE;
    END;
  END LOOP;
  RETURN result;
END
$$;

-- Checked by the policy on event.subscription as the subscribing role: the
-- session's owner may read what it asks for, and the table is captured
-- already or the subscriber could lock it against writers anyway (installing
-- capture triggers takes a SHARE ROW EXCLUSIVE lock until it commits).
CREATE FUNCTION event._may_subscribe(session_id uuid, kind text, relid oid, column_name text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (
    SELECT 1
    FROM event.session s
    JOIN pg_class c ON c.oid = _may_subscribe.relid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE s.id = _may_subscribe.session_id
      AND (event._is_meta_view(c.oid)
           OR (c.relkind IN ('r', 'p')
               AND n.nspname NOT IN ('event', 'meta', 'pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg\_toast%'))
      AND has_schema_privilege(s.owner_role, c.relnamespace, 'USAGE')
      AND CASE WHEN _may_subscribe.kind IN ('table', 'row')
                 THEN has_table_privilege(s.owner_role, c.oid, 'SELECT')
               ELSE EXISTS (SELECT 1 FROM pg_attribute a
                            WHERE a.attrelid = c.oid AND a.attname = _may_subscribe.column_name
                              AND a.attnum > 0 AND NOT a.attisdropped
                              AND has_column_privilege(s.owner_role, c.oid, a.attnum, 'SELECT'))
          END
      AND NOT EXISTS (SELECT 1 FROM unnest(event._primary_key(c.oid)) k
                      WHERE NOT has_column_privilege(s.owner_role, c.oid, k, 'SELECT'))
      AND (event._is_captured(c.oid) OR event._may_lock(c.oid)))
$$;

-- Could the current role lock relid against writers by itself?
CREATE FUNCTION event._may_lock(relid oid) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT has_table_privilege(relid, 'UPDATE') OR has_table_privilege(relid, 'DELETE')
         OR has_table_privilege(relid, 'TRUNCATE') OR has_table_privilege(relid, 'TRIGGER')
$$;

-- 42501 with a way out when subscribing would have to install capture
-- triggers that the subscriber could not otherwise have locked the table for.
CREATE FUNCTION event._require_capturable(relid oid) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT event._is_captured(relid) AND NOT event._may_lock(relid) THEN
    RAISE EXCEPTION 'capture is not enabled on %, and role % may not enable it', relid::regclass,
      quote_ident(current_user)
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Enabling capture locks the table against writers until the transaction ends; that needs UPDATE, DELETE, TRUNCATE or TRIGGER on it.',
            HINT = format('Have its owner run SELECT event.enable_capture(%L).', relid::regclass::text);
  END IF;
END
$$;

-- filter and columns as given; checked here, as the subscriber. The same
-- subscription again is the one there already.
CREATE FUNCTION event._subscribe(session_id uuid, kind text, relid oid, target jsonb,
                                 pk_values text[], column_name text,
                                 filter text DEFAULT NULL, columns text[] DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  sub_id uuid;
  owner_role oid := (SELECT s.owner_role FROM event.session s WHERE s.id = _subscribe.session_id);
  expression text := event._filter_expression(relid, filter, owner_role);
  kept text[] := event._column_list(relid, columns, owner_role);
BEGIN
  PERFORM event._require_capturable(relid);
  INSERT INTO event.subscription AS s (session_id, kind, relation_oid, target, pk_values, column_name, filter, columns)
  VALUES (session_id, kind, relid, target, pk_values, column_name, expression, kept)
  ON CONFLICT DO NOTHING
  RETURNING s.id INTO sub_id;
  IF sub_id IS NULL THEN
    SELECT s.id INTO sub_id FROM event.subscription s
    WHERE s.session_id = _subscribe.session_id AND s.relation_oid = relid AND s.kind = _subscribe.kind
      AND s.pk_values IS NOT DISTINCT FROM _subscribe.pk_values
      AND s.column_name IS NOT DISTINCT FROM _subscribe.column_name
      AND s.filter IS NOT DISTINCT FROM expression AND s.columns IS NOT DISTINCT FROM kept;
  END IF;
  RETURN sub_id;
END
$$;

CREATE FUNCTION event.subscribe_table(session_id uuid, relation meta.relation_id, filter text DEFAULT NULL,
                                      columns text[] DEFAULT NULL, snapshot boolean DEFAULT false) RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ses event.session := event._require_session(session_id);
  relid oid := event._subscribable_relation(relation, ses.owner_role);
  sub_id uuid;
BEGIN
  PERFORM event._require_select(ses.owner_role, relid, NULL);
  sub_id := event._subscribe(ses.id, 'table', relid, relation::jsonb, NULL, NULL, filter, columns);
  IF coalesce(snapshot, false) THEN
    PERFORM event._snapshot(sub_id);
  END IF;
  RETURN sub_id;
END
$$;

CREATE FUNCTION event.subscribe_row(session_id uuid, row_id meta.row_id, filter text DEFAULT NULL,
                                    columns text[] DEFAULT NULL) RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ses event.session := event._require_session(session_id);
  relid oid;
BEGIN
  IF row_id IS NULL THEN
    RAISE EXCEPTION 'row_id must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  relid := event._subscribable_relation(meta.relation_of(row_id), ses.owner_role);
  PERFORM event._require_select(ses.owner_role, relid, NULL);
  RETURN event._subscribe(ses.id, 'row', relid, row_id::jsonb, event._canonical_key(relid, row_id), NULL,
                          filter, columns);
END
$$;

CREATE FUNCTION event.subscribe_field(session_id uuid, field_id meta.field_id, filter text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ses event.session := event._require_session(session_id);
  column_name text := field_id::jsonb -> 'column_id' ->> 'name';
  row_id meta.row_id;
  relid oid;
BEGIN
  IF field_id IS NULL THEN
    RAISE EXCEPTION 'field_id must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  row_id := (field_id::jsonb -> 'row_id')::meta.row_id;
  relid := event._subscribable_relation(meta.relation_of(row_id), ses.owner_role);
  PERFORM event._require_column(relid, column_name);
  PERFORM event._require_select(ses.owner_role, relid, column_name);
  RETURN event._subscribe(ses.id, 'field', relid, field_id::jsonb,
                          event._canonical_key(relid, row_id), column_name, filter, NULL);
END
$$;

CREATE FUNCTION event.subscribe_column(session_id uuid, column_id meta.column_id, filter text DEFAULT NULL,
                                       snapshot boolean DEFAULT false) RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ses event.session := event._require_session(session_id);
  column_name text := column_id::jsonb ->> 'name';
  relid oid;
  sub_id uuid;
BEGIN
  IF column_id IS NULL THEN
    RAISE EXCEPTION 'column_id must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  relid := event._subscribable_relation((column_id::jsonb -> 'relation_id')::meta.relation_id, ses.owner_role);
  PERFORM event._require_column(relid, column_name);
  PERFORM event._require_select(ses.owner_role, relid, column_name);
  sub_id := event._subscribe(ses.id, 'column', relid, column_id::jsonb, NULL, column_name, filter, NULL);
  IF coalesce(snapshot, false) THEN
    PERFORM event._snapshot(sub_id);
  END IF;
  RETURN sub_id;
END
$$;

-- The one-argument forms use the connection's current session.
CREATE FUNCTION event.subscribe_table(relation meta.relation_id) RETURNS uuid
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT event.subscribe_table(event.current_session(), relation) $$;

CREATE FUNCTION event.subscribe_row(row_id meta.row_id) RETURNS uuid
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT event.subscribe_row(event.current_session(), row_id) $$;

CREATE FUNCTION event.subscribe_field(field_id meta.field_id) RETURNS uuid
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT event.subscribe_field(event.current_session(), field_id) $$;

CREATE FUNCTION event.subscribe_column(column_id meta.column_id) RETURNS uuid
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT event.subscribe_column(event.current_session(), column_id) $$;

-- Names as PostgreSQL resolves them (search_path, quoting): 'person',
-- 'public.person', '"My Table"'. 42P01 when there is no such relation.
CREATE FUNCTION event._relation_id(relation regclass) RETURNS meta.relation_id
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT meta.relation_id(n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relation
$$;

CREATE FUNCTION event.subscribe_table(session_id uuid, relation regclass, filter text DEFAULT NULL,
                                      columns text[] DEFAULT NULL, snapshot boolean DEFAULT false) RETURNS uuid
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT event.subscribe_table(session_id, event._relation_id(relation), filter, columns, snapshot) $$;

CREATE FUNCTION event.subscribe_table(relation regclass) RETURNS uuid
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT event.subscribe_table(event.current_session(), event._relation_id(relation)) $$;

-- A table named as text: a relation_id in JSON ('{"schema_id": …}'), or a
-- name resolved as regclass resolves it (search_path, quoting). No fixed
-- search_path: the name resolves in the caller's, as in the caller's own SQL.
CREATE FUNCTION event._relation_of_text(relation text) RETURNS meta.relation_id
LANGUAGE sql STABLE
AS $$
  SELECT CASE WHEN pg_catalog.left(pg_catalog.ltrim(relation), 1) OPERATOR(pg_catalog.=) '{'
              THEN relation::pg_catalog.jsonb::meta.relation_id
              ELSE event._relation_id(relation::pg_catalog.regclass) END
$$;

-- No fixed search_path here: the name resolves in the caller's, as it would
-- in the caller's own SQL.
CREATE FUNCTION event.subscribe_table(session_id uuid, relation text, filter text DEFAULT NULL,
                                      columns text[] DEFAULT NULL, snapshot boolean DEFAULT false) RETURNS uuid
LANGUAGE sql VOLATILE
AS $$ SELECT event.subscribe_table(session_id, event._relation_of_text(relation), filter, columns, snapshot) $$;

CREATE FUNCTION event.subscribe_table(relation text) RETURNS uuid
LANGUAGE sql VOLATILE
AS $$ SELECT event.subscribe_table(event.current_session(), event._relation_of_text(relation)) $$;

CREATE FUNCTION event.subscribe_column(session_id uuid, relation regclass, column_name text,
                                       filter text DEFAULT NULL, snapshot boolean DEFAULT false) RETURNS uuid
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT event.subscribe_column(session_id,
    jsonb_build_object('relation_id', event._relation_id(relation)::jsonb, 'name', column_name)::meta.column_id,
    filter, snapshot)
$$;

-- Removes the subscription; its events already collected stay. Capture
-- triggers left without subscriptions are removed by maintenance.
CREATE FUNCTION event.unsubscribe(subscription_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM event.subscription s WHERE s.id = subscription_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'subscription "%" does not exist', subscription_id
      USING ERRCODE = 'undefined_object';
  END IF;
END
$$;

-- 54000 past max_subscriptions_per_session; concurrent subscribers of one
-- session count each other (advisory lock). Then capture is made sure of.
CREATE FUNCTION event._subscriptions_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cap bigint := event._setting('max_subscriptions_per_session');
  over record;
BEGIN
  IF cap IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(n.session_id::text, 7021933452185600001))
    FROM (SELECT DISTINCT a.session_id FROM aqevent_new_subscriptions a ORDER BY 1) n;
    SELECT n.session_id, count(*) AS total INTO over
    FROM (SELECT DISTINCT a.session_id FROM aqevent_new_subscriptions a) n
    JOIN event.subscription s ON s.session_id = n.session_id
    GROUP BY n.session_id
    HAVING count(*) > cap
    LIMIT 1;
    IF over.session_id IS NOT NULL THEN
      RAISE EXCEPTION 'session "%" may have at most % subscriptions', over.session_id, cap
        USING ERRCODE = 'program_limit_exceeded',
              HINT = 'Unsubscribe what it no longer needs, or ask an aqevent_admin to raise max_subscriptions_per_session.';
    END IF;
  END IF;
  PERFORM event._install_capture(r.relation_oid)
  FROM (SELECT DISTINCT a.relation_oid FROM aqevent_new_subscriptions a ORDER BY 1) r;
  PERFORM event._checker(a.id) FROM aqevent_new_subscriptions a ORDER BY a.id;
  RETURN NULL;
END
$$;

CREATE TRIGGER subscription_added AFTER INSERT ON event.subscription
  REFERENCING NEW TABLE AS aqevent_new_subscriptions
  FOR EACH STATEMENT EXECUTE FUNCTION event._subscriptions_added();
