-- 006_event_triggers: capture triggers follow subscriptions onto tables,
-- and every new queue row wakes its session's listeners.

-- Install or remove the capture triggers of one table, so that a table has
-- them exactly while it has subscriptions. Serialised per table by an
-- advisory lock; the check runs after the lock, so it sees every
-- subscription committed before it.
CREATE FUNCTION event._sync_capture_triggers(relid oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  wanted boolean;
  present boolean;
BEGIN
  PERFORM pg_advisory_xact_lock(7021933452185600000 + relid::bigint);
  IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = relid) THEN
    RETURN;  -- the table is gone, and its triggers with it
  END IF;
  wanted := EXISTS (SELECT 1 FROM event.subscription s WHERE s.relation_oid = relid);
  present := EXISTS (SELECT 1 FROM pg_trigger t
                     WHERE t.tgrelid = relid AND t.tgname = 'aqevent_capture_insert');
  IF wanted AND NOT present THEN
    EXECUTE format('CREATE TRIGGER aqevent_capture_insert AFTER INSERT ON %s '
                   'REFERENCING NEW TABLE AS aqevent_new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION event._capture_insert()', relid::regclass);
    EXECUTE format('CREATE TRIGGER aqevent_capture_update AFTER UPDATE ON %s '
                   'REFERENCING OLD TABLE AS aqevent_old_rows NEW TABLE AS aqevent_new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION event._capture_update()', relid::regclass);
    EXECUTE format('CREATE TRIGGER aqevent_capture_delete AFTER DELETE ON %s '
                   'REFERENCING OLD TABLE AS aqevent_old_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION event._capture_delete()', relid::regclass);
    EXECUTE format('CREATE TRIGGER aqevent_capture_truncate AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION event._capture_truncate()', relid::regclass);
  ELSIF present AND NOT wanted THEN
    EXECUTE format('DROP TRIGGER IF EXISTS aqevent_capture_insert ON %s', relid::regclass);
    EXECUTE format('DROP TRIGGER IF EXISTS aqevent_capture_update ON %s', relid::regclass);
    EXECUTE format('DROP TRIGGER IF EXISTS aqevent_capture_delete ON %s', relid::regclass);
    EXECUTE format('DROP TRIGGER IF EXISTS aqevent_capture_truncate ON %s', relid::regclass);
  END IF;
END
$$;

CREATE FUNCTION event._subscriptions_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  relid oid;
BEGIN
  IF TG_OP = 'INSERT' THEN
    FOR relid IN SELECT DISTINCT n.relation_oid FROM aqevent_new_subscriptions n ORDER BY 1 LOOP
      PERFORM event._sync_capture_triggers(relid);
    END LOOP;
  ELSE
    FOR relid IN SELECT DISTINCT o.relation_oid FROM aqevent_old_subscriptions o ORDER BY 1 LOOP
      PERFORM event._sync_capture_triggers(relid);
    END LOOP;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER subscription_inserted AFTER INSERT ON event.subscription
  REFERENCING NEW TABLE AS aqevent_new_subscriptions
  FOR EACH STATEMENT EXECUTE FUNCTION event._subscriptions_changed();
CREATE TRIGGER subscription_deleted AFTER DELETE ON event.subscription
  REFERENCING OLD TABLE AS aqevent_old_subscriptions
  FOR EACH STATEMENT EXECUTE FUNCTION event._subscriptions_changed();

-- NOTIFY, on the channel named by the session id, for each new queue row.
-- The notification is a wake-up and a convenience: the queue is the truth,
-- and consumers fetch from it (NOTIFY is lost while nobody listens).
--   * the event JSON itself, when it fits in PostgreSQL's 8000-byte limit;
--   * {"id", "operation", "compact": true} when it does not;
--   * {"operation": "batch", "first_id", "last_id", "count"} once per session
--     for a statement that queued more than 100 events for it.
-- Every payload is distinct (ids differ), so NOTIFY never merges two.
-- One pass over the new rows counts them per session; the rows themselves
-- are read again only when some session got 100 or fewer (a one-time
-- filter), so a bulk statement reads its transition table once, not three
-- times.
CREATE FUNCTION event._notify_queued() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
  PERFORM pg_notify(x.channel, x.payload)
  FROM (
    WITH per_session AS MATERIALIZED (
      SELECT b.session_id, count(*) AS n, min(b.id) AS first_id, max(b.id) AS last_id
      FROM aqevent_queued b GROUP BY b.session_id
    )
    SELECT q.session_id::text AS channel,
           CASE WHEN octet_length(q.event::text) < 7900 THEN q.event::text
                ELSE jsonb_build_object('id', q.id, 'operation', q.event -> 'operation',
                                        'compact', true)::text END AS payload,
           q.id
    FROM aqevent_queued q
    WHERE (SELECT bool_or(p.n <= 100) FROM per_session p)
      AND q.session_id IN (SELECT p.session_id FROM per_session p WHERE p.n <= 100)
    UNION ALL
    SELECT p.session_id::text,
           jsonb_build_object('operation', 'batch', 'first_id', p.first_id,
                              'last_id', p.last_id, 'count', p.n)::text,
           p.last_id
    FROM per_session p WHERE p.n > 100
    ORDER BY 3
  ) x;
  RETURN NULL;
END
$$;

CREATE TRIGGER queue_notify AFTER INSERT ON event.queue
  REFERENCING NEW TABLE AS aqevent_queued
  FOR EACH STATEMENT EXECUTE FUNCTION event._notify_queued();

-- A dropped table takes its subscriptions with it: its oid may later name
-- another table. Needs a superuser to install; skipped (with a notice)
-- otherwise, and then maintenance removes such subscriptions instead.
CREATE FUNCTION event._on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM event.subscription s
  USING pg_event_trigger_dropped_objects() d
  WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND s.relation_oid = d.objid;
END
$$;

DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    CREATE EVENT TRIGGER aqevent_sql_drop ON sql_drop EXECUTE FUNCTION event._on_sql_drop();
  ELSE
    RAISE NOTICE 'aqevent: not a superuser, so no event trigger for dropped tables';
  END IF;
END
$$;
