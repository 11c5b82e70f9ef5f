-- Sessions: persistent inboxes, identified by a uuid and owned by a role.
--
-- A session outlives connections: any number of connections may attach to
-- it. cursor is the snapshot up to which the session's reader has matched the
-- change log (collect.sql); pending counts its events not yet acknowledged
-- (for the pending cap); events_captured and events_acknowledged count, since
-- the session was created, the events its reader made (collect.sql) and the
-- ones acknowledged (delivery.sql), for event.metrics().

CREATE TABLE event.session (
  id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_role        oid         NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  last_attached_at  timestamptz NOT NULL DEFAULT now(),
  detached_at       timestamptz,
  ttl               interval    CONSTRAINT session_ttl_check CHECK (ttl > interval '0'),
  max_attempts      integer     NOT NULL DEFAULT 5 CONSTRAINT session_max_attempts_check CHECK (max_attempts > 0),
  delivery_order    text        NOT NULL DEFAULT 'strict'
                    CONSTRAINT session_delivery_order_check CHECK (delivery_order IN ('strict', 'parallel')),
  notify_payload    text        NOT NULL DEFAULT 'full'
                    CONSTRAINT session_notify_payload_check CHECK (notify_payload IN ('full', 'id')),
  overflowed_at     timestamptz,
  overflow_event_id bigint,
  events_dropped    bigint      NOT NULL DEFAULT 0,
  cursor            pg_snapshot NOT NULL DEFAULT pg_current_snapshot(),
  pending           bigint      NOT NULL DEFAULT 0,
  events_captured   bigint      NOT NULL DEFAULT 0,
  events_acknowledged bigint    NOT NULL DEFAULT 0
);

CREATE INDEX session_owner_idx ON event.session (owner_role);

-- The session a function was given, or the connection's current one; 42704
-- when it does not exist or row-level security hides it.
CREATE FUNCTION event._require_session(session_id uuid) RETURNS event.session
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  found event.session;
BEGIN
  IF session_id IS NULL THEN
    RAISE EXCEPTION 'no session given, and this connection has no current session'
      USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Call event.session_create() or event.session_attach(uuid) first.';
  END IF;
  SELECT * INTO found FROM event.session s WHERE s.id = session_id;
  IF found.id IS NULL THEN
    RAISE EXCEPTION 'session "%" does not exist', session_id
      USING ERRCODE = 'undefined_object';
  END IF;
  RETURN found;
END
$$;

CREATE FUNCTION event.current_session() RETURNS uuid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT nullif(current_setting('aqevent.session_id', true), '')::uuid $$;

CREATE FUNCTION event._set_current_session(session_id uuid) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT set_config('aqevent.session_id', coalesce(session_id::text, ''), false) $$;

-- 54000 when the role already owns max_sessions_per_role sessions.
CREATE FUNCTION event._check_session_limit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cap bigint := event._setting('max_sessions_per_role');
  owned bigint;
BEGIN
  IF cap IS NULL THEN
    RETURN NULL;
  END IF;
  -- concurrent creators of one role count each other
  PERFORM pg_advisory_xact_lock(hashtextextended(n.owner_role::text, 7021933452185600002))
  FROM (SELECT DISTINCT a.owner_role FROM aqevent_new_sessions a ORDER BY 1) n;
  FOR owned IN
    SELECT count(*) FROM event.session s
    WHERE s.owner_role IN (SELECT DISTINCT n.owner_role FROM aqevent_new_sessions n)
    GROUP BY s.owner_role
  LOOP
    IF owned > cap THEN
      RAISE EXCEPTION 'role % may own at most % sessions',
        (SELECT quote_ident(pg_get_userbyid(n.owner_role)) FROM aqevent_new_sessions n LIMIT 1), cap
        USING ERRCODE = 'program_limit_exceeded',
              HINT = 'Delete sessions it no longer needs (event.session_delete), or ask an aqevent_admin to raise max_sessions_per_role.';
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER session_limit AFTER INSERT ON event.session
  REFERENCING NEW TABLE AS aqevent_new_sessions
  FOR EACH STATEMENT EXECUTE FUNCTION event._check_session_limit();

CREATE FUNCTION event.session_create() RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  new_id uuid;
BEGIN
  INSERT INTO event.session (owner_role)
  SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user
  RETURNING id INTO new_id;
  PERFORM event._set_current_session(new_id);
  RETURN new_id;
END
$$;

CREATE FUNCTION event.session_create(ttl interval) RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  new_id uuid := event.session_create();
BEGIN
  PERFORM event.session_set_ttl(new_id, ttl);
  RETURN new_id;
END
$$;

CREATE FUNCTION event.session_set_ttl(session_id uuid, ttl interval) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  IF ttl IS NOT NULL AND ttl <= interval '0' THEN
    RAISE EXCEPTION 'ttl must be a positive interval, not %', ttl USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE event.session s SET ttl = session_set_ttl.ttl WHERE s.id = session_id;
END
$$;

CREATE FUNCTION event.session_attach(session_id uuid) RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  UPDATE event.session s
     SET last_attached_at = now(), detached_at = NULL
   WHERE s.id = session_id;
  PERFORM event._set_current_session(session_id);
  RETURN session_id;
END
$$;

CREATE FUNCTION event.session_detach(session_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  UPDATE event.session s SET detached_at = now() WHERE s.id = session_id;
  IF event.current_session() = session_id THEN
    PERFORM event._set_current_session(NULL);
  END IF;
END
$$;

-- Deletes the session with its subscriptions, events and dead letters.
CREATE FUNCTION event.session_delete(session_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  DELETE FROM event.session s WHERE s.id = session_delete.session_id;
  IF event.current_session() = session_id THEN
    PERFORM event._set_current_session(NULL);
  END IF;
END
$$;

CREATE FUNCTION event.set_max_attempts(session_id uuid, max_attempts integer) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  IF max_attempts IS NULL OR max_attempts < 1 THEN
    RAISE EXCEPTION 'max_attempts must be at least 1, not %', coalesce(max_attempts::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE event.session s SET max_attempts = set_max_attempts.max_attempts
  WHERE s.id = set_max_attempts.session_id;
END
$$;

CREATE FUNCTION event.set_delivery_order(session_id uuid, delivery_order text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  IF delivery_order IS NULL OR delivery_order NOT IN ('strict', 'parallel') THEN
    RAISE EXCEPTION 'delivery_order must be ''strict'' or ''parallel'', not %',
      coalesce(quote_literal(delivery_order), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE event.session s SET delivery_order = set_delivery_order.delivery_order
  WHERE s.id = set_delivery_order.session_id;
END
$$;

CREATE FUNCTION event.session_set_notify_payload(session_id uuid, notify_payload text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  IF notify_payload IS NULL OR notify_payload NOT IN ('full', 'id') THEN
    RAISE EXCEPTION 'notify_payload must be ''full'' or ''id'', not %',
      coalesce(quote_literal(notify_payload), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE event.session s SET notify_payload = session_set_notify_payload.notify_payload
   WHERE s.id = session_set_notify_payload.session_id;
END
$$;

-- After an overflow: the session's reader collects again from now on.
CREATE FUNCTION event.session_resume(session_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  UPDATE event.session s SET overflowed_at = NULL, events_dropped = 0 WHERE s.id = session_resume.session_id;
END
$$;

CREATE FUNCTION event.session_info(session_id uuid,
  OUT id uuid, OUT owner_role name, OUT created_at timestamptz,
  OUT last_attached_at timestamptz, OUT detached_at timestamptz, OUT notify_payload text,
  OUT subscriptions bigint, OUT max_subscriptions bigint, OUT max_pending bigint,
  OUT overflowed_at timestamptz, OUT overflow_event_id bigint, OUT events_dropped bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ses event.session := event._require_session(session_id);
BEGIN
  id := ses.id;
  owner_role := pg_get_userbyid(ses.owner_role);
  created_at := ses.created_at;
  last_attached_at := ses.last_attached_at;
  detached_at := ses.detached_at;
  notify_payload := ses.notify_payload;
  subscriptions := (SELECT count(*) FROM event.subscription s
                    WHERE s.session_id = ses.id AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = s.relation_oid));
  max_subscriptions := event._setting('max_subscriptions_per_session');
  max_pending := event._setting('max_pending_per_session');
  overflowed_at := ses.overflowed_at;
  overflow_event_id := ses.overflow_event_id;
  events_dropped := ses.events_dropped;
END
$$;
