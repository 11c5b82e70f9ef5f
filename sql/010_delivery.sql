-- 010_delivery: leases, acknowledgement, retries and dead letters.
--
-- A queue row is pending until acknowledged. visible_at is the end of its
-- lease or back-off: NULL (never fetched) or a past time means the row can
-- be delivered now. Every delivery increments attempts; a row fetched again
-- after max_attempts deliveries moves to event.dead_letter instead.
--
-- The columns are nullable or have constant defaults, so adding them does not
-- rewrite the table and capture writes no more than before. No new index:
-- fetch walks the (session_id, id) primary key.

ALTER TABLE event.queue
  ADD COLUMN visible_at timestamptz,
  ADD COLUMN attempts   integer NOT NULL DEFAULT 0,
  ADD COLUMN last_error text;

-- Per session: how many deliveries an event gets before it is a dead letter,
-- and the delivery order (docs/guarantees.md):
--   strict   : fetch hands out the oldest events only, and never one behind an
--              event that is leased or backing off: at most one batch of a
--              session is in flight, events come in id order (per-row order
--              holds even across retries).
--   parallel : any number of consumers take disjoint batches (SKIP LOCKED);
--              per-row order holds only for one consumer without retries.
ALTER TABLE event.session
  ADD COLUMN max_attempts   integer NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
  ADD COLUMN delivery_order text    NOT NULL DEFAULT 'strict'
    CHECK (delivery_order IN ('strict', 'parallel'));

-- Events given up on. Same identity as in the queue, so a requeued event
-- goes back to its place. Rare, so a foreign key is affordable here, and
-- deleting a session takes its dead letters with it.
CREATE TABLE event.dead_letter (
  session_id      uuid        NOT NULL REFERENCES event.session (id) ON DELETE CASCADE,
  id              bigint      NOT NULL,
  subscription_id uuid        NOT NULL,
  event           jsonb       NOT NULL,
  created_at      timestamptz NOT NULL,
  attempts        integer     NOT NULL,
  last_error      text,
  died_at         timestamptz NOT NULL DEFAULT now(),
  requeued_at     timestamptz,
  PRIMARY KEY (session_id, id)
);

-- Only capture inserts into event.queue (023_security_grants), so requeue,
-- which runs with the caller's rights, does not: it marks its dead letters
-- (row-level security decides which it may mark) and this trigger, as the
-- table owner, moves the marked ones back. Transition tables cannot be
-- combined with UPDATE OF, hence the filter on requeued_at.
CREATE FUNCTION event._requeue_marked() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  batches event.queued_batch[];
BEGIN
  WITH moved AS (
    DELETE FROM event.dead_letter d
    USING aqevent_marked m
    WHERE m.requeued_at IS NOT NULL AND d.session_id = m.session_id AND d.id = m.id
    RETURNING d.*
  ), queued AS (
    INSERT INTO event.queue (id, session_id, subscription_id, event, created_at, last_error)
    SELECT m.id, m.session_id, m.subscription_id, m.event, m.created_at, m.last_error
    FROM moved m ORDER BY m.session_id, m.id
    RETURNING session_id, id)
  -- Notified like captured events (006_event_triggers).
  SELECT array_agg(ROW(b.session_id, b.ids, b.first_id, b.last_id)::event.queued_batch) INTO batches
  FROM (SELECT q.session_id, array_agg(q.id) AS ids, min(q.id) AS first_id, max(q.id) AS last_id
        FROM queued q GROUP BY q.session_id) b;
  IF batches IS NOT NULL THEN
    PERFORM event._queued(batches);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER dead_letter_requeue AFTER UPDATE ON event.dead_letter
  REFERENCING NEW TABLE AS aqevent_marked
  FOR EACH STATEMENT EXECUTE FUNCTION event._requeue_marked();

CREATE FUNCTION event._require_ids(ids bigint[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF ids IS NULL OR array_position(ids, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'event ids must be an array of non-null ids'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
END
$$;

-- Lease up to max_events deliverable events of a session, oldest first.
-- Leased events are invisible to other fetches until now() + lease.
CREATE FUNCTION event.fetch_events(session_id uuid, max_events integer, lease interval)
RETURNS TABLE (id bigint, attempts integer, event jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- Plan with the queue's current size: a plan cached while the queue was small
-- (or never analysed) can turn a fetch into a scan of a large backlog.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
  ses event.session := event._require_session(session_id);
  ready bigint[];
  delivered integer;
BEGIN
  IF max_events IS NULL OR max_events < 1 OR max_events > 10000 THEN
    RAISE EXCEPTION 'max_events must be between 1 and 10000, not %', coalesce(max_events::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF lease IS NULL OR lease <= interval '0' THEN
    RAISE EXCEPTION 'lease must be a positive interval, not %', coalesce(lease::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  -- Exhausted events met on the way become dead letters; when a whole
  -- window was exhausted, look again, so that an empty result always means
  -- that nothing is deliverable.
  LOOP
    IF ses.delivery_order = 'strict' THEN
      -- Lock the head of the queue (waiting for, not skipping, a concurrent
      -- fetch or ack) and take the visible prefix: nothing behind an event
      -- that is still leased or backing off.
      SELECT array_agg(h.id ORDER BY h.id) INTO ready
      FROM (SELECT h.id, bool_and(h.visible) OVER (ORDER BY h.id) AS in_prefix
            FROM (SELECT q.id, (q.visible_at IS NULL OR q.visible_at <= now()) AS visible
                  FROM event.queue q
                  WHERE q.session_id = ses.id
                  ORDER BY q.id LIMIT max_events
                  FOR UPDATE) h) h
      WHERE h.in_prefix;
    ELSE
      SELECT array_agg(h.id ORDER BY h.id) INTO ready
      FROM (SELECT q.id FROM event.queue q
            WHERE q.session_id = ses.id AND (q.visible_at IS NULL OR q.visible_at <= now())
            ORDER BY q.id LIMIT max_events
            FOR UPDATE SKIP LOCKED) h;
    END IF;

    IF ready IS NULL THEN
      RETURN;
    END IF;

    RETURN QUERY
    WITH dead AS (
      DELETE FROM event.queue q
      WHERE q.session_id = ses.id AND q.id = ANY (ready) AND q.attempts >= ses.max_attempts
      RETURNING q.*
    ), buried AS (
      INSERT INTO event.dead_letter (session_id, id, subscription_id, event, created_at, attempts, last_error)
      SELECT d.session_id, d.id, d.subscription_id, d.event, d.created_at, d.attempts, d.last_error
      FROM dead d
    ), leased AS (
      UPDATE event.queue q
         SET visible_at = now() + lease, attempts = q.attempts + 1
       WHERE q.session_id = ses.id AND q.id = ANY (ready) AND q.attempts < ses.max_attempts
      RETURNING q.id, q.attempts, q.event
    )
    SELECT l.id, l.attempts, l.event FROM leased l ORDER BY l.id;
    GET DIAGNOSTICS delivered = ROW_COUNT;
    EXIT WHEN delivered > 0;
  END LOOP;
END
$$;

-- Acknowledge: the events are done and removed for good. Ids that are no
-- longer queued (acknowledged already) are ignored; returns how many went.
CREATE FUNCTION event.ack(session_id uuid, ids bigint[]) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- Plan with the queue's current size: a plan cached while the queue was small
-- (or never analysed) can turn a fetch into a scan of a large backlog.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
  done integer;
BEGIN
  PERFORM event._require_session(session_id);
  PERFORM event._require_ids(ids);
  DELETE FROM event.queue q WHERE q.session_id = ack.session_id AND q.id = ANY (ids);
  GET DIAGNOSTICS done = ROW_COUNT;
  RETURN done;
END
$$;

-- Negative acknowledgement: deliver the events again after delay (now when
-- 0), remembering error. Returns how many were still queued.
CREATE FUNCTION event.nack(session_id uuid, ids bigint[], delay interval DEFAULT interval '0',
                           error text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  done integer;
BEGIN
  PERFORM event._require_session(session_id);
  PERFORM event._require_ids(ids);
  IF delay IS NULL OR delay < interval '0' THEN
    RAISE EXCEPTION 'delay must be zero or a positive interval, not %', coalesce(delay::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE event.queue q
     SET visible_at = now() + delay, last_error = coalesce(error, q.last_error)
   WHERE q.session_id = nack.session_id AND q.id = ANY (ids);
  GET DIAGNOSTICS done = ROW_COUNT;
  RETURN done;
END
$$;

CREATE FUNCTION event.dead_letters(session_id uuid)
RETURNS TABLE (id bigint, attempts integer, last_error text, created_at timestamptz,
               died_at timestamptz, event jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  RETURN QUERY
  SELECT d.id, d.attempts, d.last_error, d.created_at, d.died_at, d.event
  FROM event.dead_letter d
  WHERE d.session_id = dead_letters.session_id
  ORDER BY d.id;
END
$$;

-- Move dead letters back into the queue, at their old place, with a fresh
-- attempt count. NULL ids: all of the session's. Unknown ids are an error
-- and nothing moves.
CREATE FUNCTION event.requeue(session_id uuid, ids bigint[] DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  missing bigint;
  moved integer;
BEGIN
  PERFORM event._require_session(session_id);
  IF ids IS NOT NULL THEN
    PERFORM event._require_ids(ids);
    SELECT i INTO missing FROM unnest(ids) AS i
    WHERE NOT EXISTS (SELECT 1 FROM event.dead_letter d
                      WHERE d.session_id = requeue.session_id AND d.id = i)
    LIMIT 1;
    IF missing IS NOT NULL THEN
      RAISE EXCEPTION 'event % is not a dead letter of session "%"', missing, session_id
        USING ERRCODE = 'undefined_object';
    END IF;
  END IF;
  UPDATE event.dead_letter d SET requeued_at = now()
  WHERE d.session_id = requeue.session_id AND (ids IS NULL OR d.id = ANY (ids));
  GET DIAGNOSTICS moved = ROW_COUNT;
  RETURN moved;
END
$$;

CREATE FUNCTION event.set_max_attempts(session_id uuid, max_attempts integer) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  IF max_attempts IS NULL OR max_attempts < 1 THEN
    RAISE EXCEPTION 'max_attempts must be at least 1, not %', coalesce(max_attempts::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE event.session s SET max_attempts = set_max_attempts.max_attempts
  WHERE s.id = set_max_attempts.session_id;
END
$$;

CREATE FUNCTION event.set_delivery_order(session_id uuid, delivery_order text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  IF delivery_order IS NULL OR delivery_order NOT IN ('strict', 'parallel') THEN
    RAISE EXCEPTION 'delivery_order must be ''strict'' or ''parallel'', not %',
      coalesce(quote_literal(delivery_order), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE event.session s SET delivery_order = set_delivery_order.delivery_order
  WHERE s.id = set_delivery_order.session_id;
END
$$;

-- Per visible session: events ready now (backlog), leased or backing off
-- (in_flight), dead letters, and the age of its oldest queued event.
CREATE FUNCTION event.stats()
RETURNS TABLE (session_id uuid, backlog bigint, in_flight bigint, dead bigint,
               oldest_age interval, max_attempts integer, delivery_order text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT s.id,
         coalesce(q.backlog, 0), coalesce(q.in_flight, 0), coalesce(d.dead, 0),
         now() - q.oldest, s.max_attempts, s.delivery_order
  FROM event.session s
  LEFT JOIN (SELECT q.session_id,
                    count(*) FILTER (WHERE q.visible_at IS NULL OR q.visible_at <= now()) AS backlog,
                    count(*) FILTER (WHERE q.visible_at > now()) AS in_flight,
                    min(q.created_at) AS oldest
             FROM event.queue q GROUP BY q.session_id) q ON q.session_id = s.id
  LEFT JOIN (SELECT d.session_id, count(*) AS dead
             FROM event.dead_letter d GROUP BY d.session_id) d ON d.session_id = s.id
  ORDER BY s.created_at, s.id
$$;
