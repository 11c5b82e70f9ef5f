-- 002_event_storage: the tables behind sessions, subscriptions and the queue.
--
-- These tables are storage, not interface: use the functions in schema
-- "event" (docs/sql-reference.md). Their shape may change between versions.

CREATE SCHEMA IF NOT EXISTS event;

-- A session is a persistent inbox, owned by the role that created it.
CREATE TABLE event.session (
  id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_role       oid         NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  last_attached_at timestamptz NOT NULL DEFAULT now(),
  detached_at      timestamptz
);

-- What a session listens to. kind decides which of the other columns matter:
--   table  : relation_oid
--   row    : relation_oid, pk_values
--   field  : relation_oid, pk_values, column_name
--   column : relation_oid, column_name
-- pk_values hold the key in its canonical text form: the JSON text of the
-- value after a cast to the key column's type, as capture computes it.
CREATE TABLE event.subscription (
  id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id   uuid        NOT NULL REFERENCES event.session (id) ON DELETE CASCADE,
  kind         text        NOT NULL CHECK (kind IN ('table', 'row', 'field', 'column')),
  relation_oid oid         NOT NULL,
  target       jsonb       NOT NULL,
  pk_values    text[],
  column_name  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind IN ('row', 'field')) = (pk_values IS NOT NULL)),
  CHECK ((kind IN ('field', 'column')) = (column_name IS NOT NULL))
);

-- One subscription per session and target: subscribing twice finds it.
CREATE UNIQUE INDEX subscription_target_key ON event.subscription
  (session_id, relation_oid, kind, pk_values, column_name) NULLS NOT DISTINCT;

-- Capture looks subscriptions up by relation: whole-table grains by the
-- relation alone, row grains by relation and key. Two partial indexes keep a
-- table with 10,000 row subscriptions from scanning them to find its few
-- table subscriptions.
CREATE INDEX subscription_relation_idx ON event.subscription (relation_oid)
  WHERE pk_values IS NULL;
CREATE INDEX subscription_row_idx ON event.subscription (relation_oid, pk_values)
  WHERE pk_values IS NOT NULL;

-- One row per event per session. No foreign key: a per-row RI check would
-- be the largest cost of a bulk write. Session deletion removes its rows.
CREATE SEQUENCE event.queue_id_seq AS bigint;

CREATE TABLE event.queue (
  id              bigint      NOT NULL,
  session_id      uuid        NOT NULL,
  subscription_id uuid        NOT NULL,
  event           jsonb       NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, id)
);

ALTER SEQUENCE event.queue_id_seq OWNED BY event.queue.id;

-- What one statement queued for one session, as writers of event.queue
-- (capture, requeue) hand it to event._queued (006) for the notifications
-- and the pending cap.
CREATE TYPE event.queued_batch AS (
  session_id uuid,
  ids        bigint[],
  first_id   bigint,
  last_id    bigint
);
