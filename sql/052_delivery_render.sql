-- 052_delivery_render: every reader of the queue puts an event's JSON
-- together from its stored parts (050_queue_compact_storage): the
-- notifications, fetch_events (and the dead letters it makes), peek and
-- reclaim_leases. The functions are those of 021, 010, 031 and 040 with
-- q.event replaced by event._render(q); behaviour is unchanged.

CREATE OR REPLACE FUNCTION event._queued(batches event.queued_batch[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cap bigint := (SELECT x.value FROM event.settings x WHERE x.name = 'max_pending_per_session');
  tx bigint := pg_current_xact_id()::text::bigint;
  refused uuid[] := '{}';
  s record;
  dropped bigint;
  first_subscription uuid;
  marker bigint;
BEGIN
  -- The common case in one query: no session of the batch overflowed, and
  -- none has an event cap ids older than its newest (the first, cheap test
  -- of event._pending_exceeds, which the loop then applies in full). This
  -- saved a cursor, a function call and two queries per write.
  IF cap IS NOT NULL AND EXISTS (
       SELECT 1
       FROM unnest(batches) b
       CROSS JOIN LATERAL (SELECT x.overflowed_at FROM event.session x
                           WHERE x.id = b.session_id OFFSET 0) ses
       LEFT JOIN LATERAL (SELECT q.id FROM event.queue q
                          WHERE q.session_id = b.session_id ORDER BY q.id DESC LIMIT 1) newest ON true
       WHERE ses.overflowed_at IS NOT NULL
          OR EXISTS (SELECT 1 FROM (SELECT q.id FROM event.queue q
                                    WHERE q.session_id = b.session_id AND q.id <= newest.id - cap
                                    ORDER BY q.id DESC LIMIT 1) old)) THEN
    FOR s IN
      SELECT b.session_id, b.ids, ses.overflowed_at
      FROM unnest(batches) b
      CROSS JOIN LATERAL (SELECT x.overflowed_at FROM event.session x
                          WHERE x.id = b.session_id OFFSET 0) ses
      WHERE ses.overflowed_at IS NOT NULL OR event._pending_exceeds(b.session_id, cap)
      ORDER BY 1
    LOOP
      BEGIN
        IF s.overflowed_at IS NULL THEN
          -- First overflow: the session row is taken without waiting. If
          -- another transaction holds it, this statement's events are queued
          -- (the cap is exceeded a little) rather than a writer waiting.
          PERFORM 1 FROM event.session x WHERE x.id = s.session_id FOR NO KEY UPDATE SKIP LOCKED;
          CONTINUE WHEN NOT FOUND;
        END IF;
        -- Only events captured by this transaction are refused: events moved
        -- back into the queue by their consumer were accepted long ago.
        WITH gone AS (
          DELETE FROM event.queue q
          USING unnest(s.ids) n(id)
          WHERE q.session_id = s.session_id AND q.id = n.id
            AND COALESCE(q.operation, q.event ->> 'operation') IS DISTINCT FROM 'overflow'
            AND COALESCE(q.transaction_id, (q.event ->> 'transaction_id')::bigint) = tx
          RETURNING q.id, q.subscription_id)
        SELECT count(*), (array_agg(g.subscription_id ORDER BY g.id))[1]
        INTO dropped, first_subscription FROM gone g;
        CONTINUE WHEN dropped = 0;
        refused := refused || s.session_id;
        IF s.overflowed_at IS NOT NULL THEN
          -- The count is best effort (a lower bound): never wait for it.
          BEGIN
            UPDATE event.session x SET events_dropped = x.events_dropped + dropped
             WHERE x.id = (SELECT y.id FROM event.session y WHERE y.id = s.session_id
                           FOR NO KEY UPDATE SKIP LOCKED);
          EXCEPTION WHEN serialization_failure THEN
            NULL;
          END;
        ELSE
          marker := nextval('event.queue_id_seq');
          UPDATE event.session x
             SET overflowed_at = now(), overflow_event_id = marker, events_dropped = dropped
           WHERE x.id = s.session_id;
          INSERT INTO event.queue (id, session_id, subscription_id, event)
          VALUES (marker, s.session_id, first_subscription,
                  jsonb_build_object('id', marker, 'operation', 'overflow',
                                     'subscription_id', first_subscription,
                                     'max_pending', cap, 'transaction_id', tx, 'timestamp', now()));
          -- The marker is notified like any new queue row (the session is
          -- overflowed now, and a marker is never refused).
          PERFORM event._queued(ARRAY[ROW(s.session_id, ARRAY[marker], marker, marker)::event.queued_batch]);
        END IF;
      EXCEPTION WHEN OTHERS THEN
        -- e.g. a REPEATABLE READ writer meeting a concurrent update of the
        -- session row: keep the events rather than fail the writer.
        RAISE WARNING 'aqevent: pending-event limit not applied to session %: % (SQLSTATE %)',
          s.session_id, SQLERRM, SQLSTATE;
      END;
    END LOOP;
  END IF;

  PERFORM pg_notify(x.channel, x.payload)
  FROM (
    SELECT q.session_id::text AS channel,
           CASE WHEN ses.notify_payload = 'id'
                  THEN jsonb_build_object('id', q.id, 'operation', q.event -> 'operation')::text
                WHEN octet_length(q.event::text) < 7900 THEN q.event::text
                ELSE jsonb_build_object('id', q.id, 'operation', q.event -> 'operation',
                                        'compact', true)::text END AS payload,
           q.id
    FROM unnest(batches) b
    CROSS JOIN LATERAL (SELECT x.notify_payload FROM event.session x
                        WHERE x.id = b.session_id OFFSET 0) ses
    CROSS JOIN LATERAL unnest(b.ids) i(id)
    -- By key, one index lookup per event: OFFSET 0 keeps a generic plan
    -- from hashing every queued event of the session instead.
    CROSS JOIN LATERAL (SELECT q.id, q.session_id, event._render(q) AS event FROM event.queue q
                        WHERE q.session_id = b.session_id AND q.id = i.id OFFSET 0) q
    WHERE cardinality(b.ids) <= 100 AND b.session_id <> ALL (refused)
    UNION ALL
    SELECT b.session_id::text,
           jsonb_build_object('operation', 'batch', 'first_id', b.first_id,
                              'last_id', b.last_id, 'count', cardinality(b.ids))::text,
           b.last_id
    FROM unnest(batches) b
    WHERE cardinality(b.ids) > 100 AND b.session_id <> ALL (refused)
    ORDER BY 3
  ) x;
END
$$;

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
  SELECT q.id, q.attempts, q.visible_at, event._render(q)
  FROM event.queue q
  WHERE q.session_id = ses.id AND (after_id IS NULL OR q.id > after_id)
  ORDER BY q.id
  LIMIT max_events;
END
$$;

CREATE OR REPLACE FUNCTION event.reclaim_leases(now timestamptz DEFAULT now()) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  reclaimed bigint;
  buried bigint;
  orphan_events bigint;
  orphan_subscriptions bigint;
BEGIN
  WITH expired AS (
    SELECT q.session_id, q.id, q.attempts >= s.max_attempts AS exhausted
    FROM event.queue q JOIN event.session s ON s.id = q.session_id
    WHERE q.visible_at IS NOT NULL AND q.visible_at <= reclaim_leases.now
    FOR UPDATE OF q SKIP LOCKED
  ), dead AS (
    DELETE FROM event.queue q USING expired e
     WHERE e.exhausted AND q.session_id = e.session_id AND q.id = e.id
    RETURNING q.session_id, q.id, q.subscription_id, event._render(q) AS event, q.created_at,
              q.attempts, q.last_error
  ), moved AS (
    INSERT INTO event.dead_letter (session_id, id, subscription_id, event, created_at, attempts, last_error)
    SELECT d.session_id, d.id, d.subscription_id, d.event, d.created_at, d.attempts,
           coalesce(d.last_error, 'lease expired after the last attempt')
    FROM dead d
    RETURNING 1
  ), freed AS (
    UPDATE event.queue q SET visible_at = NULL
      FROM expired e
     WHERE NOT e.exhausted AND q.session_id = e.session_id AND q.id = e.id
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM freed), (SELECT count(*) FROM moved) INTO reclaimed, buried;

  DELETE FROM event.queue q
   WHERE NOT EXISTS (SELECT 1 FROM event.session s WHERE s.id = q.session_id);
  GET DIAGNOSTICS orphan_events = ROW_COUNT;

  DELETE FROM event.subscription sub
   USING event.session s
   WHERE s.id = sub.session_id
     AND (NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = s.owner_role)
          OR NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = sub.relation_oid));
  GET DIAGNOSTICS orphan_subscriptions = ROW_COUNT;

  RETURN jsonb_build_object('leases_reclaimed', reclaimed, 'dead_lettered', buried,
                            'orphan_events', orphan_events, 'orphan_subscriptions', orphan_subscriptions);
END
$$;

SELECT event._apply_access_control();
