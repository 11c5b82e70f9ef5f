-- 061_capture_admission: which sessions may take a statement's events (the
-- pending-event cap of 021, for chunks), and the notifications that tell
-- them something arrived.

-- What one statement would capture for one session.
CREATE TYPE event.capture_want AS (session_id uuid, rows bigint);

-- A chunk a statement captured, as its notification needs it.
CREATE TYPE event.captured_chunk AS (
  session_id uuid,
  id         bigint,
  row_count  integer,
  last_id    bigint   -- the highest id its events can have
);

-- The primary key of a table, its columns in key order (NULL: none),
-- found by the index on pg_index.indrelid (051 scanned pg_constraint, which
-- has no index the generic plan would use). Inlined where it is called.
-- COLLATE "default": attname is a name (collation "C").
CREATE FUNCTION event._capture_key(relid oid) RETURNS TABLE (pk text[])
LANGUAGE sql STABLE
AS $$
  SELECT (SELECT pg_catalog.array_agg(a.attname::text COLLATE "default" ORDER BY k.ord)
          FROM pg_catalog.pg_index i
          CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = relid AND i.indisprimary)
$$;

-- 051's capture target, with the key of _capture_key: one definition of a
-- table's key for every capture path.
CREATE OR REPLACE FUNCTION event._capture_target(relid oid)
RETURNS TABLE (pk text[], has_table_subscriptions boolean, has_row_subscriptions boolean)
LANGUAGE sql STABLE
AS $$
  SELECT k.pk,
         -- ORDER BY ... LIMIT 1 in the order of the partial indexes: a
         -- generic plan would otherwise happily seq-scan 10,000 row
         -- subscriptions of this table (or all tables) for EXISTS.
         (SELECT s.relation_oid FROM event.subscription s
          WHERE s.relation_oid = relid AND s.pk_values IS NULL
          ORDER BY s.relation_oid LIMIT 1) IS NOT NULL,
         (SELECT s.relation_oid FROM event.subscription s
          WHERE s.relation_oid = relid AND s.pk_values IS NOT NULL
          ORDER BY s.relation_oid, s.pk_values LIMIT 1) IS NOT NULL
  FROM event._capture_key(relid) k
$$;

-- Rows as an owner may see them: without the hidden columns, but for the
-- key columns (062). Called only when something is hidden.
CREATE FUNCTION event._visible_rows(rows_in jsonb[], hidden text[], pk text[]) RETURNS jsonb[]
LANGUAGE sql IMMUTABLE
AS $$
  SELECT ARRAY(SELECT u.r OPERATOR(pg_catalog.-)
                      ARRAY(SELECT h FROM pg_catalog.unnest(hidden) AS h
                            WHERE h OPERATOR(pg_catalog.<>) ALL (coalesce(pk, '{}')))
               FROM pg_catalog.unnest(rows_in) WITH ORDINALITY AS u(r, o)
               ORDER BY u.o)
$$;

-- What the pending cap needs to know of a session. Its chunks carry a
-- running count of the rows captured for it (pending_through): base is the
-- newest chunk's, which the next chunks continue from (0 when it has none),
-- and pending is base minus what the oldest chunk still there says was
-- captured before its unread rows. Two index lookups instead of a count.
CREATE FUNCTION event._admission(session_id uuid)
RETURNS TABLE (base bigint, pending bigint, overflowed boolean, notify_payload text)
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(newest.pending_through, 0),
         coalesce(newest.pending_through OPERATOR(pg_catalog.-) oldest.read_through, 0),
         x.overflowed_at IS NOT NULL, x.notify_payload
  FROM event.session x
  LEFT JOIN LATERAL (SELECT c.pending_through FROM event.capture c
                     WHERE c.session_id = x.id ORDER BY c.id DESC LIMIT 1) newest ON true
  LEFT JOIN LATERAL (SELECT c.pending_through OPERATOR(pg_catalog.-) c.row_count OPERATOR(pg_catalog.+) c.next_row
                            AS read_through
                     FROM event.capture c
                     WHERE c.session_id = x.id ORDER BY c.id LIMIT 1) oldest ON true
  WHERE x.id = _admission.session_id
$$;

-- May a session take rows more? Not when overflowed, nor past the cap
-- (NULL: no cap). The rule of event._admit and of capture's one-statement
-- path (062). Inlined.
CREATE FUNCTION event._may_take(overflowed boolean, pending bigint, rows bigint, cap bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
  SELECT NOT overflowed AND (cap IS NULL OR pending OPERATOR(pg_catalog.+) rows OPERATOR(pg_catalog.<=) cap)
$$;

-- The cap counts captured rows not yet made into events (event._admission).
-- Writers that run at the same time each count from the newest chunk
-- committed before them, so concurrent writers may take a session a little
-- past its cap; never does a writer wait for another to count.
--
-- The sessions of wanted that may take their rows, each with the running
-- count its new chunks continue from. A session that is overflowed, or
-- that the rows would take past max_pending_per_session, is left out:
-- marked overflowed with one "overflow" marker event (the first time), or
-- its events_dropped counted (after that). A writer never fails and never
-- waits because of this (021's contract, unchanged).
CREATE FUNCTION event._admit(wanted event.capture_want[])
RETURNS TABLE (session_id uuid, base bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cap bigint := (SELECT x.value FROM event.settings x WHERE x.name = 'max_pending_per_session');
  tx bigint := pg_current_xact_id()::text::bigint;
  s record;
  marker bigint;
  first_subscription uuid;
BEGIN
  FOR s IN
    SELECT w.session_id, w.rows, a.overflowed, a.base,
           event._may_take(a.overflowed, a.pending, w.rows, cap) AS fits
    FROM unnest(wanted) w
    -- A session deleted meanwhile takes nothing.
    CROSS JOIN LATERAL event._admission(w.session_id) a
    ORDER BY w.session_id
  LOOP
    IF s.fits THEN
      session_id := s.session_id;
      base := s.base;
      RETURN NEXT;
      CONTINUE;
    END IF;
    BEGIN
      IF s.overflowed THEN
        -- The count is best effort (a lower bound): never wait for it.
        BEGIN
          UPDATE event.session x SET events_dropped = x.events_dropped + s.rows
           WHERE x.id = (SELECT y.id FROM event.session y WHERE y.id = s.session_id
                         FOR NO KEY UPDATE SKIP LOCKED);
        EXCEPTION WHEN serialization_failure THEN
          NULL;
        END;
        CONTINUE;
      END IF;
      -- First overflow: the session row is taken without waiting. If another
      -- transaction holds it, this statement's events are captured (the cap
      -- is exceeded a little) rather than a writer waiting.
      PERFORM 1 FROM event.session x WHERE x.id = s.session_id FOR NO KEY UPDATE SKIP LOCKED;
      IF NOT FOUND THEN
        session_id := s.session_id;
        base := s.base;
        RETURN NEXT;
        CONTINUE;
      END IF;
      first_subscription := (SELECT sub.id FROM event.subscription sub
                             WHERE sub.session_id = s.session_id ORDER BY sub.created_at, sub.id LIMIT 1);
      marker := nextval('event.queue_id_seq');
      UPDATE event.session x
         SET overflowed_at = now(), overflow_event_id = marker, events_dropped = s.rows
       WHERE x.id = s.session_id;
      INSERT INTO event.queue (id, session_id, subscription_id, event)
      VALUES (marker, s.session_id, first_subscription,
              jsonb_build_object('id', marker, 'operation', 'overflow',
                                 'subscription_id', first_subscription,
                                 'max_pending', cap, 'transaction_id', tx, 'timestamp', now()));
      PERFORM event._queued(ARRAY[ROW(s.session_id, ARRAY[marker], marker, marker)::event.queued_batch]);
    EXCEPTION WHEN OTHERS THEN
      -- e.g. a REPEATABLE READ writer meeting a concurrent update of the
      -- session row: keep the events rather than fail the writer.
      RAISE WARNING 'aqevent: pending-event limit not applied to session %: % (SQLSTATE %)',
        s.session_id, SQLERRM, SQLSTATE;
      session_id := s.session_id;
      base := s.base;
      RETURN NEXT;
    END;
  END LOOP;
END
$$;

-- Notifications for rows written straight into event.queue (truncate
-- events, overflow markers, requeued dead letters): 006's contract, 052's
-- rendering; the pending cap is event._admit's now.
CREATE OR REPLACE FUNCTION event._queued(batches event.queued_batch[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._notify(x.channel, x.payload)
  FROM (
    SELECT q.session_id::text AS channel, event._notification(ses.notify_payload, q.id, q.event) AS payload, q.id
    FROM unnest(batches) b
    CROSS JOIN LATERAL (SELECT x.notify_payload FROM event.session x
                        WHERE x.id = b.session_id OFFSET 0) ses
    CROSS JOIN LATERAL unnest(b.ids) i(id)
    -- By key, one index lookup per event: OFFSET 0 keeps a generic plan
    -- from hashing every queued event of the session instead.
    CROSS JOIN LATERAL (SELECT q.id, q.session_id, event._render(q) AS event FROM event.queue q
                        WHERE q.session_id = b.session_id AND q.id = i.id OFFSET 0) q
    WHERE cardinality(b.ids) <= 100
    UNION ALL
    SELECT b.session_id::text, event._batch_notification(b.first_id, b.last_id, cardinality(b.ids)), b.last_id
    FROM unnest(batches) b
    WHERE cardinality(b.ids) > 100
    ORDER BY 3
  ) x;
END
$$;

-- Every notification goes through here: NOTIFY on the session's channel.
-- (One place, so that the benchmark can measure capture without it.)
CREATE FUNCTION event._notify(channel text, payload text) RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT pg_catalog.pg_notify(channel, payload) $$;

-- The payload that announces one event (docs/concepts.md, Notifications).
-- PL/pgSQL: a SQL function would not be inlined (it reads event three
-- times) and would go through the SQL-function executor at every call. No
-- SET clause (a configuration change per event); every name qualified.
CREATE FUNCTION event._notification(notify_payload text, id bigint, event jsonb) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF notify_payload OPERATOR(pg_catalog.=) 'id' THEN
    RETURN pg_catalog.jsonb_build_object('id', id, 'operation', event OPERATOR(pg_catalog.->) 'operation')::text;
  ELSIF pg_catalog.octet_length(event::text) OPERATOR(pg_catalog.<) 7900 THEN
    RETURN event::text;
  END IF;
  RETURN pg_catalog.jsonb_build_object('id', id, 'operation', event OPERATOR(pg_catalog.->) 'operation',
                                       'compact', true)::text;
END
$$;

-- The payload that announces many events at once.
CREATE FUNCTION event._batch_notification(first_id bigint, last_id bigint, count bigint) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT pg_catalog.jsonb_build_object('operation', 'batch', 'first_id', first_id,
                                       'last_id', last_id, 'count', count)::text
$$;

-- Notifications for a statement's chunks. A session with at most 100 rows
-- in them is told each event (its chunks read back by key and made into
-- events); if those are more than 100 events (an update of many columns),
-- or the session got more than 100 rows, it gets one batch notification:
-- first_id and last_id bound the ids of the statement's events, count is
-- their number -- for an update of more than 100 rows, the number of rows
-- (each may be several field_updates, or none).
CREATE FUNCTION event._notify_captured(chunks event.captured_chunk[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._notify(x.channel, x.payload)
  FROM (
    WITH per_session AS (
      SELECT ch.session_id, sum(ch.row_count) AS rows, min(ch.id) AS first_id, max(ch.last_id) AS last_id
      FROM unnest(chunks) ch GROUP BY ch.session_id
    ), small AS MATERIALIZED (
      SELECT e.session_id, e.id, event._render(e) AS event
      FROM per_session p
      CROSS JOIN LATERAL unnest(chunks) ch
      -- By key: the chunks this statement just wrote.
      CROSS JOIN LATERAL (SELECT c FROM event.capture c
                          WHERE c.session_id = ch.session_id AND c.id = ch.id OFFSET 0) c
      CROSS JOIN LATERAL event._explode(c.c, 0, ch.row_count) e
      WHERE p.rows <= 100 AND ch.session_id = p.session_id
    ), small_counts AS (
      SELECT s.session_id, count(*) AS n, min(s.id) AS first_id, max(s.id) AS last_id
      FROM small s GROUP BY s.session_id
    )
    SELECT s.session_id::text AS channel, event._notification(ses.notify_payload, s.id, s.event) AS payload,
           s.session_id, s.id
    FROM small s
    JOIN small_counts n ON n.session_id = s.session_id AND n.n <= 100
    CROSS JOIN LATERAL (SELECT x.notify_payload FROM event.session x
                        WHERE x.id = s.session_id OFFSET 0) ses
    UNION ALL
    SELECT n.session_id::text, event._batch_notification(n.first_id, n.last_id, n.n), n.session_id, n.last_id
    FROM small_counts n WHERE n.n > 100
    UNION ALL
    SELECT p.session_id::text, event._batch_notification(p.first_id, p.last_id, p.rows), p.session_id, p.last_id
    FROM per_session p WHERE p.rows > 100
    ORDER BY 3, 4
  ) x;
END
$$;
