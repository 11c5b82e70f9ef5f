-- 063_capture_expansion: reading captured chunks (060-062).
--
-- A fetch first makes the head of the session's chunks into event.queue
-- rows -- as many rows as the fetch lacks deliverable events -- and then
-- leases from event.queue exactly as before: leases, acks, nacks, attempts,
-- dead letters and requeue only ever deal with event.queue rows. peek,
-- stats and the view event.pending_event read the chunks as events without
-- changing them.
--
-- Expansion runs with the reader's rights: fetch_events (SECURITY INVOKER)
-- moves a chunk's next_row forward, which row-level security allows for the
-- reader's own sessions only, and a trigger running as the owner of the
-- event tables turns the rows passed over into queue rows (as requeue does
-- with dead letters: nobody but capture and these triggers inserts events).

-- The rows a reader moved next_row over become queue rows: leased until
-- lease_until when the reader set it (attempt 1), deliverable otherwise. A
-- chunk whose every row went is deleted. One statement: a fetch pays for
-- every statement here.
CREATE FUNCTION event._expand_marked() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
-- Called from fetch_events, whose custom plans (planned at every call)
-- would apply here too: these statements do not depend on the queue's size.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  backwards bigint;
BEGIN
  WITH made AS (
    INSERT INTO event.queue
    SELECT e.id, e.session_id, e.subscription_id, e.event, e.created_at, n.lease_until,
           CASE WHEN n.lease_until IS NULL THEN 0 ELSE 1 END, e.last_error, e.operation,
           e.subscription_type, e.relation_schema, e.relation_name, e.pk_columns, e.pk_values, e.column_name,
           e.payload, e.old_value, e.transaction_id
    FROM aqevent_old_chunks o
    JOIN aqevent_new_chunks n ON n.session_id = o.session_id AND n.id = o.id
    CROSS JOIN LATERAL event._explode(n, o.next_row, n.next_row) e
    WHERE n.next_row > o.next_row AND n.next_row <= n.row_count
  ), read AS (
    DELETE FROM event.capture c
     USING aqevent_new_chunks n
     WHERE c.session_id = n.session_id AND c.id = n.id AND n.next_row = n.row_count
  )
  SELECT count(*) INTO backwards
  FROM aqevent_old_chunks o
  JOIN aqevent_new_chunks n ON n.session_id = o.session_id AND n.id = o.id
  WHERE n.next_row < o.next_row OR n.next_row > n.row_count;
  IF backwards > 0 THEN
    RAISE EXCEPTION 'next_row of event.capture only moves forward, up to row_count'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER capture_expand AFTER UPDATE ON event.capture
  REFERENCING OLD TABLE AS aqevent_old_chunks NEW TABLE AS aqevent_new_chunks
  FOR EACH STATEMENT EXECUTE FUNCTION event._expand_marked();

-- Make up to max_rows captured rows of a session into queue rows, from its
-- oldest chunk on, leased until lease_until (NULL: deliverable). Returns
-- the id ranges the new queue rows lie in, in order (none: nothing was
-- captured). A concurrent fetch holding the head chunks is waited for, in
-- either delivery order: a fetch's transaction is short, and a consumer
-- that skipped the one chunk of a bulk statement would find nothing while
-- there is plenty.
CREATE FUNCTION event._expand(ses event.session, max_rows integer, lease_until timestamptz)
RETURNS int8range[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- A range scan of the session's oldest chunks whatever their number: planned
-- once, not at every fetch as fetch_events' own statements are.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  ranges int8range[];
BEGIN
  WITH head AS (
    SELECT c.id, c.row_count - c.next_row AS rows_left
    FROM event.capture c WHERE c.session_id = ses.id
    ORDER BY c.id LIMIT max_rows
    FOR UPDATE
  ), take AS (
    SELECT h.id, least(h.rows_left, max_rows - (sum(h.rows_left) OVER (ORDER BY h.id) - h.rows_left)) AS n
    FROM head h
  ), marked AS (
    UPDATE event.capture c SET next_row = c.next_row + t.n, lease_until = _expand.lease_until
      FROM take t
     WHERE c.session_id = ses.id AND c.id = t.id AND t.n > 0
    -- An update chunk numbers its events row * columns + column.
    RETURNING c.id + (c.next_row - t.n) * coalesce(cardinality(c.columns), 1) AS first_id,
              c.id + c.next_row * coalesce(cardinality(c.columns), 1) AS end_id
  )
  SELECT array_agg(int8range(m.first_id, m.end_id) ORDER BY m.first_id) INTO ranges FROM marked m;
  RETURN coalesce(ranges, '{}');
END
$$;

-- The head of a session's queue: is its first event leased or backing off
-- (strict order then delivers nothing), and how many events (up to
-- max_events) are deliverable. Index scans of the (session_id, id) key
-- whatever the queue's size, planned once: fetch_events plans its own
-- statements at every call, 0.1 ms each, which a fetch of the few events
-- of a live consumer notices.
-- (PL/pgSQL, which keeps its plans for the session: a SQL function with SET
-- clauses is planned at every call.)
CREATE FUNCTION event._queue_head(session_id uuid, max_events integer,
                                  OUT blocked boolean, OUT deliverable integer)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
BEGIN
  blocked := coalesce((SELECT q.visible_at > now() FROM event.queue q WHERE q.session_id = _queue_head.session_id
                       ORDER BY q.session_id, q.id LIMIT 1), false);
  deliverable := (SELECT count(*) FROM (SELECT 1 FROM event.queue q
                                        WHERE q.session_id = _queue_head.session_id
                                          AND (q.visible_at IS NULL OR q.visible_at <= now())
                                        ORDER BY q.session_id, q.id LIMIT max_events) v);
END
$$;

-- The queue rows in the given id ranges of a session (what _expand just
-- made, leased), with their JSON, in id order; planned once (see above).
CREATE FUNCTION event._leased_events(session_id uuid, ranges int8range[])
RETURNS TABLE (id bigint, attempts integer, event jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
BEGIN
  RETURN QUERY
  SELECT (x.q).id, (x.q).attempts, event._render(x.q)
  FROM unnest(ranges) r
  CROSS JOIN LATERAL (SELECT q FROM event.queue q
                      WHERE q.session_id = _leased_events.session_id
                        AND q.id >= lower(r) AND q.id < upper(r)) x(q)
  ORDER BY 1;
END
$$;

-- 052's fetch_events, reading the captured rows too. When the session has
-- no deliverable queue row, its oldest captured rows are made into queue
-- rows already leased to this fetch and returned (one insert per event, as
-- a captured event used to cost when it was written, instead of an insert
-- and an update). Otherwise they are first made into deliverable queue rows,
-- as many as the fetch lacks, and leased from the queue as before. In
-- strict order nothing is read while the head of the queue is leased or
-- backing off: nothing behind it could be delivered.
CREATE OR REPLACE FUNCTION event.fetch_events(session_id uuid, max_events integer, lease interval)
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
  deliverable integer;
  expanded int8range[];
  head record;
BEGIN
  IF max_events IS NULL OR max_events < 1 OR max_events > 10000 THEN
    RAISE EXCEPTION 'max_events must be between 1 and 10000, not %', coalesce(max_events::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF lease IS NULL OR lease <= interval '0' THEN
    RAISE EXCEPTION 'lease must be a positive interval, not %', coalesce(lease::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  -- Strict order: one fetch of the session at a time, so that the second
  -- sees the lease the first took (the head check below) rather than
  -- leasing captured rows behind it.
  IF ses.delivery_order = 'strict' THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(ses.id::text, 7021933452185600002));
  END IF;

  -- Exhausted events met on the way become dead letters, and captured rows
  -- may hold no event (an update that changed nothing a subscription sees):
  -- look again then, so that an empty result always means that nothing is
  -- deliverable.
  LOOP
    SELECT * INTO head FROM event._queue_head(ses.id, max_events);
    IF ses.delivery_order = 'strict' AND head.blocked THEN
      RETURN;
    END IF;
    deliverable := head.deliverable;
    expanded := '{}';
    IF deliverable = 0 THEN
      expanded := event._expand(ses, max_events, now() + lease);
      EXIT WHEN expanded = '{}';
      RETURN QUERY SELECT * FROM event._leased_events(ses.id, expanded);
      GET DIAGNOSTICS delivered = ROW_COUNT;
      EXIT WHEN delivered > 0;
      CONTINUE;
    ELSIF deliverable < max_events THEN
      expanded := event._expand(ses, max_events - deliverable, NULL);
    END IF;

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
      EXIT WHEN expanded = '{}';
      CONTINUE;
    END IF;

    RETURN QUERY
    WITH dead AS (
      DELETE FROM event.queue q
      WHERE q.session_id = ses.id AND q.id = ANY (ready) AND q.attempts >= ses.max_attempts
      RETURNING q.session_id, q.id, q.subscription_id, event._render(q) AS event, q.created_at,
                q.attempts, q.last_error
    ), buried AS (
      INSERT INTO event.dead_letter (session_id, id, subscription_id, event, created_at, attempts, last_error)
      SELECT d.session_id, d.id, d.subscription_id, d.event, d.created_at, d.attempts, d.last_error
      FROM dead d
    ), leased AS (
      UPDATE event.queue q
         SET visible_at = now() + lease, attempts = q.attempts + 1
       WHERE q.session_id = ses.id AND q.id = ANY (ready) AND q.attempts < ses.max_attempts
      RETURNING q.id, q.attempts, event._render(q) AS event
    )
    SELECT l.id, l.attempts, l.event FROM leased l ORDER BY l.id;
    GET DIAGNOSTICS delivered = ROW_COUNT;
    EXIT WHEN delivered > 0;
  END LOOP;
END
$$;

-- Captured events of a session with ids above after_id (all: NULL), in id
-- order, at most max_events, read without changing anything: for peek.
CREATE FUNCTION event._captured_events(session_id uuid, after_id bigint, max_events integer)
RETURNS SETOF event.queue
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  c event.capture;
  got integer := 0;
  n integer;
BEGIN
  FOR c IN
    SELECT * FROM event.capture x
    WHERE x.session_id = _captured_events.session_id
      AND (after_id IS NULL OR x.id > after_id - 1048576)
    ORDER BY x.id
  LOOP
    RETURN QUERY
    SELECT * FROM event._explode(c, c.next_row, c.row_count) e
    WHERE after_id IS NULL OR e.id > after_id
    ORDER BY e.id
    LIMIT max_events - got;
    GET DIAGNOSTICS n = ROW_COUNT;
    got := got + n;
    EXIT WHEN got >= max_events;
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION event.peek(session_id uuid, max_events integer, after_id bigint DEFAULT NULL)
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
  SELECT (x.q).id, (x.q).attempts, (x.q).visible_at, event._render(x.q)
  FROM ((SELECT q FROM event.queue q
         WHERE q.session_id = ses.id AND (after_id IS NULL OR q.id > after_id)
         ORDER BY q.id LIMIT max_events)
        UNION ALL
        SELECT e FROM event._captured_events(ses.id, after_id, max_events) e) x(q)
  ORDER BY (x.q).id
  LIMIT max_events;
END
$$;

-- Every pending event with its JSON: the queue's rows and the captured
-- rows not yet fetched.
CREATE OR REPLACE VIEW event.pending_event WITH (security_invoker = true) AS
  SELECT q.session_id, q.id, q.subscription_id, event._render(q) AS event,
         q.created_at, q.visible_at, q.attempts, q.last_error
  FROM event.queue q
  UNION ALL
  SELECT c.session_id, e.id, c.subscription_id, event._render(e), c.created_at,
         NULL::timestamptz, 0, NULL::text
  FROM event.capture c
  CROSS JOIN LATERAL event._explode(c, c.next_row, c.row_count) e;

-- Captured events not yet fetched count as backlog.
CREATE OR REPLACE FUNCTION event.stats()
RETURNS TABLE (session_id uuid, backlog bigint, in_flight bigint, dead bigint,
               oldest_age interval, max_attempts integer, delivery_order text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT s.id,
         coalesce(q.backlog, 0) + coalesce(c.backlog, 0), coalesce(q.in_flight, 0), coalesce(d.dead, 0),
         now() - least(q.oldest, c.oldest), s.max_attempts, s.delivery_order
  FROM event.session s
  LEFT JOIN (SELECT q.session_id,
                    count(*) FILTER (WHERE q.visible_at IS NULL OR q.visible_at <= now()) AS backlog,
                    count(*) FILTER (WHERE q.visible_at > now()) AS in_flight,
                    min(q.created_at) AS oldest
             FROM event.queue q GROUP BY q.session_id) q ON q.session_id = s.id
  LEFT JOIN (SELECT c.session_id,
                    sum(CASE WHEN c.operation = 'update'
                             THEN (SELECT count(*) FROM event._explode(c, c.next_row, c.row_count))
                             ELSE c.row_count - c.next_row END)::bigint AS backlog,
                    min(c.created_at) AS oldest
             FROM event.capture c GROUP BY c.session_id) c ON c.session_id = s.id
  LEFT JOIN (SELECT d.session_id, count(*) AS dead
             FROM event.dead_letter d GROUP BY d.session_id) d ON d.session_id = s.id
  ORDER BY s.created_at, s.id
$$;

-- 003's session_delete: the captured rows go too.
CREATE OR REPLACE FUNCTION event.session_delete(session_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  DELETE FROM event.capture c WHERE c.session_id = session_delete.session_id;
  DELETE FROM event.queue q WHERE q.session_id = session_delete.session_id;
  DELETE FROM event.session s WHERE s.id = session_delete.session_id;
  IF event.current_session() = session_id THEN
    PERFORM event._set_current_session(NULL);
  END IF;
END
$$;

DROP FUNCTION event._pending_exceeds(uuid, bigint);
