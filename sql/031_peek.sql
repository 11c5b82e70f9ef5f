-- 031_peek: read a session's queue without leasing.
--
-- fetch_events leases and counts a delivery attempt, so a tool that only
-- looks (aqevent drain without --ack, aqevent tail without --ack) would push
-- events toward the dead letters. peek reads the queued events in id order
-- and changes nothing: no lease, no attempt, no attach time.

CREATE FUNCTION event.peek(session_id uuid, max_events integer, after_id bigint DEFAULT NULL)
RETURNS TABLE (id bigint, attempts integer, visible_at timestamptz, event jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ses event.session := event._require_session(session_id);
BEGIN
  IF max_events IS NULL OR max_events < 1 OR max_events > 10000 THEN
    RAISE EXCEPTION 'max_events must be between 1 and 10000, not %', coalesce(max_events::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
  SELECT q.id, q.attempts, q.visible_at, q.event
  FROM event.queue q
  WHERE q.session_id = ses.id AND (after_id IS NULL OR q.id > after_id)
  ORDER BY q.id
  LIMIT max_events;
END
$$;

SELECT event._apply_access_control();
