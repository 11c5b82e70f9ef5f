-- Snapshots: a subscription's current rows first, then its changes.
--
-- subscribe_table(…, snapshot => true) and subscribe_column(…) copy, in the
-- subscribing transaction and as the session's owner, every row the
-- subscription would deliver (its filter, the owner's row-level security and
-- column privileges, its column list) into the session's inbox as
-- row_insert events marked "snapshot": true, then a snapshot_end event. The
-- copy is one statement, so it reads one snapshot, and the subscription's
-- since becomes that snapshot: a change committed before it is in the copy,
-- one committed after it is an event, none is both or neither. Writers are
-- not blocked beyond an ordinary read (ACCESS SHARE).

-- Moves the subscription's since to the snapshot its copy was read in (only
-- forward), for a caller that may use its session.
CREATE FUNCTION event._snapshot_taken(subscription_id uuid, taken pg_snapshot) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE event.subscription s SET since = taken
   FROM event.session x
   JOIN pg_roles r ON r.rolname = CASE current_setting('role') WHEN 'none' THEN session_user::text
                                  ELSE current_setting('role') END
  WHERE s.id = _snapshot_taken.subscription_id AND x.id = s.session_id
    AND (r.rolsuper OR pg_has_role(r.oid, x.owner_role, 'MEMBER'))
    AND pg_snapshot_xmax(taken) >= pg_snapshot_xmax(s.since);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'subscription "%" does not exist', subscription_id USING ERRCODE = 'undefined_object';
  END IF;
END
$$;

-- Progress of a snapshot copy, every 100,000 rows, as a NOTICE (sent to
-- the client at once, whatever the transaction does). True.
-- (No SET clause: it is called once per row; every name is qualified.)
CREATE FUNCTION event._snapshot_progress(relation text, copied bigint, started timestamptz) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  IF copied OPERATOR(pg_catalog.%) 100000 OPERATOR(pg_catalog.=) 0 THEN
    RAISE NOTICE 'aqevent: snapshot of %: % rows copied (% s)', relation, copied,
      pg_catalog.round(EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started)::pg_catalog.numeric, 1);
  END IF;
  RETURN true;
END
$$;

-- Copies the subscription's current rows into its session's inbox; returns
-- how many. Runs as the session's owner (SET ROLE for the copy when the
-- caller is a member of it), so that its policies and privileges decide.
CREATE FUNCTION event._snapshot(subscription_id uuid) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  sub event.subscription;
  owner_name text;
  was_role text := current_setting('role');
  switched boolean;
  columns text;
  key_order text;
  copied bigint;
  taken pg_snapshot;
  rel jsonb;
BEGIN
  SELECT * INTO sub FROM event.subscription s WHERE s.id = _snapshot.subscription_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'subscription "%" does not exist', subscription_id USING ERRCODE = 'undefined_object';
  END IF;
  IF sub.kind NOT IN ('table', 'column') THEN
    RAISE EXCEPTION 'a snapshot is for table and column subscriptions, not % ones', sub.kind
      USING ERRCODE = 'feature_not_supported';
  END IF;
  SELECT pg_get_userbyid(x.owner_role) INTO owner_name FROM event.session x WHERE x.id = sub.session_id;
  SELECT string_agg(format('aqevent_t.%I', a.attname), ', ' ORDER BY a.attnum) INTO columns
  FROM pg_attribute a
  WHERE a.attrelid = sub.relation_oid AND a.attnum > 0 AND NOT a.attisdropped
    AND has_column_privilege(owner_name, sub.relation_oid, a.attnum, 'SELECT')
    AND (sub.columns IS NULL OR a.attname = ANY (sub.columns)
         OR a.attname = ANY (coalesce(event._primary_key(sub.relation_oid), '{}')));
  key_order := coalesce((SELECT string_agg(format('aqevent_t.%I', k), ', ') FROM unnest(event._primary_key(sub.relation_oid)) k),
                        'aqevent_t.ctid');
  rel := (SELECT event._relation_json(n.nspname, c.relname)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = sub.relation_oid);
  switched := current_user::text <> owner_name;
  IF switched THEN
    PERFORM set_config('role', owner_name, true);
  END IF;
  EXECUTE format(
    'WITH copied AS ('
    '  INSERT INTO event.inbox (session_id, id, subscription_id, operation, event, created_at)'
    '  SELECT $1, r.id, $2, ''row_insert'','
    '         jsonb_build_object(''id'', r.id, ''operation'', ''row_insert'', ''subscription_type'', $3,'
    '                            ''subscription_id'', $2, ''relation_id'', $4,'
    '                            ''row_id'', event._row_id_json($4, $5, event._key_values($5, NULL, r.full_row)),'
    '                            ''payload'', event._payload(r.full_row, $6, NULL),'
    '                            ''transaction_id'', pg_current_xact_id()::text::bigint, ''timestamp'', now(),'
    '                            ''snapshot'', true),'
    '         now()'
    '  FROM (SELECT nextval(''event.event_id_seq'') AS id, r.full_row'
    '        FROM (SELECT row_number() OVER () AS n, to_jsonb(aqevent_row.*) AS full_row'
    '              FROM (SELECT %1$s FROM %2$s AS aqevent_t WHERE %3$s ORDER BY %4$s) aqevent_row) r'
    '        WHERE event._snapshot_progress($7, r.n, $8)'
    '       ) r'
    '  RETURNING 1)'
    'SELECT count(*), pg_current_snapshot() FROM copied',
    columns, sub.relation_oid::regclass, coalesce('(' || sub.filter || ')', 'true'), key_order)
    INTO copied, taken
    USING sub.session_id, sub.id, sub.kind, rel, event._primary_key(sub.relation_oid), sub.columns,
          sub.relation_oid::regclass::text, clock_timestamp();
  IF switched THEN
    PERFORM set_config('role', was_role, true);
  END IF;
  PERFORM event._snapshot_taken(sub.id, taken);
  RAISE NOTICE 'aqevent: snapshot of %: % rows, complete', sub.relation_oid::regclass, copied;
  INSERT INTO event.inbox (session_id, id, subscription_id, operation, event, created_at)
  SELECT sub.session_id, m.id, sub.id, 'snapshot_end',
         jsonb_build_object('id', m.id, 'operation', 'snapshot_end', 'subscription_type', sub.kind,
                            'subscription_id', sub.id, 'relation_id', rel, 'rows', copied,
                            'transaction_id', pg_current_xact_id()::text::bigint, 'timestamp', now()),
         now()
  FROM (SELECT nextval('event.event_id_seq') AS id) m;
  RETURN copied;
END
$$;
