-- Settings: limits and retention, one row per setting. NULL means no limit.
-- Changed by aqevent_admin (UPDATE event.settings SET value = … WHERE name = …).

CREATE TABLE event.settings (
  name  text   PRIMARY KEY
        CONSTRAINT settings_name_check CHECK (name IN ('max_sessions_per_role',
                                                       'max_subscriptions_per_session',
                                                       'max_pending_per_session',
                                                       'dead_letter_retention_seconds')),
  value bigint CONSTRAINT settings_value_check CHECK (value IS NULL OR value > 0)
);

INSERT INTO event.settings (name, value) VALUES
  ('max_sessions_per_role', 10000),
  ('max_subscriptions_per_session', 100000),
  ('max_pending_per_session', 10000000),
  ('dead_letter_retention_seconds', 1209600);

CREATE FUNCTION event._setting(setting_name text) RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT s.value FROM event.settings s WHERE s.name = setting_name);
END
$$;
