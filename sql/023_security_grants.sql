-- 023_security_grants: who may touch what. Runs after every other migration
-- of this version; a later migration that adds functions or tables with a
-- session_id column ends with  SELECT event._apply_access_control();
--
-- The session, subscription and delivery functions run with the caller's
-- rights (SECURITY INVOKER): inside a SECURITY DEFINER function current_user
-- is the definer, and the caller's effective role (after SET ROLE, as
-- PostgREST-style deployments use) would be lost. Ownership is therefore
-- enforced by row-level security on the tables those functions use, and by
-- grants that allow only what the functions need:
--   * a session is visible to members of its owner role and of aqevent_admin;
--   * rows of every event table with a session_id column are visible with
--     their session;
--   * a new session belongs to the role that creates it;
--   * a new subscription is re-checked (ownership, the owner's SELECT right,
--     the kind of relation, row-level security) whether or not it came
--     through event.subscribe_*;
--   * nobody but capture inserts into event.queue.
-- Capture and the trigger bookkeeping are SECURITY DEFINER and run as the
-- owner of these tables, which row-level security does not filter.

-- May the owner of session_id subscribe to relid with this grain? The same
-- checks as event.subscribe_*, as a boolean for the INSERT policy.
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
      AND c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('event', 'meta', 'pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_toast%'
      AND NOT coalesce(event._rls_applies(s.owner_role, c.oid), true)
      AND CASE WHEN _may_subscribe.kind IN ('table', 'row')
                 THEN has_table_privilege(s.owner_role, c.oid, 'SELECT')
               ELSE EXISTS (SELECT 1 FROM pg_attribute a
                            WHERE a.attrelid = c.oid AND a.attname = _may_subscribe.column_name
                              AND a.attnum > 0 AND NOT a.attisdropped
                              AND has_column_privilege(s.owner_role, c.oid, a.attnum, 'SELECT'))
          END)
$$;

-- Row-level security, grants and function privileges, idempotently.
CREATE FUNCTION event._apply_access_control() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t record;
  f record;
BEGIN
  REVOKE ALL ON SCHEMA event, meta FROM PUBLIC;
  GRANT USAGE ON SCHEMA event, meta TO aqevent_user;

  -- Sessions: visible to members of the owner and to aqevent_admin; created
  -- only for oneself; the owner, id and caps are not the user's to change.
  ALTER TABLE event.session ENABLE ROW LEVEL SECURITY;
  IF NOT EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = 'event' AND p.tablename = 'session'
                 AND p.policyname = 'session_access') THEN
    CREATE POLICY session_access ON event.session
      USING (pg_has_role(current_user, owner_role, 'MEMBER')
             OR pg_has_role(current_user, 'aqevent_admin', 'MEMBER'));
    CREATE POLICY session_create_own ON event.session AS RESTRICTIVE FOR INSERT
      WITH CHECK (owner_role = (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user));
  END IF;
  REVOKE ALL ON event.session FROM PUBLIC, aqevent_user;
  GRANT SELECT, DELETE ON event.session TO aqevent_user;
  GRANT INSERT (owner_role) ON event.session TO aqevent_user;
  GRANT UPDATE (last_attached_at, detached_at, notify_payload,
                overflowed_at, overflow_event_id, events_dropped) ON event.session TO aqevent_user;
  GRANT UPDATE (max_attempts, delivery_order) ON event.session TO aqevent_user; -- 010_delivery
  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'event.session'::regclass AND attname = 'ttl' AND NOT attisdropped) THEN
    GRANT UPDATE (ttl) ON event.session TO aqevent_user; -- 030_session_ttl
  END IF;

  -- Every table with a session_id column: rows go with their session.
  FOR t IN
    SELECT c.oid::regclass AS rel, c.relname::text AS name
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'session_id' AND NOT a.attisdropped
    WHERE n.nspname = 'event' AND c.relkind IN ('r', 'p')
    ORDER BY c.relname
  LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.rel);
    IF NOT EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = 'event' AND p.tablename = t.name
                   AND p.policyname = 'session_access') THEN
      EXECUTE format('CREATE POLICY session_access ON %s '
                     'USING (EXISTS (SELECT 1 FROM event.session s WHERE s.id = session_id))', t.rel);
    END IF;
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC, aqevent_user', t.rel);
    IF t.name = 'subscription' THEN
      -- Inserted through event.subscribe_*; a direct INSERT gains nothing.
      GRANT SELECT, DELETE ON event.subscription TO aqevent_user;
      GRANT INSERT (session_id, kind, relation_oid, target, pk_values, column_name)
        ON event.subscription TO aqevent_user;
      IF NOT EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = 'event'
                     AND p.tablename = 'subscription' AND p.policyname = 'subscription_allowed') THEN
        CREATE POLICY subscription_allowed ON event.subscription AS RESTRICTIVE FOR INSERT
          WITH CHECK (event._may_subscribe(session_id, kind, relation_oid, column_name));
      END IF;
    ELSIF t.name = 'queue' THEN
      -- Only capture (SECURITY DEFINER) inserts events.
      GRANT SELECT, UPDATE, DELETE ON event.queue TO aqevent_user;
    ELSE
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO aqevent_user', t.rel);
    END IF;
  END LOOP;

  REVOKE ALL ON event.settings FROM PUBLIC, aqevent_user;
  GRANT SELECT ON event.settings TO aqevent_user;
  GRANT UPDATE (value) ON event.settings TO aqevent_admin;

  -- Functions: nothing for PUBLIC. aqevent_user may call every function
  -- that runs with its own rights; SECURITY DEFINER functions are reached
  -- only through triggers (trigger functions cannot be called directly).
  FOR f IN
    SELECT p.oid::regprocedure AS fn, p.prosecdef
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('event', 'meta') AND p.prokind IN ('f', 'p')
      AND p.proname <> '_apply_access_control'
    ORDER BY 1
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.fn);
    IF NOT f.prosecdef THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO aqevent_user', f.fn);
    END IF;
  END LOOP;
END
$$;

SELECT event._apply_access_control();
REVOKE ALL ON FUNCTION event._apply_access_control() FROM PUBLIC;
