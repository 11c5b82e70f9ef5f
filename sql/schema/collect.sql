-- Collect: the reader's side of capture. A session's reader matches the
-- change log against the session's subscriptions and turns what matches into
-- the session's events (event.inbox, delivery.sql), in batches, when the
-- session is read (fetch_events, peek, event.queue) or by maintenance.
--
-- The cursor is the snapshot of the last collect. What committed since is
-- exactly the log rows whose transaction is visible in the new snapshot but
-- was not in the old one: transaction ids from the old snapshot's xmax up to
-- the new one's, and the ones the old snapshot saw in progress. Nothing
-- committed is skipped, however long a writer's transaction ran.
--
-- Matching is where the rights are checked, as the session owner's: SELECT on
-- the table (or the column), USAGE on its schema, every key column. Columns
-- the owner may not read are blanked out of the stored rows here, so nothing
-- it may not see reaches its inbox. Filters and row-level security are
-- decided by each subscription's checker, as the owner (filters.sql): an
-- UPDATE of a row that starts or stops passing becomes a row_insert or a
-- row_delete with reason 'filter'. No user code runs here: rows stay text,
-- split into fields by a regular expression; types' input functions and casts
-- run when the reader renders them (render.sql), as the reader.

-- Hot helpers below are single expressions without a fixed search_path, so
-- that the planner inlines them into the statements that call them (all of
-- those fix theirs); every name in them is schema-qualified.

-- The fields of a record literal as record_out writes it, still quoted.
CREATE FUNCTION event._fields(literal text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE WHEN pg_catalog.strpos(literal, '"') OPERATOR(pg_catalog.=) 0
              THEN pg_catalog.string_to_array(pg_catalog.substr(literal, 2, pg_catalog.length(literal) - 2), ',')
              ELSE ARRAY(SELECT r.m[1]
                         FROM pg_catalog.regexp_matches(
                                pg_catalog.substr(literal, 2, pg_catalog.length(literal) - 2) OPERATOR(pg_catalog.||) ',',
                                '("(?:[^"\\]|""|\\.)*"|[^,]*),', 'g') AS r(m)) END
$$;

-- A field's value: NULL for an empty field, quotes and doubled characters undone.
CREATE FUNCTION event._unquote(field text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN field IS NULL OR field OPERATOR(pg_catalog.=) '' THEN NULL
              WHEN pg_catalog.left(field, 1) OPERATOR(pg_catalog.=) '"'
              THEN pg_catalog.regexp_replace(pg_catalog.substr(field, 2, pg_catalog.length(field) - 2),
                                             '(["\\])\1', '\1', 'g')
              ELSE field END
$$;

-- A record literal of the fields at the given positions (all when NULL), the
-- others NULL.
CREATE FUNCTION event._literal(fields text[], positions integer[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT '(' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(ARRAY(
           SELECT CASE WHEN positions IS NULL OR u.o OPERATOR(pg_catalog.=) ANY (positions) THEN u.f ELSE '' END
           FROM pg_catalog.unnest(fields) WITH ORDINALITY AS u(f, o) ORDER BY u.o), ',') OPERATOR(pg_catalog.||) ')'
$$;

-- What owner_role may read of relid now: whether at all, and the columns it
-- may not SELECT. Not at all: no SELECT on any column, no USAGE on the
-- schema, or a key column hidden. (Row-level security is checked row by
-- row, filters.sql.)
CREATE FUNCTION event._reader_view(owner_role oid, relid oid)
RETURNS TABLE (visible boolean, hidden text[], rls boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(
           EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = owner_role)
           AND has_schema_privilege(owner_role, c.relnamespace, 'USAGE')
           AND has_any_column_privilege(owner_role, c.oid, 'SELECT')
           AND NOT EXISTS (SELECT 1 FROM unnest(event._primary_key(c.oid)) k
                           WHERE NOT has_column_privilege(owner_role, c.oid, k, 'SELECT')), false),
         CASE WHEN EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = owner_role)
                   AND NOT has_table_privilege(owner_role, c.oid, 'SELECT')
              THEN ARRAY(SELECT a.attname::text FROM pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                           AND NOT has_column_privilege(owner_role, c.oid, a.attnum, 'SELECT'))
              ELSE '{}'::text[] END,
         coalesce(event._rls_applies(owner_role, c.oid), false)
  FROM pg_class c WHERE c.oid = relid
$$;

-- The snapshot to collect up to, with this transaction itself counted as in
-- progress: a session's events are those of committed transactions, so the
-- collecting transaction's own changes (if it wrote any) come with the first
-- collect after it commits, never twice.
CREATE FUNCTION event._collect_snapshot() RETURNS pg_snapshot
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN o.x IS NULL OR o.x >= pg_snapshot_xmax(o.snap) THEN o.snap
              ELSE (least(pg_snapshot_xmin(o.snap), o.x)::text || ':' || pg_snapshot_xmax(o.snap)::text || ':'
                    || array_to_string(ARRAY(SELECT DISTINCT u FROM unnest(ARRAY(SELECT pg_snapshot_xip(o.snap)) || o.x) u
                                             ORDER BY u), ','))::pg_snapshot END
  FROM (SELECT pg_current_snapshot() AS snap, pg_current_xact_id_if_assigned() AS x) o
$$;

-- Returns nothing, and refuses (42704, as for a session that does not exist)
-- a caller that could not use the session itself: it is callable by any
-- aqevent_user, and locks the session row while it runs.
CREATE FUNCTION event._collect(session_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_mergejoin = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  ses event.session;
  snap pg_snapshot;
  relids oid[];
  prev_xmax xid8;
  now_xmax xid8;
  prev_xip xid8[];
  cap bigint := event._setting('max_pending_per_session');
  matched bigint;
  added bigint;
  first_id bigint;
  last_id bigint;
  marker bigint;
BEGIN
  -- the calling role: SET ROLE's, else the login (a definer's current_user is its owner)
  IF NOT EXISTS (SELECT 1 FROM event.session s
                 JOIN pg_roles r ON r.rolname = CASE current_setting('role') WHEN 'none' THEN session_user::text
                                                ELSE current_setting('role') END
                 WHERE s.id = _collect.session_id
                   AND (r.rolsuper OR pg_has_role(r.oid, s.owner_role, 'MEMBER')
                        OR pg_has_role(r.oid, 'aqevent_admin', 'MEMBER'))) THEN
    RAISE EXCEPTION 'session "%" does not exist', session_id USING ERRCODE = 'undefined_object';
  END IF;
  -- Nothing of the session's tables committed since its cursor: done, with
  -- one index probe and no write (the cursor moves when it is far behind, so
  -- that the probe stays short).
  SELECT * INTO ses FROM event.session s WHERE s.id = _collect.session_id;
  snap := event._collect_snapshot();
  prev_xmax := pg_snapshot_xmax(ses.cursor);
  now_xmax := pg_snapshot_xmax(snap);
  prev_xip := ARRAY(SELECT pg_snapshot_xip(ses.cursor));
  relids := ARRAY(SELECT DISTINCT s.relation_oid FROM event.subscription s WHERE s.session_id = ses.id);
  IF NOT EXISTS (SELECT 1 FROM event.change c
                 WHERE c.xid >= prev_xmax AND c.xid < now_xmax AND c.relid = ANY (relids)
                   AND pg_visible_in_snapshot(c.xid, snap))
     AND NOT EXISTS (SELECT 1 FROM event.change c
                     WHERE c.xid = ANY (prev_xip) AND c.relid = ANY (relids)
                       AND pg_visible_in_snapshot(c.xid, snap)) THEN
    IF now_xmax::text::bigint - prev_xmax::text::bigint > 10000 THEN
      UPDATE event.session s SET cursor = snap WHERE s.id = ses.id AND s.cursor::text = ses.cursor::text;
    END IF;
    RETURN;
  END IF;
  SELECT * INTO ses FROM event.session s WHERE s.id = _collect.session_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  snap := event._collect_snapshot();
  prev_xmax := pg_snapshot_xmax(ses.cursor);
  now_xmax := pg_snapshot_xmax(snap);
  prev_xip := ARRAY(SELECT pg_snapshot_xip(ses.cursor));

  WITH changes AS MATERIALIZED (
    SELECT c.* FROM event.change c
    WHERE c.xid >= prev_xmax AND c.xid < now_xmax AND c.relid = ANY (relids)
      AND pg_visible_in_snapshot(c.xid, snap)
    UNION ALL
    SELECT c.* FROM event.change c
    WHERE c.xid = ANY (prev_xip) AND c.relid = ANY (relids)
      AND pg_visible_in_snapshot(c.xid, snap)
  ), views AS MATERIALIZED (
    SELECT r.relid, v.visible, v.hidden, v.rls
    FROM unnest(relids) AS r(relid) CROSS JOIN LATERAL event._reader_view(ses.owner_role, r.relid) v
  ), verdicts AS MATERIALIZED (
    SELECT * FROM event._verdicts(ses.id, prev_xmax, now_xmax, prev_xip, snap)
  ), grains AS MATERIALIZED (
    SELECT s.relation_oid AS relid, bool_or(s.kind IN ('row', 'field')) AS keyed
    FROM event.subscription s WHERE s.session_id = ses.id GROUP BY s.relation_oid
  ), shapes AS MATERIALIZED (
    SELECT sh.id AS shape, sh.relid, sh.schema_name, sh.relation_name, sh.columns, sh.key_columns, v.hidden, v.rls,
           g.keyed OR cardinality(v.hidden) > 0 AS must_split,
           ARRAY(SELECT array_position(sh.columns, k) FROM unnest(sh.key_columns) WITH ORDINALITY u(k, o) ORDER BY u.o) AS key_pos,
           CASE WHEN cardinality(v.hidden) = 0 THEN NULL
                ELSE ARRAY(SELECT o::integer FROM unnest(sh.columns) WITH ORDINALITY u(col, o) WHERE NOT (u.col = ANY (v.hidden))) END AS visible_pos,
           CASE WHEN sh.key_columns IS NULL OR sh.identity_columns IS NULL THEN NULL::text[]
                ELSE ARRAY(SELECT DISTINCT k FROM unnest(sh.key_columns || sh.identity_columns) k
                           WHERE NOT (k = ANY (v.hidden))) END AS delete_columns
    FROM event.shape sh
    JOIN views v ON v.relid = sh.relid AND v.visible
    JOIN grains g ON g.relid = sh.relid
    WHERE sh.id IN (SELECT DISTINCT c.shape FROM changes c)
  ), keyed AS MATERIALIZED (
    SELECT c.id AS change_id, c.xid, c.relid, c.op, c.captured_at, c.new_row AS new_image, c.old_image,
           x.shape, x.schema_name, x.relation_name, x.columns, x.key_columns, x.hidden, x.rls, x.key_pos, x.visible_pos,
           x.delete_columns, f.nf, f.oldf,
           ARRAY(SELECT event._unquote(f.nf[p]) FROM unnest(x.key_pos) WITH ORDINALITY u(p, o) ORDER BY u.o) AS new_key,
           ARRAY(SELECT event._unquote(f.oldf[p]) FROM unnest(x.key_pos) WITH ORDINALITY u(p, o) ORDER BY u.o) AS old_key
    FROM (SELECT c.*, c.old_row AS old_image FROM changes c) c
    JOIN shapes x ON x.shape = c.shape
    CROSS JOIN LATERAL (
      SELECT CASE WHEN c.op = 'u' OR (c.op = 'i' AND x.must_split) THEN event._fields(c.new_row) END AS nf,
             CASE WHEN c.op = 'u' OR (c.op = 'd' AND x.must_split) THEN event._fields(c.old_row) END AS oldf) f
  ), pairs AS MATERIALIZED (
    SELECT k.*, s.id AS subscription_id, s.kind, s.pk_values AS sub_key, s.column_name AS sub_column,
           s.created_at AS sub_created, s.columns AS sub_columns,
           (k.key_columns IS NULL OR k.new_key IS DISTINCT FROM k.old_key) AS key_changed,
           -- bit 1: the new row passes the filter and policies; bit 2: the old one
           CASE WHEN s.filter IS NULL AND NOT k.rls THEN 3 ELSE coalesce(vd.bits, 0) END AS passes,
           CASE WHEN s.columns IS NULL THEN k.hidden
                ELSE k.hidden || ARRAY(SELECT c FROM unnest(k.columns) c WHERE NOT (c = ANY (s.columns))) END AS sub_hidden
    FROM keyed k
    JOIN event.subscription s ON s.session_id = ses.id AND s.relation_oid = k.relid
    LEFT JOIN verdicts vd ON vd.subscription_id = s.id AND vd.change_id = k.change_id
    WHERE (NOT pg_visible_in_snapshot(k.xid, s.since) OR k.xid = s.since_xid)
      AND event._meta_row_visible(ses.owner_role, k.relid, k.change_id)
  ), events AS (
    SELECT p.change_id, p.sub_created, p.subscription_id, e.seq, e.operation, p.kind, p.relid, p.shape,
           p.schema_name, p.relation_name, p.key_columns, e.pk_values, e.column_name, e.new_row, e.old_row,
           e.payload_columns, p.sub_hidden AS hidden, e.reason, p.xid, p.captured_at
    FROM pairs p
    CROSS JOIN LATERAL (
      SELECT 0 AS seq, 'row_insert' AS operation, NULL::text[] AS pk_values, NULL::text AS column_name,
             CASE WHEN p.visible_pos IS NULL THEN p.new_image ELSE event._literal(p.nf, p.visible_pos) END AS new_row,
             NULL::text AS old_row, NULL::text[] AS payload_columns, NULL::text AS reason
      WHERE p.op = 'i' AND p.kind IN ('table', 'column') AND p.passes & 1 = 1
      UNION ALL
      SELECT 0, 'row_delete', NULL, NULL, NULL,
             CASE WHEN p.visible_pos IS NULL THEN p.old_image ELSE event._literal(p.oldf, p.visible_pos) END,
             p.delete_columns, CASE WHEN p.op = 'u' AND NOT p.key_changed THEN 'filter' END
      WHERE (p.op = 'd' OR (p.op = 'u' AND p.key_changed AND p.passes & 2 = 2)
             OR (p.op = 'u' AND NOT p.key_changed AND p.passes = 2))
        AND (p.op <> 'd' OR p.passes & 2 = 2)
        AND (p.kind IN ('table', 'column') OR p.sub_key = p.old_key)
      UNION ALL
      SELECT 1, 'row_insert', NULL, NULL,
             CASE WHEN p.visible_pos IS NULL THEN p.new_image ELSE event._literal(p.nf, p.visible_pos) END, NULL, NULL,
             CASE WHEN NOT p.key_changed THEN 'filter' END
      WHERE p.op = 'u'
        AND ((p.key_changed AND p.passes & 1 = 1 AND p.kind IN ('table', 'column'))
             OR (NOT p.key_changed AND p.passes = 1
                 AND (p.kind IN ('table', 'column') OR p.sub_key = p.old_key)))
      UNION ALL
      -- one pass over the fields (subscripting a long text array is not O(1))
      SELECT f.pos::integer, 'field_update', NULL, f.col,
             event._literal(p.nf, p.key_pos || f.pos::integer), event._literal(p.oldf, p.key_pos || f.pos::integer),
             ARRAY[f.col], NULL
      FROM unnest(p.columns, p.nf, p.oldf) WITH ORDINALITY AS f(col, nv, ov, pos)
      WHERE p.op = 'u' AND NOT p.key_changed AND p.passes = 3
        AND f.nv IS DISTINCT FROM f.ov
        AND NOT (f.col = ANY (p.hidden))
        AND (p.sub_columns IS NULL OR f.col = ANY (p.sub_columns))
        AND (p.kind IN ('table', 'row') OR p.sub_column = f.col)
        AND (p.kind IN ('table', 'column') OR p.sub_key = p.old_key)
      UNION ALL
      SELECT 0, 'truncate', NULL, NULL, NULL, NULL, NULL, NULL
      WHERE p.op = 't' AND p.kind IN ('table', 'column')
      UNION ALL
      SELECT 0, 'row_delete', p.sub_key, NULL, NULL, NULL, NULL, NULL
      WHERE p.op = 't' AND p.kind IN ('row', 'field')
    ) e
  ), inserted AS (
    INSERT INTO event.inbox (session_id, id, subscription_id, subscription_type, operation, relid, shape,
                             relation_schema, relation_name, pk_columns, pk_values, column_name,
                             new_row, old_row, payload_columns, hidden, reason, transaction_id, created_at)
    SELECT ses.id, nextval('event.event_id_seq'), o.subscription_id, o.kind, o.operation, o.relid, o.shape,
           o.schema_name, o.relation_name, o.key_columns, o.pk_values, o.column_name,
           o.new_row, o.old_row, o.payload_columns, o.hidden, o.reason, o.xid::text::bigint, o.captured_at
    FROM (SELECT * FROM events ev
          ORDER BY ev.change_id, array_position(ARRAY['table', 'column', 'row', 'field'], ev.kind),
                   ev.sub_created, ev.subscription_id, ev.seq OFFSET 0) o
    WHERE ses.overflowed_at IS NULL
    RETURNING id
  )
  SELECT (SELECT count(*) FROM events), count(*), min(i.id), max(i.id) INTO matched, added, first_id, last_id
  FROM inserted i;

  IF ses.overflowed_at IS NULL AND cap IS NOT NULL AND added > 0 AND ses.pending + added > cap THEN
    -- Past the cap: none of these, one marker, and nothing more until resumed.
    DELETE FROM event.inbox q WHERE q.session_id = ses.id AND q.id BETWEEN first_id AND last_id;
    marker := nextval('event.event_id_seq');
    INSERT INTO event.inbox (session_id, id, operation, event, created_at)
    VALUES (ses.id, marker, 'overflow',
            jsonb_build_object('id', marker, 'operation', 'overflow', 'subscription_id', NULL,
                               'max_pending', cap, 'events_dropped', added,
                               'transaction_id', NULL, 'timestamp', now()),
            now());
    UPDATE event.session s
       SET cursor = snap, overflowed_at = now(), overflow_event_id = marker,
           events_dropped = s.events_dropped + added
     WHERE s.id = ses.id;
    RETURN;
  END IF;
  IF ses.overflowed_at IS NOT NULL THEN
    UPDATE event.session s SET cursor = snap, events_dropped = s.events_dropped + matched WHERE s.id = ses.id;
    RETURN;
  END IF;
  UPDATE event.session s SET cursor = snap, events_captured = s.events_captured + added WHERE s.id = ses.id;
END
$$;
