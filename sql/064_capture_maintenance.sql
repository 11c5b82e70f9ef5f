-- 064_capture_maintenance: access control, retention and sizes take the
-- captured chunks (060) into account.

-- 023's _apply_access_control, with event.capture: readers may read their
-- sessions' chunks, move next_row with lease_until (expansion, 063) and
-- delete them with their session; only capture inserts them.
CREATE OR REPLACE FUNCTION event._apply_access_control() RETURNS void
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
    ELSIF t.name = 'capture' THEN
      -- Only capture inserts chunks; a reader moves next_row (expansion,
      -- 063) and deletes them with its session.
      GRANT SELECT, DELETE ON event.capture TO aqevent_user;
      GRANT UPDATE (next_row, lease_until) ON event.capture TO aqevent_user;
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
-- 040's maintenance functions, with the chunks.

CREATE OR REPLACE FUNCTION event.expire_sessions(now timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  expired uuid[];
BEGIN
  SELECT array_agg(s.id) INTO expired
  FROM (SELECT s.id FROM event.session s
        WHERE s.ttl IS NOT NULL
          AND greatest(s.last_attached_at, s.detached_at) + s.ttl < expire_sessions.now
        ORDER BY s.id
        FOR UPDATE SKIP LOCKED) s;
  IF expired IS NULL THEN
    RETURN 0;
  END IF;
  DELETE FROM event.capture c WHERE c.session_id = ANY (expired);
  DELETE FROM event.queue q WHERE q.session_id = ANY (expired);
  -- Subscriptions and dead letters follow by foreign key (ON DELETE CASCADE).
  DELETE FROM event.session s WHERE s.id = ANY (expired);
  RETURN cardinality(expired);
END
$$;

CREATE OR REPLACE FUNCTION event.purge_pending(older_than interval, now timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  purged bigint;
  captured bigint;
BEGIN
  PERFORM event._require_age(older_than);
  DELETE FROM event.queue q WHERE q.created_at < purge_pending.now - older_than;
  GET DIAGNOSTICS purged = ROW_COUNT;
  WITH gone AS (
    DELETE FROM event.capture c WHERE c.created_at < purge_pending.now - older_than
    RETURNING CASE WHEN c.operation = 'update'
                   THEN (SELECT count(*) FROM event._explode(c, c.next_row, c.row_count))
                   ELSE c.row_count - c.next_row END AS events
  )
  SELECT coalesce(sum(g.events), 0) INTO captured FROM gone g;
  RETURN purged + captured;
END
$$;

-- 040's reclaim_leases; orphan events now include captured rows whose
-- session is gone (counted as rows).
CREATE OR REPLACE FUNCTION event.reclaim_leases(now timestamptz DEFAULT now()) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  reclaimed bigint;
  buried bigint;
  orphan_events bigint;
  orphan_rows bigint;
  orphan_subscriptions bigint;
BEGIN
  WITH expired AS (
    SELECT q.session_id, q.id, q.attempts >= s.max_attempts AS exhausted
    FROM event.queue q JOIN event.session s ON s.id = q.session_id
    WHERE q.visible_at IS NOT NULL AND q.visible_at <= reclaim_leases.now
    FOR UPDATE OF q SKIP LOCKED
  ), dead AS (
    DELETE FROM event.queue q USING expired e
     WHERE e.exhausted AND q.session_id = e.session_id AND q.id = e.id
    RETURNING q.session_id, q.id, q.subscription_id, event._render(q) AS event, q.created_at,
              q.attempts, q.last_error
  ), moved AS (
    INSERT INTO event.dead_letter (session_id, id, subscription_id, event, created_at, attempts, last_error)
    SELECT d.session_id, d.id, d.subscription_id, d.event, d.created_at, d.attempts,
           coalesce(d.last_error, 'lease expired after the last attempt')
    FROM dead d
    RETURNING 1
  ), freed AS (
    UPDATE event.queue q SET visible_at = NULL
      FROM expired e
     WHERE NOT e.exhausted AND q.session_id = e.session_id AND q.id = e.id
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM freed), (SELECT count(*) FROM moved) INTO reclaimed, buried;

  DELETE FROM event.queue q
   WHERE NOT EXISTS (SELECT 1 FROM event.session s WHERE s.id = q.session_id);
  GET DIAGNOSTICS orphan_events = ROW_COUNT;
  WITH gone AS (
    DELETE FROM event.capture c
     WHERE NOT EXISTS (SELECT 1 FROM event.session s WHERE s.id = c.session_id)
    RETURNING c.row_count - c.next_row AS rows)
  SELECT coalesce(sum(g.rows), 0) INTO orphan_rows FROM gone g;

  DELETE FROM event.subscription sub
   USING event.session s
   WHERE s.id = sub.session_id
     AND (NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = s.owner_role)
          OR NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = sub.relation_oid));
  GET DIAGNOSTICS orphan_subscriptions = ROW_COUNT;

  RETURN jsonb_build_object('leases_reclaimed', reclaimed, 'dead_lettered', buried,
                            'orphan_events', orphan_events + orphan_rows,
                            'orphan_subscriptions', orphan_subscriptions);
END
$$;

-- The size of everything that holds pending events: event.queue and
-- event.capture, tables, indexes and TOAST together.
CREATE OR REPLACE FUNCTION event.queue_size(OUT total_bytes bigint, OUT table_bytes bigint, OUT index_bytes bigint,
                                            OUT live_rows bigint, OUT dead_rows bigint,
                                            OUT last_autovacuum timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT sum(pg_total_relation_size(s.relid))::bigint, sum(pg_relation_size(s.relid))::bigint,
         sum(pg_indexes_size(s.relid))::bigint, sum(s.n_live_tup)::bigint, sum(s.n_dead_tup)::bigint,
         max(s.last_autovacuum)
  FROM pg_stat_all_tables s WHERE s.relid IN ('event.queue'::regclass, 'event.capture'::regclass)
$$;

SELECT event._apply_access_control();

-- PostgreSQL 17+: aqevent_admin may VACUUM the chunks too (040).
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 170000 THEN
    EXECUTE 'GRANT MAINTAIN ON event.capture TO aqevent_admin';
  END IF;
END
$$;
