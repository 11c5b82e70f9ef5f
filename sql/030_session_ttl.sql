-- 030_session_ttl: sessions may expire.
--
-- A session with a ttl that has not been attached for longer than it is
-- deleted by maintenance (with its subscriptions, events and dead letters).
-- NULL: never expires.

ALTER TABLE event.session ADD COLUMN ttl interval CHECK (ttl > interval '0');

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

-- session_create with a time to live.
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

SELECT event._apply_access_control();
