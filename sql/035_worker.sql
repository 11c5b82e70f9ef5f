-- 035_worker: lease renewal and release for long-running consumers (the
-- TypeScript Worker). Both run with the caller's rights: row-level security
-- on event.queue limits them to the caller's sessions.
--
-- There are no delivery tokens: a consumer names events by id. Both functions
-- therefore touch only events whose lease is still running (visible_at in
-- the future); an event whose lease has ended may already be on its way to
-- another consumer, and is left alone.

-- Extend the leases of events still leased: visible again at now() + lease.
-- Returns the ids extended; an id missing from the result has lost its lease
-- (ended, acknowledged, or a dead letter) and may be redelivered.
CREATE FUNCTION event.extend_lease(session_id uuid, ids bigint[], lease interval)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  PERFORM event._require_ids(ids);
  IF lease IS NULL OR lease <= interval '0' THEN
    RAISE EXCEPTION 'lease must be a positive interval, not %', coalesce(lease::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
  UPDATE event.queue q
     SET visible_at = now() + lease
   WHERE q.session_id = extend_lease.session_id AND q.id = ANY (ids) AND q.visible_at > now()
  RETURNING q.id;
END
$$;

-- Give back leased events that were never handed to a handler: deliverable
-- now, and the delivery that fetched them is not counted as an attempt.
-- Returns how many were released.
CREATE FUNCTION event.release(session_id uuid, ids bigint[]) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  done integer;
BEGIN
  PERFORM event._require_session(session_id);
  PERFORM event._require_ids(ids);
  UPDATE event.queue q
     SET visible_at = now(), attempts = greatest(q.attempts - 1, 0)
   WHERE q.session_id = release.session_id AND q.id = ANY (ids) AND q.visible_at > now();
  GET DIAGNOSTICS done = ROW_COUNT;
  RETURN done;
END
$$;

SELECT event._apply_access_control();
