-- The inbox: each session's events, pending or in flight, one row per event.
--
-- Storage behind event.queue (delivery.sql). A row is made when the
-- session's reader collects (collect.sql); it holds the event's parts with
-- the changed rows as record literals, blanked where the owner may not read,
-- and its JSON is rendered when it is read (render.sql). event holds the
-- finished JSON instead for overflow markers, requeued dead letters and
-- events carried over from before 0.2. Acknowledging deletes the row.

CREATE SEQUENCE event.event_id_seq;

CREATE TABLE event.inbox (
  session_id        uuid        NOT NULL,
  id                bigint      NOT NULL,
  subscription_id   uuid,
  subscription_type text,
  operation         text        NOT NULL,
  relid             oid,
  shape             integer,
  relation_schema   text,
  relation_name     text,
  pk_columns        text[],
  pk_values         text[],
  column_name       text,
  new_row           text,
  old_row           text,
  payload_columns   text[],
  hidden            text[],
  reason            text,
  event             jsonb,
  transaction_id    bigint,
  created_at        timestamptz NOT NULL,
  visible_at        timestamptz,
  attempts          integer     NOT NULL DEFAULT 0,
  last_error        text,
  PRIMARY KEY (session_id, id)
) WITH (fillfactor = 90);

-- Dead letters: events delivered max_attempts times without an ack, with the
-- JSON they were last delivered with.
CREATE TABLE event.dead_letter (
  session_id      uuid        NOT NULL REFERENCES event.session (id) ON DELETE CASCADE,
  id              bigint      NOT NULL,
  subscription_id uuid,
  event           jsonb       NOT NULL,
  created_at      timestamptz NOT NULL,
  attempts        integer     NOT NULL,
  last_error      text,
  died_at         timestamptz NOT NULL DEFAULT now(),
  requeued_at     timestamptz,
  PRIMARY KEY (session_id, id)
);

-- A deleted session's events go with it.
CREATE FUNCTION event._sessions_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM event.inbox q USING aqevent_old_sessions o WHERE q.session_id = o.id;
  RETURN NULL;
END
$$;

CREATE TRIGGER session_deleted AFTER DELETE ON event.session
  REFERENCING OLD TABLE AS aqevent_old_sessions
  FOR EACH STATEMENT EXECUTE FUNCTION event._sessions_deleted();

-- event.session.pending counts the session's inbox rows, for the pending cap,
-- kept by these triggers whoever inserts or deletes (collect, ack, requeue,
-- dead letters, purge), so that no caller can set it. Deletes by event.ack
-- and event.ack_each (which mark them, for this statement, with the setting
-- aqevent.acknowledging) also count in events_acknowledged. The collector
-- counts the rows it makes in the update of the sessions it makes anyway (it
-- marks its statement with aqevent.collecting): one update of each session
-- row fewer. Only rows with a relid are left to it, a column nobody else can
-- insert: a role that sets aqevent.collecting itself changes nothing.
CREATE FUNCTION event._inbox_counted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE event.session s SET pending = s.pending + n.n
      FROM (SELECT x.session_id, count(*) AS n FROM aqevent_rows x
            WHERE x.relid IS NULL OR current_setting('aqevent.collecting', true) IS DISTINCT FROM 'on'
            GROUP BY 1) n
     WHERE s.id = n.session_id;
  ELSE
    UPDATE event.session s
       SET pending = greatest(s.pending - n.n, 0),
           events_acknowledged = s.events_acknowledged
             + CASE WHEN current_setting('aqevent.acknowledging', true) = 'on' THEN n.n ELSE 0 END
      FROM (SELECT x.session_id, count(*) AS n FROM aqevent_rows x GROUP BY 1) n WHERE s.id = n.session_id;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER inbox_inserted AFTER INSERT ON event.inbox
  REFERENCING NEW TABLE AS aqevent_rows
  FOR EACH STATEMENT EXECUTE FUNCTION event._inbox_counted();

CREATE TRIGGER inbox_deleted AFTER DELETE ON event.inbox
  REFERENCING OLD TABLE AS aqevent_rows
  FOR EACH STATEMENT EXECUTE FUNCTION event._inbox_counted();
