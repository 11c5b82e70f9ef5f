-- Schemas and roles.
--
-- meta: identifiers (and, later, the catalog views). event: sessions,
-- subscriptions, capture, delivery. aqevent_user may create and use its own
-- sessions; aqevent_admin may use every session and change event.settings.
-- Roles are cluster-wide: another database's install may have made them.

CREATE SCHEMA IF NOT EXISTS meta;
CREATE SCHEMA IF NOT EXISTS event;

DO $$
DECLARE
  wanted text;
BEGIN
  FOREACH wanted IN ARRAY ARRAY['aqevent_user', 'aqevent_admin'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = wanted) THEN
      BEGIN
        EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', wanted);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- another database's install created it first
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
