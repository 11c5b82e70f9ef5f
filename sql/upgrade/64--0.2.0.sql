-- Upgrade from the numbered migrations (001–064, recorded in event.migration)
-- to 0.2.0, the first version installed from sql/install.sql.
--
-- 0.2.0 stores changes once in a shared log and makes each session's events
-- when it is read. Everything a session has is carried over unchanged: its
-- pending and leased events (with their ids, attempts, leases and last
-- errors, as the JSON they would have been delivered with), its dead letters,
-- its subscriptions and settings. The old schemas are dropped and the
-- current schema installed, then the saved state is put back.
-- Run in one transaction (aqevent migrate does).

DO $$
BEGIN
  IF (SELECT max(version) FROM event.migration) IS DISTINCT FROM 64 THEN
    RAISE EXCEPTION 'this upgrade starts from migration 64, not %', (SELECT max(version) FROM event.migration)
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_depend d
             JOIN pg_type t ON d.refclassid = 'pg_type'::regclass AND d.refobjid = t.oid
             WHERE t.typnamespace = 'meta'::regnamespace
               AND d.classid = 'pg_class'::regclass
               AND (SELECT c.relnamespace FROM pg_class c WHERE c.oid = d.objid)
                   NOT IN ('meta'::regnamespace, 'event'::regnamespace)) THEN
    RAISE EXCEPTION 'objects outside schemas event and meta use meta''s types; the upgrade would drop them'
      USING ERRCODE = 'dependent_objects_still_exist';
  END IF;
END
$$;

CREATE TEMP TABLE aqevent_up_session ON COMMIT DROP AS SELECT * FROM event.session;
CREATE TEMP TABLE aqevent_up_subscription ON COMMIT DROP AS SELECT * FROM event.subscription;
CREATE TEMP TABLE aqevent_up_settings ON COMMIT DROP AS SELECT * FROM event.settings;
CREATE TEMP TABLE aqevent_up_dead_letter ON COMMIT DROP AS SELECT * FROM event.dead_letter;
CREATE TEMP TABLE aqevent_up_pending ON COMMIT DROP AS
  SELECT q.session_id, q.id, q.subscription_id, event._render(q) AS event, q.created_at, q.visible_at,
         q.attempts, q.last_error
  FROM event.queue q
  UNION ALL
  SELECT c.session_id, e.id, c.subscription_id, event._render(e), c.created_at, NULL::timestamptz, 0, NULL::text
  FROM event.capture c CROSS JOIN LATERAL event._explode(c, c.next_row, c.row_count) e;
CREATE TEMP TABLE aqevent_up_ids ON COMMIT DROP AS
  SELECT greatest((SELECT last_value FROM event.queue_id_seq),
                  (SELECT max(id) FROM aqevent_up_pending), (SELECT max(id) FROM aqevent_up_dead_letter), 1) AS next_id;

-- The old capture triggers on users' tables.
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT tg.tgrelid::regclass AS rel, tg.tgname FROM pg_trigger tg
    JOIN pg_proc p ON p.oid = tg.tgfoid
    WHERE p.pronamespace = 'event'::regnamespace
      AND tg.tgrelid NOT IN (SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'event'::regnamespace)
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.rel);
  END LOOP;
END
$$;

DROP SCHEMA event CASCADE;
DROP SCHEMA meta CASCADE;

\ir ../install.sql

UPDATE event.settings s SET value = o.value FROM aqevent_up_settings o WHERE o.name = s.name;

INSERT INTO event.session (id, owner_role, created_at, last_attached_at, detached_at, ttl, max_attempts,
                           delivery_order, notify_payload, overflowed_at, overflow_event_id, events_dropped, pending)
SELECT o.id, o.owner_role, o.created_at, o.last_attached_at, o.detached_at, o.ttl, o.max_attempts,
       o.delivery_order, o.notify_payload, o.overflowed_at, o.overflow_event_id, o.events_dropped,
       (SELECT count(*) FROM aqevent_up_pending p WHERE p.session_id = o.id)
FROM aqevent_up_session o;

-- Row and field keys in 0.2's canonical form (the output text under fixed settings).
INSERT INTO event.subscription (id, session_id, kind, relation_oid, target, pk_values, column_name, created_at)
SELECT o.id, o.session_id, o.kind, o.relation_oid, o.target,
       CASE o.kind WHEN 'row' THEN event._canonical_key(o.relation_oid, o.target::meta.row_id)
                   WHEN 'field' THEN event._canonical_key(o.relation_oid, (o.target -> 'row_id')::meta.row_id) END,
       o.column_name, o.created_at
FROM aqevent_up_subscription o
WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = o.relation_oid)
ORDER BY o.created_at, o.id;

INSERT INTO event.inbox (session_id, id, subscription_id, subscription_type, operation, event, transaction_id,
                         created_at, visible_at, attempts, last_error)
SELECT p.session_id, p.id, p.subscription_id, p.event ->> 'subscription_type', p.event ->> 'operation', p.event,
       (p.event ->> 'transaction_id')::bigint, p.created_at, p.visible_at, p.attempts, p.last_error
FROM aqevent_up_pending p
ORDER BY p.session_id, p.id;

INSERT INTO event.dead_letter (session_id, id, subscription_id, event, created_at, attempts, last_error, died_at,
                               requeued_at)
SELECT o.session_id, o.id, o.subscription_id, o.event, o.created_at, o.attempts, o.last_error, o.died_at,
       o.requeued_at
FROM aqevent_up_dead_letter o;

SELECT setval('event.event_id_seq', (SELECT next_id FROM aqevent_up_ids));
