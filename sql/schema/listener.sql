-- Wake-ups: readers parked in LISTEN "aqevent" say so, so that writers
-- notify only while someone listens (capture.sql). The payload is the oid of
-- the changed table; a notification is a wake-up call, never the record.
-- A backend registers itself only; rows of backends that are gone are
-- removed by maintenance (trim_changes) and by the next registration.

CREATE FUNCTION event.listener_register() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM event.listener l
   WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.pid AND a.backend_start = l.backend_start);
  INSERT INTO event.listener (pid, backend_start)
  SELECT a.pid, a.backend_start FROM pg_stat_activity a
  WHERE a.pid = pg_backend_pid()
    AND NOT EXISTS (SELECT 1 FROM event.listener l WHERE l.pid = a.pid AND l.backend_start = a.backend_start);
END
$$;

CREATE FUNCTION event.listener_unregister() RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ DELETE FROM event.listener l WHERE l.pid = pg_backend_pid() $$;
