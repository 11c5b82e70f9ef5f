-- 020_security_roles: the roles of the access model, the session options
-- and the limits against abuse. Policies and grants come last (023), after
-- every function exists.
--
--   aqevent_user  : granted to an ordinary role, lets it create and use its
--                   own sessions; nothing else on schemas event and meta.
--   aqevent_admin : may attach, subscribe, read, ack and delete every
--                   session. It reads what every session owner may read:
--                   grant it like you would grant those roles.
--
-- Roles are cluster-wide while migrations run per database, possibly many
-- at once: creation tolerates a concurrent creator (SQLSTATE, not message).

DO $$
DECLARE
  wanted text;
BEGIN
  FOREACH wanted IN ARRAY ARRAY['aqevent_user', 'aqevent_admin'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = wanted) THEN
      BEGIN
        EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', wanted);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- another database's migration created it first
      END;
    END IF;
  END LOOP;
  IF NOT pg_catalog.pg_has_role('aqevent_admin', 'aqevent_user', 'MEMBER') THEN
    BEGIN
      GRANT aqevent_user TO aqevent_admin;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END
$$;

-- Session options and overflow state.
--   notify_payload   'full': a notification carries the event (as before);
--                    'id'  : only {"id", "operation"}; read the data through
--                    the access-checked queue. NOTIFY is not access-controlled.
--   overflowed_at    set when the session hit max_pending_per_session; from
--                    then on its captured events are not queued until
--                    event.session_resume() (see docs/security.md).
--   overflow_event_id the id of the "overflow" marker event in its queue.
--   events_dropped   events not queued since overflowed_at (a lower bound:
--                    writers never wait for each other to count).
ALTER TABLE event.session
  ADD COLUMN notify_payload text NOT NULL DEFAULT 'full'
    CONSTRAINT session_notify_payload_check CHECK (notify_payload IN ('full', 'id')),
  ADD COLUMN overflowed_at timestamptz,
  ADD COLUMN overflow_event_id bigint,
  ADD COLUMN events_dropped bigint NOT NULL DEFAULT 0;

-- Limits, one row each; NULL means no limit. Changed by aqevent_admin:
--   UPDATE event.settings SET value = 500 WHERE name = 'max_subscriptions_per_session';
CREATE TABLE event.settings (
  name  text   PRIMARY KEY
        CONSTRAINT settings_name_check CHECK (name IN ('max_subscriptions_per_session',
                                                       'max_pending_per_session')),
  value bigint CONSTRAINT settings_value_check CHECK (value IS NULL OR value > 0)
);

INSERT INTO event.settings (name, value) VALUES
  ('max_subscriptions_per_session', 100000),
  ('max_pending_per_session', 10000000);

CREATE FUNCTION event._setting(setting_name text) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT s.value FROM event.settings s WHERE s.name = setting_name $$;
