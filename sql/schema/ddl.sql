-- DDL: keeping capture in step with schema changes, and schema changes as
-- events of the meta views (catalog-diff.sql).
--
-- After ALTER TABLE (or ALTER SCHEMA, a rename) on a captured table, its
-- capture triggers are made again with the table's new shape, so rows
-- captured before the change are still read with the shape they had. When a
-- subscribed table is dropped, its subscriptions end. Event triggers need a
-- superuser: event._capture_health() and `aqevent stats` say when they are
-- missing. They never make a user's DDL fail: a failure is a WARNING.

CREATE FUNCTION event._on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT DISTINCT t.tgrelid AS relid
    FROM pg_event_trigger_ddl_commands() d
    JOIN pg_class c ON (d.classid = 'pg_class'::regclass AND c.oid = d.objid)
                    OR (d.classid = 'pg_namespace'::regclass AND c.relnamespace = d.objid)
    JOIN pg_trigger t ON t.tgrelid = c.oid AND t.tgname = 'aqevent_capture_insert'
    ORDER BY 1
  LOOP
    BEGIN
      PERFORM event._install_capture(r.relid);
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'aqevent: could not renew capture of %: % (%)', r.relid::regclass, SQLERRM, SQLSTATE;
      INSERT INTO event.ddl_failure (command_tag, sqlstate, message)
      VALUES (TG_TAG, SQLSTATE, format('could not renew capture of %s: %s', r.relid::regclass, SQLERRM));
    END;
  END LOOP;
  PERFORM event._catalog_ddl(TG_TAG);
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'aqevent: % failed: % (%)', TG_TAG, SQLERRM, SQLSTATE;
END
$$;

-- The commands that can change a table's shape, the meta views' rows, or who
-- may see them (GRANT, REVOKE: no events, but the snapshot's grantees).
CREATE FUNCTION event._ddl_tags() RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT ARRAY['ALTER TABLE', 'ALTER SCHEMA', 'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'DROP TABLE',
               'CREATE VIEW', 'ALTER VIEW', 'DROP VIEW', 'CREATE SCHEMA', 'DROP SCHEMA',
               'CREATE MATERIALIZED VIEW', 'ALTER MATERIALIZED VIEW', 'DROP MATERIALIZED VIEW',
               'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'DROP FOREIGN TABLE', 'IMPORT FOREIGN SCHEMA',
               'ALTER TYPE', 'DROP TYPE', 'ALTER DOMAIN', 'DROP DOMAIN', 'DROP OWNED',
               'CREATE EXTENSION', 'ALTER EXTENSION', 'DROP EXTENSION', 'GRANT', 'REVOKE']
$$;

CREATE FUNCTION event._on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM event.subscription s
   USING pg_event_trigger_dropped_objects() d
   WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND s.relation_oid = d.objid;
  DELETE FROM event.subscription s
   USING pg_event_trigger_dropped_objects() d
   WHERE d.classid = 'pg_class'::regclass AND d.objsubid > 0 AND s.relation_oid = d.objid
     AND s.column_name IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = s.relation_oid
                     AND a.attname = s.column_name AND NOT a.attisdropped);
  DELETE FROM event.captured_table k
   USING pg_event_trigger_dropped_objects() d
   WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND k.relid = d.objid;
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'aqevent: could not end the subscriptions of a dropped object: % (%)', SQLERRM, SQLSTATE;
END
$$;

-- Creates the event triggers that are missing, when run by a superuser (at
-- install, and by every `aqevent migrate`, so that a later run as a superuser
-- completes a non-superuser install). Returns how many it created.
CREATE FUNCTION event._install_event_triggers() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  made integer := 0;
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    IF EXISTS (SELECT 1 FROM event._capture_health()) THEN
      RAISE WARNING 'aqevent: installed without a superuser, so without event triggers: dropping a subscribed table will not end its subscriptions, and ALTER TABLE on a captured table will not renew its capture until maintenance runs'
        USING HINT = 'Run `aqevent migrate` once as a superuser to add them.';
    END IF;
    RETURN 0;
  END IF;
  -- made again when an older install listed other commands
  IF EXISTS (SELECT 1 FROM pg_event_trigger
             WHERE evtname = 'aqevent_ddl_end'
               AND NOT (evttags::text[] @> event._ddl_tags() AND event._ddl_tags() @> evttags::text[])) THEN
    DROP EVENT TRIGGER aqevent_ddl_end;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'aqevent_ddl_end') THEN
    EXECUTE format('CREATE EVENT TRIGGER aqevent_ddl_end ON ddl_command_end WHEN TAG IN (%s) '
                   'EXECUTE FUNCTION event._on_ddl_end()',
                   (SELECT string_agg(quote_literal(t), ', ' ORDER BY o) FROM unnest(event._ddl_tags()) WITH ORDINALITY u(t, o)));
    made := made + 1;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'aqevent_sql_drop') THEN
    CREATE EVENT TRIGGER aqevent_sql_drop ON sql_drop
      EXECUTE FUNCTION event._on_sql_drop();
    made := made + 1;
  END IF;
  RETURN made;
END
$$;

-- What of the install is missing: the event triggers (installed only by a
-- superuser). One row per missing piece, none when complete.
CREATE FUNCTION event._capture_health() RETURNS TABLE (missing text, consequence text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT 'event trigger ' || w.name, w.consequence
  FROM (VALUES ('aqevent_ddl_end', 'ALTER TABLE on a captured table does not renew its capture until maintenance runs'),
               ('aqevent_sql_drop', 'dropping a subscribed table does not end its subscriptions until maintenance runs')) w(name, consequence)
  WHERE NOT EXISTS (SELECT 1 FROM pg_event_trigger e WHERE e.evtname = w.name)
$$;

SELECT event._install_event_triggers();
