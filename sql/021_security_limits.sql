-- 021_security_limits: caps against abuse, and id-only notifications.
--
-- max_subscriptions_per_session: subscribing beyond it is an error
--   (54000 program_limit_exceeded) for the subscriber; nothing is created.
-- max_pending_per_session: a writer never fails and never waits because of
--   it. A statement that would leave a session with more pending events than
--   the cap queues none of them for that session; instead the session is
--   marked overflowed (overflowed_at, events_dropped) and one "overflow"
--   marker event is queued. From then on the session's captured events are
--   not queued until its consumer calls event.session_resume(). Nothing is
--   accepted and later lost: an event is either in the queue or was refused
--   while the session said so. See docs/security.md.

-- Does the session hold more than cap pending events? Cheap in the common
-- case. More than cap events means an event at least cap ids older than the
-- newest; looking for one backwards from there avoids walking the entries
-- of acknowledged (deleted, not yet vacuumed) events at the old end of the
-- session's index range. Only when such an event exists are events counted,
-- and the count stops at cap + 1. plpgsql, so the plans are cached.
CREATE FUNCTION event._pending_exceeds(session_id uuid, cap bigint) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  newest bigint;
BEGIN
  SELECT q.id INTO newest FROM event.queue q
  WHERE q.session_id = _pending_exceeds.session_id ORDER BY q.id DESC LIMIT 1;
  IF newest IS NULL OR NOT EXISTS (
       SELECT 1 FROM (SELECT q.id FROM event.queue q
                      WHERE q.session_id = _pending_exceeds.session_id AND q.id <= newest - cap
                      ORDER BY q.id DESC LIMIT 1) old) THEN
    RETURN false;
  END IF;
  RETURN (SELECT count(*) FROM (SELECT 1 FROM event.queue q
                                WHERE q.session_id = _pending_exceeds.session_id
                                LIMIT cap + 1) c) > cap;
END
$$;

-- New subscriptions: the per-session cap, and the type check of 022.
-- Runs after the insert, so a direct INSERT (not through subscribe_*) is
-- checked too. Concurrent subscribers of one session are serialised by an
-- advisory lock so that they count each other.
CREATE FUNCTION event._check_new_subscriptions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cap bigint := event._setting('max_subscriptions_per_session');
  over record;
BEGIN
  PERFORM event._require_trusted_json(r.relation_oid)
  FROM (SELECT DISTINCT n.relation_oid FROM aqevent_added_subscriptions n) r;
  IF cap IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended(n.session_id::text, 7021933452185600001))
  FROM (SELECT DISTINCT a.session_id FROM aqevent_added_subscriptions a ORDER BY 1) n;
  SELECT n.session_id, count(*) AS total INTO over
  FROM (SELECT DISTINCT a.session_id FROM aqevent_added_subscriptions a) n
  JOIN event.subscription s ON s.session_id = n.session_id
  GROUP BY n.session_id
  HAVING count(*) > cap
  LIMIT 1;
  IF over.session_id IS NOT NULL THEN
    RAISE EXCEPTION 'session "%" may have at most % subscriptions', over.session_id, cap
      USING ERRCODE = 'program_limit_exceeded',
            DETAIL = format('This would make %s.', over.total),
            HINT = 'Unsubscribe first, or ask an aqevent_admin to raise max_subscriptions_per_session in event.settings.';
  END IF;
  RETURN NULL;
END
$$;

-- Replaces the queue trigger of 006: the same notifications, plus the
-- pending cap and the 'id' notify_payload option.
CREATE OR REPLACE FUNCTION event._notify_queued() RETURNS trigger
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
  IF cap IS NOT NULL THEN
    FOR s IN
      SELECT b.session_id, ses.overflowed_at
      FROM (SELECT DISTINCT q.session_id FROM aqevent_queued q) b
      JOIN event.session ses ON ses.id = b.session_id
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
          USING aqevent_queued n
          WHERE n.session_id = s.session_id AND q.session_id = n.session_id AND q.id = n.id
            AND n.event ->> 'operation' IS DISTINCT FROM 'overflow'
            AND (n.event ->> 'transaction_id')::bigint = tx
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
           CASE WHEN b.notify_payload = 'id'
                  THEN jsonb_build_object('id', q.id, 'operation', q.event -> 'operation')::text
                WHEN octet_length(q.event::text) < 7900 THEN q.event::text
                ELSE jsonb_build_object('id', q.id, 'operation', q.event -> 'operation',
                                        'compact', true)::text END AS payload,
           q.id
    FROM aqevent_queued q
    JOIN (SELECT c.session_id, ses.notify_payload
          FROM (SELECT a.session_id FROM aqevent_queued a
                GROUP BY a.session_id HAVING count(*) <= 100) c
          JOIN event.session ses ON ses.id = c.session_id
          WHERE c.session_id <> ALL (refused)) b ON b.session_id = q.session_id
    UNION ALL
    SELECT b.session_id::text,
           jsonb_build_object('operation', 'batch', 'first_id', min(b.id),
                              'last_id', max(b.id), 'count', count(*))::text,
           max(b.id)
    FROM aqevent_queued b
    WHERE b.session_id <> ALL (refused)
    GROUP BY b.session_id HAVING count(*) > 100
    ORDER BY 3
  ) x;
  RETURN NULL;
END
$$;

-- Choose what notifications of a session carry: 'full' (the event when it
-- fits) or 'id' ({"id", "operation"} only; read the event through the queue).
CREATE FUNCTION event.session_set_notify_payload(session_id uuid, notify_payload text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF notify_payload IS NULL OR notify_payload NOT IN ('full', 'id') THEN
    RAISE EXCEPTION 'notify_payload must be ''full'' or ''id'', not %',
      coalesce(quote_literal(notify_payload), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM event._require_session(session_id);
  UPDATE event.session s SET notify_payload = session_set_notify_payload.notify_payload
   WHERE s.id = session_set_notify_payload.session_id;
END
$$;

-- After an overflow: capture for the session again. Call it before
-- re-reading the subscribed data, so that nothing falls between the two.
CREATE FUNCTION event.session_resume(session_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_session(session_id);
  UPDATE event.session s
     SET overflowed_at = NULL, overflow_event_id = NULL, events_dropped = 0
   WHERE s.id = session_resume.session_id;
END
$$;

-- What a consumer needs to know about its session's state and limits.
CREATE FUNCTION event.session_info(session_id uuid,
  OUT id uuid, OUT owner_role name, OUT created_at timestamptz,
  OUT last_attached_at timestamptz, OUT detached_at timestamptz, OUT notify_payload text,
  OUT subscriptions bigint, OUT max_subscriptions bigint, OUT max_pending bigint,
  OUT overflowed_at timestamptz, OUT overflow_event_id bigint, OUT events_dropped bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ses event.session := event._require_session(session_id);
BEGIN
  id := ses.id;
  owner_role := pg_get_userbyid(ses.owner_role);
  created_at := ses.created_at;
  last_attached_at := ses.last_attached_at;
  detached_at := ses.detached_at;
  notify_payload := ses.notify_payload;
  subscriptions := (SELECT count(*) FROM event.subscription s WHERE s.session_id = ses.id);
  max_subscriptions := event._setting('max_subscriptions_per_session');
  max_pending := event._setting('max_pending_per_session');
  overflowed_at := ses.overflowed_at;
  overflow_event_id := ses.overflow_event_id;
  events_dropped := ses.events_dropped;
END
$$;
