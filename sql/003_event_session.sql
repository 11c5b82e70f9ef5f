-- 003_event_session: create, attach, detach and delete sessions.
--
-- These functions run with the caller's rights: what a caller may see and
-- change is decided by row-level security on event.session (see the
-- security migration), so a session that is not yours does not exist for you.

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

-- The connection's current session, or NULL.
CREATE FUNCTION event.current_session() RETURNS uuid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT nullif(current_setting('aqevent.session_id', true), '')::uuid $$;

CREATE FUNCTION event._set_current_session(session_id uuid) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT set_config('aqevent.session_id', coalesce(session_id::text, ''), false) $$;

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

-- Deletes the session, its subscriptions (and so, when they were the last,
-- the capture triggers) and every event still in its inbox.
CREATE FUNCTION event.session_delete(session_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  DELETE FROM event.queue q WHERE q.session_id = session_delete.session_id;
  DELETE FROM event.session s WHERE s.id = session_delete.session_id;
  IF event.current_session() = session_id THEN
    PERFORM event._set_current_session(NULL);
  END IF;
END
$$;
