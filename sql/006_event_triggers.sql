-- 006_event_triggers: capture triggers follow subscriptions onto tables,
-- and every new queue row wakes its session's listeners (event._queued,
-- called by whoever inserts into event.queue).

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
--
-- Whoever inserts into event.queue (capture, requeue) calls event._queued
-- with what it inserted, per session, in the same statement's function; no
-- trigger on event.queue. A statement trigger there needed a transition
-- table: every event row copied a second time (spilled to disk past
-- work_mem for a bulk statement) only to be counted per session, and a
-- second trigger call with its own queries on every single-row write.
-- The notifications for a statement's new queue rows. The events of a
-- session with 100 or fewer are read back by key (index lookups of rows
-- this transaction just wrote); larger batches are summarised unread.
-- Replaced in 021_security_limits (pending cap, id-only payloads).
CREATE FUNCTION event._queued(batches event.queued_batch[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pg_notify(x.channel, x.payload)
  FROM (
    SELECT q.session_id::text AS channel,
           CASE WHEN octet_length(q.event::text) < 7900 THEN q.event::text
                ELSE jsonb_build_object('id', q.id, 'operation', q.event -> 'operation',
                                        'compact', true)::text END AS payload,
           q.id
    FROM unnest(batches) b
    CROSS JOIN LATERAL unnest(b.ids) i(id)
    -- By key, one index lookup per event: OFFSET 0 keeps a generic plan
    -- from hashing every queued event of the session instead.
    CROSS JOIN LATERAL (SELECT q.id, q.session_id, q.event FROM event.queue q
                        WHERE q.session_id = b.session_id AND q.id = i.id OFFSET 0) q
    WHERE cardinality(b.ids) <= 100
    UNION ALL
    SELECT b.session_id::text,
           jsonb_build_object('operation', 'batch', 'first_id', b.first_id,
                              'last_id', b.last_id, 'count', cardinality(b.ids))::text,
           b.last_id
    FROM unnest(batches) b
    WHERE cardinality(b.ids) > 100
    ORDER BY 3
  ) x;
END
$$;

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
