-- 040_maintenance: retention, expiry, lease reclaim, purge; queue table
-- tuned against bloat.
--
-- Maintenance works across every session, including sessions whose owner
-- role is gone and queue rows whose session is gone, which row-level
-- security hides even from aqevent_admin. So these functions are SECURITY
-- DEFINER (they run as the owner of the event tables, whom row-level
-- security does not filter), with a fixed search_path, and EXECUTE is
-- granted to aqevent_admin only (at the end of this file, after
-- event._apply_access_control(), which only ever revokes PUBLIC from
-- SECURITY DEFINER functions and so leaves these grants in place).
--
-- Every function takes "now" as a parameter (default now()): the clock,
-- injectable by tests and by operators who want to ask "what would expire
-- at time T". Nothing here waits for a consumer or a writer: rows locked by
-- others are skipped and picked up by the next run.

-- Bloat: event.queue is a queue -- every row is inserted, updated by fetch
-- (visible_at, attempts) and deleted by ack. With the default scale factor
-- (20% of the table) autovacuum waits for ever more dead rows as the table
-- grows, and a backlog makes the table big. A fixed threshold vacuums it
-- after every 10,000 dead rows whatever its size, without cost delay, so
-- the space of acked rows is reused by new ones and the table stays at the
-- size of its working set. fillfactor 90 leaves room on each page for the
-- fetch UPDATE to be a HOT update (visible_at and attempts are not indexed),
-- so leasing creates no index entries. Inserts trigger vacuum the same way
-- (PostgreSQL 13+) to keep the visibility map current for the index scans.
ALTER TABLE event.queue SET (
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 10000,
  autovacuum_vacuum_insert_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 10000,
  autovacuum_analyze_scale_factor = 0,
  autovacuum_analyze_threshold = 10000,
  autovacuum_vacuum_cost_delay = 0,
  fillfactor = 90
);

-- How long dead letters are kept before maintenance purges them (seconds;
-- NULL keeps them for ever). Changed by aqevent_admin like the other limits.
ALTER TABLE event.settings DROP CONSTRAINT settings_name_check;
ALTER TABLE event.settings ADD CONSTRAINT settings_name_check
  CHECK (name IN ('max_subscriptions_per_session', 'max_pending_per_session',
                  'dead_letter_retention_seconds'));
INSERT INTO event.settings (name, value) VALUES ('dead_letter_retention_seconds', 14 * 86400);

-- Size of the queue on disk and its live/dead row estimates (for monitoring
-- and the bloat benchmark). Sizes are not secret: any role can call
-- pg_total_relation_size on the table anyway.
CREATE FUNCTION event.queue_size(OUT total_bytes bigint, OUT table_bytes bigint, OUT index_bytes bigint,
                                 OUT live_rows bigint, OUT dead_rows bigint,
                                 OUT last_autovacuum timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_total_relation_size('event.queue'::regclass),
         pg_relation_size('event.queue'::regclass),
         pg_indexes_size('event.queue'::regclass),
         s.n_live_tup, s.n_dead_tup, s.last_autovacuum
  FROM pg_stat_all_tables s WHERE s.relid = 'event.queue'::regclass
$$;

-- May the current role VACUUM event.queue? (Otherwise VACUUM only warns.)
-- Its owner, a superuser or the database owner may; on PostgreSQL 17+ also
-- a role with the MAINTAIN privilege, which aqevent_admin gets below.
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
   WHERE r.rolname = current_user AND c.oid = 'event.queue'::regclass AND d.datname = current_database();
  IF NOT allowed AND current_setting('server_version_num')::int >= 170000 THEN
    EXECUTE 'SELECT has_table_privilege(''event.queue'', ''MAINTAIN'')' INTO allowed;
  END IF;
  RETURN allowed;
END
$$;

-- Sessions with a ttl whose last attach (or detach) is longer ago than the
-- ttl are deleted with their events, subscriptions and dead letters; a
-- table that loses its last subscription loses its capture triggers (the
-- trigger on event.subscription does that). A session being attached or
-- deleted at this moment is skipped. Returns the number deleted.
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
  DELETE FROM event.queue q WHERE q.session_id = ANY (expired);
  -- Subscriptions and dead letters follow by foreign key (ON DELETE CASCADE).
  DELETE FROM event.session s WHERE s.id = ANY (expired);
  RETURN cardinality(expired);
END
$$;

-- The age argument of the purge functions: zero or positive.
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

-- Dead letters that died more than older_than before now are deleted for
-- good. Returns how many.
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

-- Pending events (still in a session's queue, acknowledged by nobody)
-- created more than older_than before now are deleted for good. Never part
-- of routine maintenance: losing pending events must be asked for.
CREATE FUNCTION event.purge_pending(older_than interval, now timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  purged bigint;
BEGIN
  PERFORM event._require_age(older_than);
  DELETE FROM event.queue q WHERE q.created_at < purge_pending.now - older_than;
  GET DIAGNOSTICS purged = ROW_COUNT;
  RETURN purged;
END
$$;

-- Reclaims what crashed consumers and dropped roles or tables left behind:
--   * expired leases: an event whose lease (or nack delay) ended before now
--     and that has deliveries left is made plainly deliverable (visible_at
--     NULL; fetch already treats an ended lease so, this makes stats and an
--     injected clock agree); one that used up max_attempts becomes a dead
--     letter now rather than at the next fetch, so that monitoring and
--     purging see it even when nobody fetches the session any more.
--     Rows a consumer holds locked (a fetch or ack in progress) are skipped.
--   * queue rows whose session no longer exists (a capture that raced the
--     session's deletion);
--   * subscriptions whose session owner role was dropped (capture gives
--     them nothing, but their triggers cost every writer), and whose table
--     was dropped while no event trigger was installed to remove them.
CREATE FUNCTION event.reclaim_leases(now timestamptz DEFAULT now()) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  reclaimed bigint;
  buried bigint;
  orphan_events bigint;
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
    RETURNING q.*
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

-- One maintenance pass: expire sessions, purge dead letters older than
-- dead_letter_age (NULL: the dead_letter_retention_seconds setting; no
-- purge when that is NULL too), reclaim leases. Serialised cluster-wide per
-- database by a transaction-level advisory lock: a pass that finds another
-- one running returns {"skipped": true} at once instead of doing the work
-- twice.
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
         || event.reclaim_leases(maintain.now);
END
$$;

SELECT event._apply_access_control();

-- Admin only. _apply_access_control() revokes PUBLIC from SECURITY DEFINER
-- functions and grants nothing on them, so these grants survive its later
-- runs (test/maintenance-sql.test.ts checks it).
GRANT EXECUTE ON FUNCTION event.expire_sessions(timestamptz),
                          event.purge_dead_letters(interval, timestamptz),
                          event.purge_pending(interval, timestamptz),
                          event.reclaim_leases(timestamptz),
                          event.maintain(interval, timestamptz)
  TO aqevent_admin;

-- PostgreSQL 17+: aqevent_admin may VACUUM the queue (aqevent maintain
-- --vacuum). _apply_access_control() revokes table rights only from PUBLIC
-- and aqevent_user, so this stays.
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 170000 THEN
    EXECUTE 'GRANT MAINTAIN ON event.queue, event.dead_letter TO aqevent_admin';
  END IF;
END
$$;
