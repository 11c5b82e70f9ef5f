-- Maintenance: expiry, retention, reclaiming leases, trimming the change log.
--
-- These functions are SECURITY DEFINER (they cross sessions that row-level
-- security hides, even ownerless ones) and only aqevent_admin and superusers
-- may execute them (access.sql). None waits for consumers or writers: rows
-- locked at that moment are left to the next run. now is the clock.

CREATE FUNCTION event._require_age(older_than interval) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF older_than IS NULL OR older_than < interval '0' THEN
    RAISE EXCEPTION 'older_than must be zero or a positive interval, not %', coalesce(older_than::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$$;

-- Deletes sessions whose ttl ran out since they were last attached or
-- detached, with their events, subscriptions and dead letters.
CREATE FUNCTION event.expire_sessions(now timestamptz DEFAULT now()) RETURNS integer
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
  DELETE FROM event.session s WHERE s.id = ANY (expired);
  RETURN cardinality(expired);
END
$$;

CREATE FUNCTION event.purge_dead_letters(older_than interval, now timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  purged bigint;
BEGIN
  PERFORM event._require_age(older_than);
  DELETE FROM event.dead_letter d
   WHERE d.died_at < purge_dead_letters.now - older_than AND d.requeued_at IS NULL;
  GET DIAGNOSTICS purged = ROW_COUNT;
  RETURN purged;
END
$$;

-- Deletes pending events captured before now - older_than (never called by
-- maintain): what sessions have collected, and what they would collect.
CREATE FUNCTION event.purge_pending(older_than interval, now timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  purged bigint;
BEGIN
  PERFORM event._require_age(older_than);
  PERFORM event._collect(s.id) FROM event.session s ORDER BY s.id;
  DELETE FROM event.inbox q WHERE q.created_at < purge_pending.now - older_than;
  GET DIAGNOSTICS purged = ROW_COUNT;
  RETURN purged;
END
$$;

-- Events whose lease or back-off ended: deliverable again, or dead letters
-- when they used max_attempts; subscriptions whose owner or table is gone.
CREATE FUNCTION event.reclaim_leases(now timestamptz DEFAULT now()) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  reclaimed bigint;
  exhausted event.inbox[];
  buried bigint := 0;
  orphan_events bigint;
  orphan_subscriptions bigint;
BEGIN
  WITH expired AS (
    SELECT q.session_id, q.id FROM event.inbox q JOIN event.session s ON s.id = q.session_id
    WHERE q.visible_at IS NOT NULL AND q.visible_at <= reclaim_leases.now AND q.attempts < s.max_attempts
    FOR UPDATE OF q SKIP LOCKED
  ), freed AS (
    UPDATE event.inbox q SET visible_at = NULL FROM expired e
     WHERE q.session_id = e.session_id AND q.id = e.id
    RETURNING 1)
  SELECT count(*) INTO reclaimed FROM freed;
  -- Exhausted events keep their last JSON as rendered now (by the event
  -- system's owner, as in every maintenance path: stored JSON only, or
  -- field-wise text when the row must be rendered).
  SELECT array_agg(q) INTO exhausted FROM (
    SELECT q FROM event.inbox q JOIN event.session s ON s.id = q.session_id
    WHERE q.visible_at IS NOT NULL AND q.visible_at <= reclaim_leases.now AND q.attempts >= s.max_attempts
    FOR UPDATE OF q SKIP LOCKED) x(q);
  IF exhausted IS NOT NULL THEN
    INSERT INTO event.dead_letter (session_id, id, subscription_id, event, created_at, attempts, last_error)
    SELECT d.session_id, d.id, d.subscription_id, event._stored_json(d), d.created_at, d.attempts,
           coalesce(d.last_error, 'lease expired after the last attempt')
    FROM unnest(exhausted) d;
    GET DIAGNOSTICS buried = ROW_COUNT;
    DELETE FROM event.inbox q USING unnest(exhausted) d WHERE q.session_id = d.session_id AND q.id = d.id;
  END IF;
  DELETE FROM event.inbox q WHERE NOT EXISTS (SELECT 1 FROM event.session s WHERE s.id = q.session_id);
  GET DIAGNOSTICS orphan_events = ROW_COUNT;
  DELETE FROM event.subscription sub
   USING event.session s
   WHERE s.id = sub.session_id
     AND (NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = s.owner_role)
          OR NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = sub.relation_oid));
  GET DIAGNOSTICS orphan_subscriptions = ROW_COUNT;
  RETURN jsonb_build_object('leases_reclaimed', reclaimed, 'dead_lettered', buried,
                            'orphan_events', orphan_events, 'orphan_subscriptions', orphan_subscriptions);
END
$$;

-- An inbox row's JSON without running any of the table's types' code: stored
-- JSON as it is; otherwise the rows' fields as JSON strings. For dead letters
-- made by maintenance, which must not render as the event system's owner.
CREATE FUNCTION event._stored_json(q event.inbox) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(q.event, event._event_json(q,
    (SELECT jsonb_object_agg(c.col, event._unquote(f.field)) FROM event.shape s,
       unnest(s.columns) WITH ORDINALITY c(col, o)
       JOIN unnest(event._fields(q.new_row)) WITH ORDINALITY f(field, o) ON f.o = c.o WHERE s.id = q.shape),
    (SELECT jsonb_object_agg(c.col, event._unquote(f.field)) FROM event.shape s,
       unnest(s.columns) WITH ORDINALITY c(col, o)
       JOIN unnest(event._fields(q.old_row)) WITH ORDINALITY f(field, o) ON f.o = c.o WHERE s.id = q.shape))
    || jsonb_build_object('rendered', 'text'))
$$;

-- Collects for every session with subscriptions (so that sessions that do
-- not read keep to their cap), then deletes the change log every such
-- session has collected: transactions below the oldest cursor's xmin.
CREATE FUNCTION event.trim_changes() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
  horizon xid8;
  trimmed bigint;
BEGIN
  PERFORM event._collect(s.id) FROM event.session s
  WHERE EXISTS (SELECT 1 FROM event.subscription x WHERE x.session_id = s.id) ORDER BY s.id;
  SELECT min(pg_snapshot_xmin(s.cursor)) INTO horizon FROM event.session s
  WHERE EXISTS (SELECT 1 FROM event.subscription x WHERE x.session_id = s.id);
  IF horizon IS NULL THEN
    horizon := pg_snapshot_xmin(pg_current_snapshot());
  END IF;
  DELETE FROM event.change c WHERE c.xid < horizon;
  GET DIAGNOSTICS trimmed = ROW_COUNT;
  DELETE FROM event.catalog_change m WHERE m.xid < horizon;
  DELETE FROM event.listener l
   WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.pid AND a.backend_start = l.backend_start);
  RETURN trimmed;
END
$$;

-- One pass: expire, purge dead letters, reclaim leases, trim the change log,
-- remove capture triggers nobody needs. {"skipped": true} when another pass
-- holds the lock.
CREATE FUNCTION event.maintain(dead_letter_age interval DEFAULT NULL, now timestamptz DEFAULT now())
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  age interval := coalesce(dead_letter_age,
                           event._setting('dead_letter_retention_seconds') * interval '1 second');
  expired integer;
  purged bigint := 0;
BEGIN
  IF NOT pg_try_advisory_xact_lock(7021933452185599999) THEN
    RETURN jsonb_build_object('skipped', true);
  END IF;
  expired := event.expire_sessions(maintain.now);
  IF age IS NOT NULL THEN
    purged := event.purge_dead_letters(age, maintain.now);
  END IF;
  RETURN jsonb_build_object('skipped', false, 'sessions_expired', expired, 'dead_letters_purged', purged)
         || event.reclaim_leases(maintain.now)
         || jsonb_build_object('changes_trimmed', event.trim_changes(),
                               'capture_removed', event._uninstall_unused_capture(),
                               'ddl_failures_trimmed', event.trim_ddl_failures(maintain.now));
END
$$;

-- Size on disk of the event system's storage: inbox, change log, dead letters.
CREATE FUNCTION event.queue_size(OUT total_bytes bigint, OUT table_bytes bigint, OUT index_bytes bigint,
                                 OUT live_rows bigint, OUT dead_rows bigint,
                                 OUT last_autovacuum timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT sum(pg_total_relation_size(s.relid))::bigint, sum(pg_relation_size(s.relid))::bigint,
         sum(pg_indexes_size(s.relid))::bigint, sum(s.n_live_tup)::bigint, sum(s.n_dead_tup)::bigint,
         max(s.last_autovacuum)
  FROM pg_stat_all_tables s
  WHERE s.relid IN ('event.inbox'::regclass, 'event.change'::regclass, 'event.dead_letter'::regclass)
$$;

CREATE FUNCTION event.may_vacuum_queue() RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  allowed boolean;
BEGIN
  SELECT r.rolsuper OR pg_has_role(current_user, c.relowner, 'MEMBER')
         OR pg_has_role(current_user, d.datdba, 'MEMBER')
    INTO allowed
    FROM pg_roles r, pg_class c, pg_database d
   WHERE r.rolname = current_user AND c.oid = 'event.inbox'::regclass AND d.datname = current_database();
  IF NOT allowed AND current_setting('server_version_num')::int >= 170000 THEN
    EXECUTE 'SELECT has_table_privilege(''event.inbox'', ''MAINTAIN'')' INTO allowed;
  END IF;
  RETURN allowed;
END
$$;

-- The inbox and the change log churn: vacuum them early (where autovacuum runs).
ALTER TABLE event.inbox SET (
  autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
  autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000,
  autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 10000,
  autovacuum_vacuum_cost_delay = 0);
ALTER TABLE event.change SET (
  autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
  autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000,
  autovacuum_vacuum_cost_delay = 0);
