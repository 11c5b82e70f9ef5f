-- Delivery: leasing, acknowledging and reading a session's events.
--
-- Every function here runs with the caller's rights: row-level security on
-- event.session decides which sessions a role may use, and a session that is
-- not the caller's is reported as missing (42704). Each first lets the
-- session's reader collect what committed since (collect.sql), then works on
-- event.inbox, then renders the JSON as the caller (render.sql).
-- Semantics: docs/guarantees.md.
--
-- Those that walk a session's inbox plan without sequential or bitmap scans:
-- with event.inbox's statistics stale (autovacuum off, or not yet run), a
-- bitmap scan of all the session's rows and a sort would be chosen for
-- "its oldest n", making each fetch of a large backlog read all of it.

-- Collect, unless this transaction is read-only (then read what is there).
CREATE FUNCTION event._sync(session_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF current_setting('transaction_read_only') = 'on' THEN
    RETURN;
  END IF;
  PERFORM event._collect(session_id);
END
$$;

-- Collects the sessions of session_ids the caller may use, in one pass.
CREATE FUNCTION event._sync_many(session_ids uuid[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF current_setting('transaction_read_only') = 'on' THEN
    RETURN;
  END IF;
  PERFORM event._collect_many(session_ids);
END
$$;

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

CREATE FUNCTION event._require_max_events(max_events integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF max_events IS NULL OR max_events < 1 OR max_events > 10000 THEN
    RAISE EXCEPTION 'max_events must be between 1 and 10000, not %', coalesce(max_events::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$$;

CREATE FUNCTION event._require_lease(lease interval) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF lease IS NULL OR lease <= interval '0' THEN
    RAISE EXCEPTION 'lease must be a positive interval, not %', coalesce(lease::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$$;

-- Leases up to max_events deliverable events, oldest first. In strict order
-- only a prefix with nothing leased before it; in parallel order any.
-- The least and the greatest of ids: bounds that keep an index scan of a
-- session's inbox to the range the ids are in (an "= ANY" of many ids is
-- planned as a filter over all the session's rows).
CREATE FUNCTION event._min_id(ids bigint[]) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.min(i) FROM pg_catalog.unnest(ids) AS i $$;

CREATE FUNCTION event._max_id(ids bigint[]) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.max(i) FROM pg_catalog.unnest(ids) AS i $$;

CREATE FUNCTION event.fetch_events(session_id uuid, max_events integer, lease interval)
RETURNS TABLE (id bigint, attempts integer, event jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
  ses event.session := event._require_session(session_id);
  ready bigint[];
  dying event.inbox[];
  leased event.inbox[];
BEGIN
  PERFORM event._require_max_events(max_events);
  PERFORM event._require_lease(lease);
  PERFORM event._sync(ses.id);
  LOOP
    IF ses.delivery_order = 'strict' THEN
      -- one fetch at a time per session, so that each sees the other's leases
      PERFORM pg_advisory_xact_lock(hashtextextended(ses.id::text, 7021933452185600003));
      SELECT array_agg(h.id ORDER BY h.id) INTO ready
      FROM (SELECT h.id, bool_and(h.visible) OVER (ORDER BY h.id) AS in_prefix
            FROM (SELECT q.id, (q.visible_at IS NULL OR q.visible_at <= now()) AS visible
                  FROM event.inbox q
                  WHERE q.session_id = ses.id
                  ORDER BY q.id LIMIT max_events) h) h
      WHERE h.in_prefix;
    ELSE
      SELECT array_agg(h.id ORDER BY h.id) INTO ready
      FROM (SELECT q.id FROM event.inbox q
            WHERE q.session_id = ses.id AND (q.visible_at IS NULL OR q.visible_at <= now())
            ORDER BY q.id LIMIT max_events
            FOR UPDATE SKIP LOCKED) h;
    END IF;
    IF ready IS NULL THEN
      RETURN;
    END IF;
    -- (the range bounds the index scan; ready is sorted)
    SELECT array_agg(q ORDER BY q.id) INTO dying FROM event.inbox q
    WHERE q.session_id = ses.id AND q.id >= ready[1] AND q.id <= ready[cardinality(ready)]
      AND q.id = ANY (ready) AND q.attempts >= ses.max_attempts;
    IF dying IS NOT NULL THEN
      INSERT INTO event.dead_letter (session_id, id, subscription_id, event, created_at, attempts, last_error)
      SELECT ses.id, d.id, d.subscription_id, r.event, d.created_at, d.attempts, d.last_error
      FROM unnest(dying) d JOIN event._render(dying) r ON r.id = d.id;
      DELETE FROM event.inbox q WHERE q.session_id = ses.id AND q.id = ANY (ARRAY(SELECT d.id FROM unnest(dying) d));
    END IF;
    WITH l AS (
      UPDATE event.inbox q
         SET visible_at = now() + lease, attempts = q.attempts + 1
       WHERE q.session_id = ses.id AND q.id >= ready[1] AND q.id <= ready[cardinality(ready)]
         AND q.id = ANY (ready) AND q.attempts < ses.max_attempts
      RETURNING q.*)
    SELECT array_agg(l ORDER BY l.id) INTO leased FROM l;
    IF leased IS NOT NULL THEN
      RETURN QUERY
      SELECT l.id, l.attempts, r.event
      FROM unnest(leased) l JOIN event._render(leased) r ON r.id = l.id
      ORDER BY l.id;
      RETURN;
    END IF;
  END LOOP;
END
$$;

CREATE FUNCTION event.ack(session_id uuid, ids bigint[]) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
  done integer;
BEGIN
  PERFORM event._require_session(session_id);
  PERFORM event._require_ids(ids);
  PERFORM set_config('aqevent.acknowledging', 'on', true);
  DELETE FROM event.inbox q
   WHERE q.session_id = ack.session_id AND q.id BETWEEN event._min_id(ids) AND event._max_id(ids) AND q.id = ANY (ids);
  GET DIAGNOSTICS done = ROW_COUNT;
  PERFORM set_config('aqevent.acknowledging', '', true);
  RETURN done;
END
$$;

-- Per id: was it acknowledged now (true), or not pending for the session
-- (false: acknowledged before, or never one of its events).
CREATE FUNCTION event.ack_each(session_id uuid, ids bigint[]) RETURNS TABLE (id bigint, acknowledged boolean)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
  done bigint[];
BEGIN
  PERFORM event._require_session(session_id);
  PERFORM event._require_ids(ids);
  PERFORM set_config('aqevent.acknowledging', 'on', true);
  WITH d AS (DELETE FROM event.inbox q
             WHERE q.session_id = ack_each.session_id AND q.id BETWEEN event._min_id(ids) AND event._max_id(ids)
               AND q.id = ANY (ids)
             RETURNING q.id)
  SELECT coalesce(array_agg(d.id), '{}') INTO done FROM d;
  PERFORM set_config('aqevent.acknowledging', '', true);
  RETURN QUERY SELECT DISTINCT i, i = ANY (done) FROM unnest(ids) AS i ORDER BY 1;
END
$$;

CREATE FUNCTION event.nack(session_id uuid, ids bigint[], delay interval DEFAULT interval '0',
                           error text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
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
  UPDATE event.inbox q
     SET visible_at = now() + delay, last_error = coalesce(error, q.last_error)
   WHERE q.session_id = nack.session_id AND q.id BETWEEN event._min_id(ids) AND event._max_id(ids) AND q.id = ANY (ids);
  GET DIAGNOSTICS done = ROW_COUNT;
  RETURN done;
END
$$;

-- Renews the leases still running; returns the ids extended.
CREATE FUNCTION event.extend_lease(session_id uuid, ids bigint[], lease interval)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  PERFORM event._require_ids(ids);
  PERFORM event._require_lease(lease);
  RETURN QUERY
  UPDATE event.inbox q
     SET visible_at = now() + lease
   WHERE q.session_id = extend_lease.session_id AND q.id BETWEEN event._min_id(ids) AND event._max_id(ids)
     AND q.id = ANY (ids) AND q.visible_at > now()
  RETURNING q.id;
END
$$;

-- Gives back still-leased events never handled: deliverable now, and the
-- delivery that leased them is not counted.
CREATE FUNCTION event.release(session_id uuid, ids bigint[]) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
  done integer;
BEGIN
  PERFORM event._require_session(session_id);
  PERFORM event._require_ids(ids);
  UPDATE event.inbox q
     SET visible_at = now(), attempts = greatest(q.attempts - 1, 0)
   WHERE q.session_id = release.session_id AND q.id BETWEEN event._min_id(ids) AND event._max_id(ids)
     AND q.id = ANY (ids) AND q.visible_at > now();
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

-- Moves dead letters (all when ids is NULL) back into the inbox at their old
-- place, with attempts 0. An id that is not a dead letter: 42704, nothing moves.
CREATE FUNCTION event.requeue(session_id uuid, ids bigint[] DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
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
  WITH moved AS (
    DELETE FROM event.dead_letter d
    WHERE d.session_id = requeue.session_id AND (ids IS NULL OR d.id = ANY (ids))
    RETURNING d.*)
  INSERT INTO event.inbox (session_id, id, subscription_id, operation, event, created_at, last_error)
  SELECT m.session_id, m.id, m.subscription_id, m.event ->> 'operation', m.event, m.created_at, m.last_error
  FROM moved m ORDER BY m.id;
  GET DIAGNOSTICS moved = ROW_COUNT;
  RETURN moved;
END
$$;

-- Up to max_events pending events with ids above after_id, leased or not,
-- without leasing: no attempt counted, nothing changed but what collecting
-- adds. For tools that only look.
CREATE FUNCTION event.peek(session_id uuid, max_events integer, after_id bigint DEFAULT NULL)
RETURNS TABLE (id bigint, attempts integer, visible_at timestamptz, event jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
  ses event.session := event._require_session(session_id);
  batch event.inbox[];
BEGIN
  PERFORM event._require_max_events(max_events);
  PERFORM event._sync(ses.id);
  SELECT array_agg(x.q ORDER BY (x.q).id) INTO batch
  FROM (SELECT q FROM event.inbox q
        WHERE q.session_id = ses.id AND (after_id IS NULL OR q.id > after_id)
        ORDER BY q.id LIMIT max_events) x(q);
  RETURN QUERY
  SELECT b.id, b.attempts, b.visible_at, r.event
  FROM unnest(batch) b JOIN event._render(batch) r ON r.id = b.id
  ORDER BY b.id;
END
$$;

-- event.peek for many sessions in one call: for the n-th session of
-- session_ids, up to max_events pending events with ids above after_ids[n]
-- (from the start when after_ids or its element is NULL), leased or not,
-- in id order, rows ordered as session_ids. Collects them all in one pass
-- and renders them together, as the caller. 42704 names the first session
-- that does not exist or that the caller may not use; nothing is returned.
CREATE FUNCTION event.peek_many(session_ids uuid[], max_events integer, after_ids bigint[] DEFAULT NULL)
RETURNS TABLE (session_id uuid, id bigint, attempts integer, visible_at timestamptz, event jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
  missing uuid;
  batch event.inbox[];
BEGIN
  PERFORM event._require_max_events(max_events);
  IF session_ids IS NULL OR array_position(session_ids, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'session ids must be an array of non-null session ids'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF after_ids IS NOT NULL AND cardinality(after_ids) <> cardinality(session_ids) THEN
    RAISE EXCEPTION 'after_ids must hold one id (or NULL) per session: % sessions, % ids',
      cardinality(session_ids), cardinality(after_ids)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT u.sid INTO missing FROM unnest(session_ids) AS u(sid) GROUP BY u.sid HAVING count(*) > 1 LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'session "%" is given more than once', missing
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT u.sid INTO missing FROM unnest(session_ids) WITH ORDINALITY AS u(sid, n)
  WHERE NOT EXISTS (SELECT 1 FROM event.session s WHERE s.id = u.sid) ORDER BY u.n LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'session "%" does not exist', missing USING ERRCODE = 'undefined_object';
  END IF;
  PERFORM event._sync_many(session_ids);
  SELECT array_agg(x.q) INTO batch
  FROM unnest(session_ids, after_ids) AS c(sid, after_id)
  CROSS JOIN LATERAL (SELECT q FROM event.inbox q
                      WHERE q.session_id = c.sid AND (c.after_id IS NULL OR q.id > c.after_id)
                      ORDER BY q.id LIMIT max_events) x(q)
  WHERE c.sid IS NOT NULL;
  RETURN QUERY
  SELECT b.session_id, b.id, b.attempts, b.visible_at, r.event
  FROM unnest(batch) b
  JOIN event._render(batch) r ON r.id = b.id
  JOIN unnest(session_ids) WITH ORDINALITY AS u(sid, n) ON u.sid = b.session_id
  ORDER BY u.n, b.id;
END
$$;

-- One session's inbox with each event's JSON, for event.queue.
CREATE FUNCTION event._session_queue(session_id uuid)
RETURNS TABLE (id bigint, subscription_id uuid, operation text, event jsonb, created_at timestamptz,
               visible_at timestamptz, attempts integer, last_error text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
  batch event.inbox[];
BEGIN
  PERFORM event._sync(session_id);
  SELECT array_agg(q ORDER BY q.id) INTO batch FROM event.inbox q WHERE q.session_id = _session_queue.session_id;
  RETURN QUERY
  SELECT b.id, b.subscription_id, b.operation, r.event, b.created_at, b.visible_at, b.attempts, b.last_error
  FROM unnest(batch) b JOIN event._render(batch) r ON r.id = b.id
  ORDER BY b.id;
END
$$;

-- The inbox users read: every event pending or in flight for the sessions
-- the reader may use, in delivery order, with its JSON. Dead letters are in
-- event.dead_letter (and event.dead_letters(session)).
CREATE VIEW event.queue WITH (security_invoker = true) AS
  SELECT s.id AS session_id, q.id, q.subscription_id, q.operation, q.event, q.created_at,
         q.visible_at, q.attempts, q.last_error
  FROM event.session s
  CROSS JOIN LATERAL event._session_queue(s.id) q;

-- The name before 0.2: the same rows.
CREATE VIEW event.pending_event WITH (security_invoker = true) AS
  SELECT q.session_id, q.id, q.subscription_id, q.event, q.created_at, q.visible_at, q.attempts, q.last_error
  FROM event.queue q;

-- What a scraper reads, per visible session (after collecting each): events
-- deliverable now, leased or backing off, dead letters, the age of the oldest
-- pending event; and counters: events the session's reader made and events
-- acknowledged since the session was created, events dropped past the
-- pending cap since its last resume. aqevent serve's GET /metrics shows them.
CREATE FUNCTION event.metrics()
RETURNS TABLE (session_id uuid, owner name, backlog bigint, in_flight bigint, dead_letters bigint,
               oldest_pending_age interval, events_captured bigint, events_acknowledged bigint,
               events_dropped bigint, subscriptions bigint, overflowed boolean, last_attached_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- its own statement: the query below then sees what collecting changed
  PERFORM event._sync_many(ARRAY(SELECT s.id FROM event.session s));
  RETURN QUERY
  SELECT s.id, r.rolname,
         coalesce(q.backlog, 0), coalesce(q.in_flight, 0), coalesce(d.dead, 0), now() - q.oldest,
         s.events_captured, s.events_acknowledged, s.events_dropped,
         (SELECT count(*) FROM event.subscription x WHERE x.session_id = s.id),
         s.overflowed_at IS NOT NULL, s.last_attached_at
  FROM event.session s
  LEFT JOIN pg_roles r ON r.oid = s.owner_role
  LEFT JOIN (SELECT q.session_id,
                    count(*) FILTER (WHERE q.visible_at IS NULL OR q.visible_at <= now()) AS backlog,
                    count(*) FILTER (WHERE q.visible_at > now()) AS in_flight,
                    min(q.created_at) AS oldest
             FROM event.inbox q GROUP BY q.session_id) q ON q.session_id = s.id
  LEFT JOIN (SELECT d.session_id, count(*) AS dead
             FROM event.dead_letter d GROUP BY d.session_id) d ON d.session_id = s.id
  ORDER BY s.created_at, s.id;
END
$$;

-- Per visible session: event.metrics()'s gauges, and the delivery settings.
CREATE FUNCTION event.stats()
RETURNS TABLE (session_id uuid, backlog bigint, in_flight bigint, dead bigint,
               oldest_age interval, max_attempts integer, delivery_order text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT m.session_id, m.backlog, m.in_flight, m.dead_letters, m.oldest_pending_age, s.max_attempts, s.delivery_order
  FROM event.metrics() m JOIN event.session s ON s.id = m.session_id
  ORDER BY s.created_at, s.id
$$;

-- A row_id from key values alone, the key columns looked up in the catalog.
CREATE FUNCTION event.row_id(schema_name text, relation_name text, pk_values text[])
RETURNS meta.row_id
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  relid oid := meta.relation_oid(meta.relation_id(schema_name, relation_name));
  key_names text[] := event._primary_key(relid);
BEGIN
  IF key_names IS NULL THEN
    RAISE EXCEPTION 'relation % has no primary key; row and field subscriptions need one', relid::regclass
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF pk_values IS NULL OR cardinality(pk_values) <> cardinality(key_names)
     OR array_position(pk_values, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'the key of % is (%): give % non-null value(s), not %', relid::regclass,
      array_to_string(key_names, ', '), cardinality(key_names), coalesce(pk_values::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(key_names) = 1 THEN
    RETURN meta.row_id(schema_name, relation_name, key_names[1], pk_values[1]);
  END IF;
  RETURN meta.row_id(schema_name, relation_name, key_names, pk_values);
END
$$;
