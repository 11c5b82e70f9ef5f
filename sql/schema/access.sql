-- Access: who may do what. The model and its reasons: docs/security.md.
--
-- aqevent_user may create sessions and use its own (and its member roles');
-- aqevent_admin may use every session, change settings and run maintenance.
-- Row-level security on the session decides which sessions a role sees; the
-- tables keyed by session_id follow it. Writers need nothing: capture runs
-- as the event system's owner and only appends to event.change.

REVOKE ALL ON SCHEMA event, meta FROM PUBLIC;
GRANT USAGE ON SCHEMA event, meta TO aqevent_user;

ALTER TABLE event.session ENABLE ROW LEVEL SECURITY;
CREATE POLICY session_access ON event.session
  USING (pg_has_role(current_user, owner_role, 'MEMBER')
         OR pg_has_role(current_user, 'aqevent_admin', 'MEMBER'));
CREATE POLICY session_create_own ON event.session AS RESTRICTIVE FOR INSERT
  WITH CHECK (owner_role = (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user));
GRANT SELECT, DELETE ON event.session TO aqevent_user;
GRANT INSERT (owner_role) ON event.session TO aqevent_user;
GRANT UPDATE (last_attached_at, detached_at, ttl, max_attempts, delivery_order, notify_payload,
              overflowed_at, events_dropped) ON event.session TO aqevent_user;

ALTER TABLE event.subscription ENABLE ROW LEVEL SECURITY;
CREATE POLICY session_access ON event.subscription
  USING (EXISTS (SELECT 1 FROM event.session s WHERE s.id = session_id));
CREATE POLICY subscription_allowed ON event.subscription AS RESTRICTIVE FOR INSERT
  WITH CHECK (event._may_subscribe(session_id, kind, relation_oid, column_name));
-- a filter is stored only as its check deparses it (filters.sql), columns as checked
CREATE POLICY subscription_filter_checked ON event.subscription AS RESTRICTIVE FOR INSERT
  WITH CHECK ((filter IS NULL OR filter = event._filter_expression(relation_oid, filter,
                                            (SELECT s.owner_role FROM event.session s WHERE s.id = session_id)))
              AND (columns IS NULL OR columns = event._column_list(relation_oid, columns,
                                                  (SELECT s.owner_role FROM event.session s WHERE s.id = session_id))));
GRANT SELECT, DELETE ON event.subscription TO aqevent_user;
GRANT INSERT (session_id, kind, relation_oid, target, pk_values, column_name, filter, columns)
  ON event.subscription TO aqevent_user;

ALTER TABLE event.inbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY session_access ON event.inbox
  USING (EXISTS (SELECT 1 FROM event.session s WHERE s.id = session_id));
GRANT SELECT, DELETE ON event.inbox TO aqevent_user;
GRANT UPDATE (visible_at, attempts, last_error) ON event.inbox TO aqevent_user;
-- requeue moves a dead letter back with its stored JSON
GRANT INSERT (session_id, id, subscription_id, operation, event, created_at, last_error) ON event.inbox TO aqevent_user;

ALTER TABLE event.dead_letter ENABLE ROW LEVEL SECURITY;
CREATE POLICY session_access ON event.dead_letter
  USING (EXISTS (SELECT 1 FROM event.session s WHERE s.id = session_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON event.dead_letter TO aqevent_user;

ALTER TABLE event.captured_table ENABLE ROW LEVEL SECURITY;
CREATE POLICY captured_table_read ON event.captured_table FOR SELECT USING (true);
CREATE POLICY captured_table_enable ON event.captured_table FOR INSERT
  WITH CHECK (event._may_lock(relid) AND enabled_by = (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user));
CREATE POLICY captured_table_disable ON event.captured_table FOR DELETE USING (event._may_lock(relid));
GRANT SELECT, DELETE ON event.captured_table TO aqevent_user;
GRANT INSERT (relid, enabled_by) ON event.captured_table TO aqevent_user;

GRANT SELECT ON event.settings, event.shape TO aqevent_user;
GRANT SELECT ON meta.schema, meta.relation, meta."column" TO aqevent_user;
-- DDL failures name objects: aqevent_admin sees them, others read no rows.
ALTER TABLE event.ddl_failure ENABLE ROW LEVEL SECURITY;
CREATE POLICY admin_reads ON event.ddl_failure FOR SELECT
  USING (pg_has_role(current_user, 'aqevent_admin', 'MEMBER'));
GRANT SELECT ON event.ddl_failure TO aqevent_user;
GRANT UPDATE (value) ON event.settings TO aqevent_admin;
GRANT SELECT ON event.queue, event.pending_event TO aqevent_user;
GRANT USAGE ON SEQUENCE event.event_id_seq TO aqevent_user;

-- Functions: the SECURITY INVOKER ones to aqevent_user (their rights are the
-- caller's); of the SECURITY DEFINER ones only those safe for anyone to call.
DO $$
DECLARE
  f record;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure AS fn, p.prosecdef
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('event', 'meta') AND p.prokind IN ('f', 'p')
    ORDER BY 1
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.fn);
    IF NOT f.prosecdef THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO aqevent_user', f.fn);
    END IF;
  END LOOP;
END
$$;

GRANT EXECUTE ON FUNCTION event._collect(uuid), event._collect_many(uuid[]), event._snapshot_taken(uuid, pg_snapshot),
  event.listener_register(), event.listener_unregister()
  TO aqevent_user;
GRANT EXECUTE ON FUNCTION event.expire_sessions(timestamptz), event.purge_dead_letters(interval, timestamptz),
  event.purge_pending(interval, timestamptz), event.reclaim_leases(timestamptz),
  event.maintain(interval, timestamptz), event.trim_changes()
  TO aqevent_admin;

DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 170000 THEN
    EXECUTE 'GRANT MAINTAIN ON event.inbox, event.change, event.dead_letter TO aqevent_admin';
  END IF;
END
$$;
