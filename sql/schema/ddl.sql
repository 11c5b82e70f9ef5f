-- DDL: keeping capture in step with schema changes, and schema changes as
-- events of the meta views (catalog-diff.sql).
--
-- After ALTER TABLE (or ALTER SCHEMA, a rename) on a captured table, its
-- capture triggers are made again with the table's new shape, so rows
-- captured before the change are still read with the shape they had. When a
-- subscribed table is dropped, its subscriptions end. Event triggers need a
-- superuser: event._capture_health() and `aqevent stats` say when they are
-- missing. They never make a user's DDL fail: a failure is a WARNING. JIT is
-- off in them: with the catalogs' statistics stale (autovacuum off, many
-- tables), their small catalog queries were estimated dear enough to be
-- compiled, 0.2-0.4 s per DDL command. Sequential scans are off in them too:
-- with event.subscription never analyzed, the probe for a meta subscription
-- was planned as a scan of every subscription (0.5 ms per DDL with 1,000).

CREATE FUNCTION event._on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET enable_seqscan = off
AS $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT t.tgrelid AS relid, event._trigger_shape(t.tgrelid) AS old_shape,
           array_agg(d.objsubid::smallint) FILTER (WHERE d.classid = 'pg_class'::regclass AND d.objsubid > 0) AS renamed
    FROM pg_event_trigger_ddl_commands() d
    -- the tables a command changed: by oid (an index probe), or every table of a schema it changed
    -- (one arm per kind, so that the common one never scans pg_class)
    CROSS JOIN LATERAL (SELECT x.oid FROM pg_class x WHERE d.classid = 'pg_class'::regclass AND x.oid = d.objid
                        UNION ALL
                        SELECT x.oid FROM pg_class x
                        WHERE d.classid = 'pg_namespace'::regclass AND x.relnamespace = d.objid) c
    -- a partition or inheritance child made, attached or detached: its parents' capture
    CROSS JOIN LATERAL (SELECT c.oid AS relid
                        UNION SELECT a.relid FROM event._ancestors(c.oid) AS a(relid)
                        WHERE EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)
                        UNION SELECT split_part(encode(x.tgargs, 'escape'), '\000', 2)::oid
                        FROM pg_trigger x WHERE x.tgrelid = c.oid AND x.tgname = 'aqevent_parent_insert') k
    JOIN pg_trigger t ON t.tgrelid = k.relid AND t.tgname = 'aqevent_capture_insert'
    GROUP BY t.tgrelid
    ORDER BY 1
  LOOP
    BEGIN
      PERFORM event._install_capture(r.relid);
      PERFORM event._follow_shape(r.relid, r.old_shape, event._trigger_shape(r.relid), r.renamed);
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'aqevent: could not renew capture of %: % (%)', r.relid::regclass, SQLERRM, SQLSTATE;
      INSERT INTO event.ddl_failure (command_tag, sqlstate, message)
      VALUES (TG_TAG, SQLSTATE, format('could not renew capture of %s: %s', r.relid::regclass, SQLERRM));
    END;
  END LOOP;
  -- the cost of DDL when nobody subscribes to a meta view: this probe
  IF EXISTS (SELECT 1 FROM event.subscription s WHERE s.relation_oid = ANY (event._meta_views())) THEN
    PERFORM event._catalog_ddl(TG_TAG);
  END IF;
  PERFORM set_config('aqevent.ddl_dropped', '', true);
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'aqevent: % failed: % (%)', TG_TAG, SQLERRM, SQLSTATE;
END
$$;

-- Before subscriptions on relid change (kinds, or those on the given
-- columns): their sessions collect what committed before, matched as it was
-- captured. Only sessions the DDL's role may read (a superuser, the owner,
-- an aqevent_admin): the others' events of the old names are not matched.
CREATE FUNCTION event._collect_before_change(relid oid, kinds text[], columns text[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ses uuid;
BEGIN
  FOR ses IN
    SELECT DISTINCT s.session_id FROM event.subscription s
    WHERE s.relation_oid = relid AND (s.kind = ANY (kinds) OR s.column_name = ANY (_collect_before_change.columns))
    ORDER BY 1
  LOOP
    BEGIN
      PERFORM event._collect(ses);
    EXCEPTION WHEN undefined_object THEN
      NULL;  -- not the DDL role's session
    END;
  END LOOP;
END
$$;

-- Subscriptions after a table changed shape. A renamed column (a command
-- naming the column, at the same place in the shape under another name): its
-- field and column subscriptions follow it. A primary key dropped, or made
-- of other columns: the table's row and field subscriptions end, since they
-- name rows by the old key. (A dropped column's end in _on_sql_drop.)
CREATE FUNCTION event._follow_shape(relid oid, old_shape integer, new_shape integer, renamed smallint[])
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  was event.shape;
  now_is event.shape;
  names text[][];
BEGIN
  IF old_shape IS NULL OR new_shape IS NULL OR old_shape = new_shape THEN
    RETURN;
  END IF;
  SELECT * INTO was FROM event.shape s WHERE s.id = old_shape;
  SELECT * INTO now_is FROM event.shape s WHERE s.id = new_shape;
  -- (old name, new name) of each renamed column, by its place among the live columns
  IF cardinality(was.columns) = cardinality(now_is.columns) THEN
    SELECT array_agg(ARRAY[was.columns[p.pos], now_is.columns[p.pos]]) INTO names
    FROM (SELECT (SELECT count(*) FROM pg_attribute a
                  WHERE a.attrelid = relid AND a.attnum > 0 AND NOT a.attisdropped AND a.attnum <= n)::integer AS pos
          FROM unnest(renamed) n) p
    WHERE was.columns[p.pos] IS DISTINCT FROM now_is.columns[p.pos];
  END IF;
  IF names IS NOT NULL THEN
    PERFORM event._collect_before_change(relid, '{}', ARRAY(SELECT names[i][1] FROM generate_subscripts(names, 1) i));
    UPDATE event.subscription s
       SET column_name = m.new_name,
           target = CASE s.kind WHEN 'column' THEN jsonb_set(s.target, '{name}', to_jsonb(m.new_name))
                                ELSE jsonb_set(s.target, '{column_id,name}', to_jsonb(m.new_name)) END
      FROM (SELECT names[i][1] AS old_name, names[i][2] AS new_name FROM generate_subscripts(names, 1) i) m
     WHERE s.relation_oid = relid AND s.column_name = m.old_name;
  END IF;
  IF ARRAY(SELECT coalesce((SELECT names[i][2] FROM generate_subscripts(names, 1) i WHERE names[i][1] = k), k)
           FROM unnest(was.key_columns) WITH ORDINALITY u(k, o) ORDER BY o)
     IS DISTINCT FROM coalesce(now_is.key_columns, '{}') THEN
    PERFORM event._collect_before_change(relid, '{row,field}', '{}');
    DELETE FROM event.subscription s WHERE s.relation_oid = relid AND s.kind IN ('row', 'field');
  END IF;
END
$$;

-- Before a command that can drop a table (DROP TABLE, SCHEMA, OWNED, TYPE of
-- a typed table, EXTENSION): the DDL's role's own sessions collect what
-- committed before it on user tables, while the tables' privileges can
-- still be checked; once a table is dropped, changes of it not yet collected
-- cannot be matched (_on_sql_drop reports them). Only the role's own: other
-- roles' sessions would run their owners' filter checkers inside this DDL,
-- and keep their rows locked until it commits. The command's objects are
-- not known yet, so every such session with changes past its cursor
-- collects. A session row another transaction holds is waited for at most
-- 1 s (less under a shorter lock_timeout or a quarter of statement_timeout),
-- then the sessions are passed over with a WARNING.
CREATE FUNCTION event._on_ddl_start() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET enable_seqscan = off
AS $$
DECLARE
  me oid := (SELECT r.oid FROM pg_roles r
             WHERE r.rolname = CASE current_setting('role') WHEN 'none' THEN session_user::text
                               ELSE current_setting('role') END);
  sessions uuid[];
  was text := current_setting('lock_timeout');
  budget interval := interval '1 s';
BEGIN
  -- the role's sessions with a table subscription and anything logged since
  -- their cursor (one index probe each; _collect_many then looks closer).
  -- Not a probe per subscription from the cursor's xmin: with 12,000
  -- subscriptions and 60,000 logged changes that took 74 s per DROP.
  sessions := ARRAY(
    SELECT x.id
    FROM event.session x
    WHERE x.owner_role = me
      AND EXISTS (SELECT 1 FROM event.subscription s
                  WHERE s.session_id = x.id AND NOT (s.relation_oid = ANY (event._meta_views())))
      AND (EXISTS (SELECT 1 FROM event.change c WHERE c.xid >= pg_snapshot_xmax(x.cursor))
           OR EXISTS (SELECT 1 FROM event.change c
                      WHERE c.xid = ANY (ARRAY(SELECT pg_snapshot_xip(x.cursor)))))
    ORDER BY 1);
  IF cardinality(sessions) = 0 THEN
    RETURN;
  END IF;
  IF was::interval > interval '0' THEN
    budget := least(budget, was::interval);
  END IF;
  IF current_setting('statement_timeout')::interval > interval '0' THEN
    budget := least(budget, current_setting('statement_timeout')::interval / 4);
  END IF;
  PERFORM set_config('lock_timeout', greatest(1, (extract(epoch FROM budget) * 1000)::bigint) || 'ms', true);
  BEGIN
    PERFORM event._collect_many(sessions);
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'aqevent: the sessions of % could not collect before %: % (%)', me::regrole, TG_TAG, SQLERRM, SQLSTATE;
  END;
  PERFORM set_config('lock_timeout', was, true);
EXCEPTION WHEN OTHERS THEN
  PERFORM set_config('lock_timeout', was, true);
  RAISE WARNING 'aqevent: could not collect before %: % (%)', TG_TAG, SQLERRM, SQLSTATE;
END
$$;

-- The commands _on_ddl_start runs before.
CREATE FUNCTION event._ddl_start_tags() RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ARRAY['DROP TABLE', 'DROP SCHEMA', 'DROP OWNED', 'DROP TYPE', 'DROP EXTENSION'] $$;

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

-- Changes a DDL made undeliverable: a WARNING, and a row of
-- event.ddl_failure (55000) for `aqevent stats`.
CREATE FUNCTION event._report_lost(command_tag text, message text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE WARNING 'aqevent: %', message;
  INSERT INTO event.ddl_failure (command_tag, sqlstate, message) VALUES (command_tag, '55000', message);
END
$$;

CREATE FUNCTION event._on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET enable_seqscan = off
AS $$
DECLARE
  lost record;
  fn record;
BEGIN
  -- the next ddl_command_end compares the whole catalog (_ddl_scope)
  PERFORM set_config('aqevent.ddl_dropped', 'on', true);
  -- changes of a dropped table that a subscribed session had not collected
  -- (committed while the DROP waited for its lock, or of a session the DDL's
  -- role may not read: _on_ddl_start) cannot be matched any more: say so
  FOR lost IN
    SELECT format('%I.%I', min(d.schema_name), min(d.object_name)) AS name, count(DISTINCT x.id) AS sessions
    FROM pg_event_trigger_dropped_objects() d
    JOIN event.subscription s ON s.relation_oid = d.objid
    JOIN event.session x ON x.id = s.session_id
    WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
      AND EXISTS (SELECT 1 FROM event.change c
                  WHERE c.relid = d.objid AND c.xid >= pg_snapshot_xmin(x.cursor)
                    AND NOT pg_visible_in_snapshot(c.xid, x.cursor)
                    AND pg_visible_in_snapshot(c.xid, pg_current_snapshot())
                    AND (NOT pg_visible_in_snapshot(c.xid, s.since) OR c.xid = s.since_xid))
    GROUP BY d.objid
    ORDER BY 1
  LOOP
    PERFORM event._report_lost(TG_TAG, format('%s session(s) had changes of dropped table %s not yet collected; they are not delivered',
                                              lost.sessions, lost.name));
  END LOOP;
  -- under REPEATABLE READ or SERIALIZABLE, changes committed after the
  -- transaction's snapshot are out of sight: they cannot be checked
  IF current_setting('transaction_isolation') <> 'read committed'
     AND EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() d JOIN event.subscription s ON s.relation_oid = d.objid
                 WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0) THEN
    PERFORM event._report_lost(TG_TAG, format('a subscribed table was dropped in a %s transaction: its changes committed after the transaction began are not delivered',
                                              current_setting('transaction_isolation')));
  END IF;
  PERFORM event._collect_before_change(d.objid, '{}', ARRAY[d.address_names[3]])
  FROM pg_event_trigger_dropped_objects() d
  WHERE d.classid = 'pg_class'::regclass AND d.objsubid > 0 AND d.object_type = 'table column'
    AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = d.objid);
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
  -- a dropped table's DELETE trigger function (capture.sql) goes with it
  FOR fn IN
    SELECT p.proname FROM pg_event_trigger_dropped_objects() d
    JOIN pg_proc p ON p.pronamespace = 'event'::regnamespace AND p.proname = event._delete_capture_name(d.objid)
                  AND p.pronargs = 0
    WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
  LOOP
    EXECUTE format('DROP FUNCTION event.%I()', fn.proname);
  END LOOP;
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
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'aqevent_ddl_start') THEN
    EXECUTE format('CREATE EVENT TRIGGER aqevent_ddl_start ON ddl_command_start WHEN TAG IN (%s) '
                   'EXECUTE FUNCTION event._on_ddl_start()',
                   (SELECT string_agg(quote_literal(t), ', ' ORDER BY o) FROM unnest(event._ddl_start_tags()) WITH ORDINALITY u(t, o)));
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
               ('aqevent_sql_drop', 'dropping a subscribed table does not end its subscriptions until maintenance runs'),
               ('aqevent_ddl_start', 'dropping a subscribed table loses its changes not yet collected')) w(name, consequence)
  WHERE NOT EXISTS (SELECT 1 FROM pg_event_trigger e WHERE e.evtname = w.name)
$$;

SELECT event._install_event_triggers();
