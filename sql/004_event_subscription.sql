-- 004_event_subscription: the four subscription grains, and the capture
-- triggers that follow them onto tables.

-- The primary key columns of a table, in key order; NULL without a key.
CREATE FUNCTION event._primary_key(relid oid) RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT array_agg(a.attname::text ORDER BY k.ord)
  FROM pg_index i
  CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
  WHERE i.indrelid = relid AND i.indisprimary
$$;

-- Does row-level security filter this relation for this role? The table's
-- owner (without FORCE), superusers and BYPASSRLS roles are not filtered.
-- No SET clause, every reference schema-qualified: a SQL function with a
-- SET clause is never inlined and is planned again in every transaction,
-- which capture paid per subscription per statement.
CREATE FUNCTION event._rls_applies(owner_role oid, relid oid) RETURNS boolean
LANGUAGE sql STABLE
AS $$
  SELECT c.relrowsecurity
         AND NOT r.rolsuper AND NOT r.rolbypassrls
         AND (c.relforcerowsecurity OR NOT pg_catalog.pg_has_role(owner_role, c.relowner, 'USAGE'))
  FROM pg_catalog.pg_class c, pg_catalog.pg_roles r
  WHERE c.oid = relid AND r.oid = owner_role
$$;

-- What a session owner may see of a relation, as capture needs it: whether
-- it sees rows at all, and which columns are hidden from it. Evaluated at
-- every statement, so a revoked privilege stops events at once. A role that
-- no longer exists sees nothing (and never makes a writer's statement fail).
--
-- Always exactly one row. A set-returning SQL function of one SELECT, with
-- no SET clause and every reference schema-qualified, so that the planner
-- inlines it into the capture statements, whose plans are cached: as a
-- PL/pgSQL function (calling a SQL function with a SET clause) it cost a
-- function call and a re-plan per subscription per statement.
CREATE FUNCTION event._owner_view(owner_role oid, relid oid)
RETURNS TABLE (visible boolean, hidden text[])
LANGUAGE sql STABLE
AS $$
  SELECT p.visible
         AND NOT coalesce((SELECT c.relrowsecurity
                                  AND NOT r.rolsuper AND NOT r.rolbypassrls
                                  AND (c.relforcerowsecurity
                                       OR NOT pg_catalog.pg_has_role(owner_role, c.relowner, 'USAGE'))
                           FROM pg_catalog.pg_class c, pg_catalog.pg_roles r
                           WHERE c.oid = relid AND r.oid = owner_role), false),
         CASE WHEN p.visible AND NOT p.whole_table
              THEN ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                         WHERE a.attrelid = relid AND a.attnum > 0 AND NOT a.attisdropped
                           AND NOT pg_catalog.has_column_privilege(owner_role, relid, a.attnum, 'SELECT'))
              ELSE '{}'::text[] END
  FROM (SELECT t.whole_table, coalesce(t.whole_table OR t.some_column, false) AS visible
        FROM (SELECT CASE WHEN x.role_exists
                          THEN pg_catalog.has_table_privilege(owner_role, relid, 'SELECT') END AS whole_table,
                     CASE WHEN x.role_exists
                          THEN pg_catalog.has_any_column_privilege(owner_role, relid, 'SELECT') END AS some_column
              FROM (SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid = owner_role) AS role_exists) x
              OFFSET 0) t) p
$$;

-- Resolve and check a subscription target. Raises, naming the object, for
-- a missing schema/table/column, a non-table, the event system's own
-- tables, missing privileges and row-level security.
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
  SELECT c.relkind, n.nspname, c.relname INTO cls
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relid;
  IF cls.nspname IN ('event', 'meta', 'pg_catalog', 'information_schema')
     OR cls.nspname LIKE 'pg\_toast%' THEN
    RAISE EXCEPTION 'cannot subscribe to %.%: the event system does not capture system or its own tables',
      quote_ident(cls.nspname), quote_ident(cls.relname)
      USING ERRCODE = 'feature_not_supported';
  END IF;
  IF cls.relkind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '%.% is not a table (relkind %); only tables can be subscribed',
      quote_ident(cls.nspname), quote_ident(cls.relname), cls.relkind
      USING ERRCODE = 'wrong_object_type';
  END IF;
  IF event._rls_applies(owner_role, relid) THEN
    RAISE EXCEPTION 'cannot subscribe to %.%: row-level security is enabled on it',
      quote_ident(cls.nspname), quote_ident(cls.relname)
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Events carry whole rows; the event system does not evaluate row-level security policies for sessions.',
            HINT = 'Subscribe as the table owner or a role with BYPASSRLS, or disable row-level security.';
  END IF;
  RETURN relid;
END
$$;

CREATE FUNCTION event._require_select(owner_role oid, relid oid, column_name text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
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

-- The canonical key of a row_id: values cast to the key columns' types and
-- back to JSON text, in key order, so '03' and '3' name the same integer row.
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
  canonical text;
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
      EXECUTE format('SELECT to_jsonb($1::%s) #>> ''{}''', col.type_sql) INTO canonical USING col.value;
    EXCEPTION WHEN data_exception THEN
      RAISE EXCEPTION 'invalid key value for column % of %: %', quote_ident(col.name), relid::regclass, SQLERRM
        USING ERRCODE = SQLSTATE;
    END;
    result := result || canonical;
  END LOOP;
  RETURN result;
END
$$;

-- Insert a subscription, or find the one this session already has.
CREATE FUNCTION event._subscribe(session_id uuid, kind text, relid oid, target jsonb,
                                 pk_values text[], column_name text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  sub_id uuid;
BEGIN
  INSERT INTO event.subscription AS s (session_id, kind, relation_oid, target, pk_values, column_name)
  VALUES (session_id, kind, relid, target, pk_values, column_name)
  ON CONFLICT DO NOTHING
  RETURNING s.id INTO sub_id;
  IF sub_id IS NULL THEN
    SELECT s.id INTO sub_id FROM event.subscription s
    WHERE s.session_id = _subscribe.session_id AND s.relation_oid = relid AND s.kind = _subscribe.kind
      AND s.pk_values IS NOT DISTINCT FROM _subscribe.pk_values
      AND s.column_name IS NOT DISTINCT FROM _subscribe.column_name;
  END IF;
  RETURN sub_id;
END
$$;

CREATE FUNCTION event.subscribe_table(session_id uuid, relation meta.relation_id) RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ses event.session := event._require_session(session_id);
  relid oid := event._subscribable_relation(relation, ses.owner_role);
BEGIN
  PERFORM event._require_select(ses.owner_role, relid, NULL);
  RETURN event._subscribe(ses.id, 'table', relid, relation::jsonb, NULL, NULL);
END
$$;

CREATE FUNCTION event.subscribe_row(session_id uuid, row_id meta.row_id) RETURNS uuid
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
  RETURN event._subscribe(ses.id, 'row', relid, row_id::jsonb, event._canonical_key(relid, row_id), NULL);
END
$$;

CREATE FUNCTION event.subscribe_field(session_id uuid, field_id meta.field_id) RETURNS uuid
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
                          event._canonical_key(relid, row_id), column_name);
END
$$;

CREATE FUNCTION event.subscribe_column(session_id uuid, column_id meta.column_id) RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ses event.session := event._require_session(session_id);
  column_name text := column_id::jsonb ->> 'name';
  relid oid;
BEGIN
  IF column_id IS NULL THEN
    RAISE EXCEPTION 'column_id must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  relid := event._subscribable_relation((column_id::jsonb -> 'relation_id')::meta.relation_id, ses.owner_role);
  PERFORM event._require_column(relid, column_name);
  PERFORM event._require_select(ses.owner_role, relid, column_name);
  RETURN event._subscribe(ses.id, 'column', relid, column_id::jsonb, NULL, column_name);
END
$$;

-- One-argument forms: the connection's current session.
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

-- Removes a subscription. Its events already in the inbox stay there.
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
