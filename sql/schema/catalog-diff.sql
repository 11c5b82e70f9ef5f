-- Catalog diff: a schema change becomes row events of the meta views.
--
-- At the end of each DDL command (ddl.sql), when some subscription targets
-- a meta view, the current unfiltered catalog (event._catalog_*, catalog.sql)
-- is compared with the snapshot of it kept in event.catalog_snapshot, and
-- what differs is appended to event.change as rows of the meta views, as a
-- writer's statement trigger would append rows of a table: 'i' for a new id,
-- 'd' for a gone one, 'u' for a row whose other columns changed. In the DDL's
-- own transaction: a rolled-back migration leaves no events. With no meta
-- subscription, a DDL costs one index probe and the snapshot is left as it is;
-- it is brought up to date (without events) when a meta view is subscribed.
--
-- Who may see an event is decided by its reader, with the roles that could
-- see the object at the time of the DDL (event.catalog_change.grantees): a
-- dropped or renamed object can no longer be asked about.

-- object: the pg_class oid a relation's or column's row is of (NULL for a
-- schema), so that a command's diff can be limited to the tables it changed.
CREATE TABLE event.catalog_snapshot (
  relid    oid    NOT NULL,
  id       text   NOT NULL,
  literal  text   NOT NULL,
  grantees oid[]  NOT NULL,
  object   oid,
  PRIMARY KEY (relid, id)
);

CREATE INDEX catalog_snapshot_object_idx ON event.catalog_snapshot (object);

CREATE TABLE event.catalog_change (
  change_id bigint PRIMARY KEY,
  xid       xid8   NOT NULL DEFAULT pg_current_xact_id(),
  grantees  oid[]  NOT NULL
);

CREATE INDEX catalog_change_xid_idx ON event.catalog_change (xid);

-- DDL whose events could not be made: the DDL committed without them. The
-- role is the DDL's (SET ROLE's, else the login's). Maintenance keeps a week
-- of them, and at most the newest 10,000 (event.trim_ddl_failures).
CREATE TABLE event.ddl_failure (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  command_tag text,
  sqlstate    text        NOT NULL,
  message     text        NOT NULL,
  failed_at   timestamptz NOT NULL DEFAULT now(),
  role_name   text        NOT NULL DEFAULT (CASE current_setting('role') WHEN 'none' THEN session_user::text
                                             ELSE current_setting('role') END)
);

-- The catalog now, as rows of the meta views: (view, id, literal, grantees,
-- object); with a scope, only the rows of those relations (and no schemas).
-- The literals are those of the views' row types (a domain over jsonb
-- prints as its jsonb), made without the domains' checks.
CREATE FUNCTION event._catalog_rows(scope oid[]) RETURNS TABLE (relid oid, id text, literal text, grantees oid[], object oid)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- Two statements, so that a scope is an index condition in a cached plan
  -- (with "scope IS NULL OR …" every row would be computed, then filtered).
  IF scope IS NULL THEN
    RETURN QUERY
    SELECT 'meta.schema'::regclass::oid, s.id::text, format('%s', ROW(s.id, s.name)), s.grantees, NULL::oid
    FROM event._catalog_schema s
    UNION ALL
    SELECT * FROM event._catalog_relation_rows()
    UNION ALL
    SELECT * FROM event._catalog_column_rows();
  ELSE
    RETURN QUERY
    SELECT * FROM event._catalog_relation_rows() r WHERE r.object = ANY (scope)
    UNION ALL
    SELECT * FROM event._catalog_column_rows() c WHERE c.object = ANY (scope);
  END IF;
END
$$;

-- The rows of meta.relation and meta.column, inlined into the statements of
-- _catalog_rows (which fix the search path: every name here is qualified).
CREATE FUNCTION event._catalog_relation_rows()
RETURNS TABLE (relid oid, id text, literal text, grantees oid[], object oid)
LANGUAGE sql STABLE
AS $$
  SELECT 'meta.relation'::pg_catalog.regclass::pg_catalog.oid, r.id::pg_catalog.text,
         pg_catalog.format('%s', ROW(r.id, r.schema_id, r.schema_name, r.name, r.kind)), r.grantees, r.relid
  FROM event._catalog_relation r
$$;

CREATE FUNCTION event._catalog_column_rows()
RETURNS TABLE (relid oid, id text, literal text, grantees oid[], object oid)
LANGUAGE sql STABLE
AS $$
  SELECT 'meta."column"'::pg_catalog.regclass::pg_catalog.oid, c.id::pg_catalog.text,
         pg_catalog.format('%s', ROW(c.id, c.relation_id, c.schema_name, c.relation_name, c.name, c.type, c.nullable,
                                     c."default", c.position)), c.grantees, c.relid
  FROM event._catalog_column c
$$;

-- Brings the snapshot up to date; with emit, appends the difference to the
-- change log too, in this order: deletes of columns, relations, schemas;
-- updates; inserts of schemas, relations, columns. Returns how many rows
-- differed. With a scope (relation oids), only their rows are compared.
-- (No temporary table: its CREATE would be DDL, seen by ddl.sql.)
CREATE FUNCTION event._catalog_sync(emit boolean, scope oid[] DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
  views oid[] := event._meta_views();
  shapes integer[];
  differed bigint;
BEGIN
  IF emit THEN
    -- a view's shape changes only with a new install, which makes new views
    shapes := ARRAY(SELECT coalesce((SELECT max(s.id) FROM event.shape s WHERE s.relid = v), event._current_shape(v))
                    FROM unnest(views) WITH ORDINALITY u(v, o) ORDER BY o);
  END IF;
  WITH d AS MATERIALIZED (
    SELECT CASE WHEN emit THEN nextval('event.change_id_seq') END AS change_id, x.*
    FROM (SELECT coalesce(n.relid, o.relid) AS relid, coalesce(n.id, o.id) AS id,
                 CASE WHEN o.id IS NULL THEN 'i' WHEN n.id IS NULL THEN 'd' ELSE 'u' END::"char" AS op,
                 n.literal AS new_row, o.literal AS old_row, coalesce(n.grantees, o.grantees) AS grantees,
                 coalesce(n.object, o.object) AS object
          FROM event._catalog_rows(scope) n
          FULL JOIN (SELECT * FROM event.catalog_snapshot k WHERE scope IS NULL OR k.object = ANY (scope)) o
            ON o.relid = n.relid AND o.id = n.id
          WHERE n.literal IS DISTINCT FROM o.literal OR n.grantees IS DISTINCT FROM o.grantees
          ORDER BY CASE WHEN o.id IS NULL THEN 2 WHEN n.id IS NULL THEN 0 ELSE 1 END,
                   CASE WHEN o.id IS NULL THEN 1 ELSE -1 END * array_position(views, coalesce(n.relid, o.relid)),
                   coalesce(n.id, o.id)) x
  ), logged AS (
    -- a change of grantees alone (GRANT, REVOKE) is no row event
    INSERT INTO event.change (id, relid, shape, op, new_row, old_row)
    SELECT d.change_id, d.relid, shapes[array_position(views, d.relid)], d.op, d.new_row, d.old_row
    FROM d WHERE emit AND d.new_row IS DISTINCT FROM d.old_row
    ORDER BY d.change_id
  ), seen AS (
    INSERT INTO event.catalog_change (change_id, grantees)
    SELECT d.change_id, d.grantees FROM d WHERE emit AND d.new_row IS DISTINCT FROM d.old_row
  ), gone AS (
    DELETE FROM event.catalog_snapshot s USING d
     WHERE d.op = 'd' AND s.relid = d.relid AND s.id = d.id
  ), changed AS (
    UPDATE event.catalog_snapshot s SET literal = d.new_row, grantees = d.grantees, object = d.object
      FROM d WHERE d.op = 'u' AND s.relid = d.relid AND s.id = d.id
  ), added AS (
    INSERT INTO event.catalog_snapshot (relid, id, literal, grantees, object)
    SELECT d.relid, d.id, d.new_row, d.grantees, d.object FROM d WHERE d.op = 'i'
  )
  SELECT count(*) INTO differed FROM d;
  IF emit AND differed > 0 AND EXISTS (SELECT 1 FROM event.listener) THEN
    PERFORM pg_notify('aqevent', v::text) FROM unnest(views) v;
  END IF;
  RETURN differed;
END
$$;

-- Called by the DDL trigger at the end of each command, when a meta view is
-- subscribed: the diff of what it changed (_ddl_scope).
-- Never fails: what goes wrong is a WARNING and a row of event.ddl_failure.
CREATE FUNCTION event._catalog_ddl(command_tag text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  BEGIN
    PERFORM event._catalog_sync(true, event._ddl_scope(command_tag));
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'aqevent: could not make the events of %: % (%)', command_tag, SQLERRM, SQLSTATE;
    INSERT INTO event.ddl_failure (command_tag, sqlstate, message) VALUES (command_tag, SQLSTATE, SQLERRM);
  END;
END
$$;

-- May owner_role see the meta view event change_id, by its privileges at the
-- time of the DDL? Builtin privilege functions only. (The reader asks only
-- for the changes of the meta views: collect.sql.)
CREATE FUNCTION event._meta_change_visible(owner_role oid, change_id bigint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT EXISTS (SELECT 1 FROM event.catalog_change m
                 WHERE m.change_id OPERATOR(pg_catalog.=) _meta_change_visible.change_id
                   AND event._catalog_may_see(owner_role, m.grantees))
$$;

-- The relations a command changed, when it can have changed no others: a
-- CREATE or ALTER of tables or views that dropped nothing (a drop can
-- cascade anywhere), with their inheritance children and the tables with
-- columns of their row types. NULL otherwise: the whole catalog is compared.
CREATE FUNCTION event._ddl_scope(command_tag text) RETURNS oid[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
  touched oid[];
BEGIN
  IF command_tag <> ALL (ARRAY['ALTER TABLE', 'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'CREATE VIEW',
                                'ALTER VIEW', 'CREATE MATERIALIZED VIEW', 'ALTER MATERIALIZED VIEW',
                                'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE'])
     OR current_setting('aqevent.ddl_dropped', true) = 'on'
     OR EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() d WHERE d.classid <> 'pg_class'::regclass) THEN
    RETURN NULL;
  END IF;
  WITH RECURSIVE tree(relid) AS (
    SELECT d.objid FROM pg_event_trigger_ddl_commands() d
    UNION
    SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid
  ), row_types AS MATERIALIZED (
    -- the tables' row types and their array types: one pass over pg_attribute
    -- (it has no index by type) instead of one per type
    SELECT ARRAY(SELECT ty.oid FROM tree t JOIN pg_class c ON c.oid = t.relid JOIN pg_type ty ON ty.oid = c.reltype
                 UNION SELECT ty.typarray FROM tree t JOIN pg_class c ON c.oid = t.relid
                 JOIN pg_type ty ON ty.oid = c.reltype) AS types
  )
  SELECT array_agg(DISTINCT x) INTO touched
  FROM (SELECT t.relid AS x FROM tree t
        UNION ALL
        SELECT a.attrelid FROM row_types r JOIN pg_attribute a ON a.atttypid = ANY (r.types) AND a.attnum > 0) u;
  RETURN coalesce(touched, '{}');
END
$$;

-- The last DDL failures (newest first), for `aqevent stats`.
CREATE FUNCTION event.ddl_failures(max_rows integer DEFAULT 10)
RETURNS TABLE (command_tag text, sqlstate text, message text, failed_at timestamptz, role_name text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT f.command_tag, f.sqlstate, f.message, f.failed_at, f.role_name
  FROM event.ddl_failure f ORDER BY f.id DESC LIMIT max_rows
$$;

-- Keeps the DDL failures of the last 7 days, at most the newest 10,000 (any
-- role's DDL on its own tables can add some). Returns how many went.
CREATE FUNCTION event.trim_ddl_failures(now timestamptz DEFAULT now()) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  gone bigint;
BEGIN
  DELETE FROM event.ddl_failure f
   WHERE f.failed_at < trim_ddl_failures.now - interval '7 days'
      OR f.id <= (SELECT x.id FROM event.ddl_failure x ORDER BY x.id DESC OFFSET 10000 LIMIT 1);
  GET DIAGNOSTICS gone = ROW_COUNT;
  RETURN gone;
END
$$;
