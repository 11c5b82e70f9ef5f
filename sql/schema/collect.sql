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

-- Hot helpers below have no fixed search_path, so that the planner can inline
-- the single expressions among them into the statements that call them (all
-- of those fix theirs; _fields and _literal, with a sub-select, are not
-- inlined); every name in them is schema-qualified.

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

-- The record literal of a whole row of width columns from a literal of the
-- columns at positions (ascending) only, as a delete stored by key keeps
-- them (capture.sql): the other fields empty, that is NULL. A field's
-- quoting does not depend on the others, so the fields are moved as they
-- are. (Collect does the common case, columns side by side, inline.)
CREATE FUNCTION event._key_literal(key_literal text, positions integer[], width integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT '(' OPERATOR(pg_catalog.||)
         pg_catalog.string_agg(COALESCE(f.v[pg_catalog.array_position(positions, g.n)], ''), ',' ORDER BY g.n)
         OPERATOR(pg_catalog.||) ')'
  FROM (SELECT event._fields(key_literal) AS v) f, pg_catalog.generate_series(1, width) AS g(n)
$$;

-- What owner_role may read of relid now: whether at all, and the columns it
-- may not SELECT. Not at all: no SELECT on any column, no USAGE on the
-- schema, or a key column hidden. (Row-level security is checked row by
-- row, filters.sql.)
CREATE FUNCTION event._reader_view(owner_role oid, relid oid)
RETURNS TABLE (visible boolean, hidden text[], rls boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY
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
  FROM pg_class c WHERE c.oid = relid;
END
$$;

-- The snapshot to collect up to, with this transaction itself counted as in
-- progress: a session's events are those of committed transactions, so the
-- collecting transaction's own changes (if it wrote any) come with the first
-- collect after it commits, never twice.
CREATE FUNCTION event._collect_snapshot() RETURNS pg_snapshot
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT CASE WHEN o.x IS NULL OR o.x >= pg_snapshot_xmax(o.snap) THEN o.snap
              ELSE (least(pg_snapshot_xmin(o.snap), o.x)::text || ':' || pg_snapshot_xmax(o.snap)::text || ':'
                    || array_to_string(ARRAY(SELECT DISTINCT u FROM unnest(ARRAY(SELECT pg_snapshot_xip(o.snap)) || o.x) u
                                             ORDER BY u), ','))::pg_snapshot END
  FROM (SELECT pg_current_snapshot() AS snap, pg_current_xact_id_if_assigned() AS x) o);
END
$$;

-- The sessions of session_ids the caller may use: its own role's (SET ROLE's,
-- else the login's; a definer's current_user is its owner), or any for
-- aqevent_admin and superusers.
CREATE FUNCTION event._collectable(session_ids uuid[]) RETURNS uuid[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT coalesce(array_agg(s.id ORDER BY s.id), '{}')
  FROM event.session s
  JOIN pg_roles r ON r.rolname = CASE current_setting('role') WHEN 'none' THEN session_user::text
                                 ELSE current_setting('role') END
  WHERE s.id = ANY (session_ids)
    AND (r.rolsuper OR pg_has_role(r.oid, s.owner_role, 'MEMBER') OR pg_has_role(r.oid, 'aqevent_admin', 'MEMBER')));
END
$$;

-- Collects one session. Returns nothing, and refuses (42704, as for a
-- session that does not exist) a caller that could not use the session
-- itself: it is callable by any aqevent_user, and locks the session row
-- while it runs.
CREATE FUNCTION event._collect(session_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF event._collect_many(ARRAY[session_id]) = 0 THEN
    RAISE EXCEPTION 'session "%" does not exist', session_id USING ERRCODE = 'undefined_object';
  END IF;
END
$$;

-- Collects many sessions: the sessions of session_ids the caller may use (the
-- others are passed over; event._collect refuses them). A session with
-- nothing of its tables committed since its cursor costs one index probe
-- and no write (its cursor moves when far behind, so that the probe stays
-- short). The others are locked, in id order, and matched a batch at a time:
-- sessions together up to about 5,000 changes to match (a session with more
-- is a batch of its own), so that one statement's work stays bounded.
-- Returns how many of the sessions the caller may use.
CREATE FUNCTION event._collect_many(session_ids uuid[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off
SET enable_mergejoin = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  snap pg_snapshot := event._collect_snapshot();
  now_xmax xid8 := pg_snapshot_xmax(snap);
  usable integer;
  due uuid[];
  due_changes bigint[];
  locked event.session[];
  batch event.session[] := '{}';
  batch_changes bigint := 0;
  item record;
BEGIN
  WITH probed AS MATERIALIZED (
    SELECT s.id, s.cursor, pg_snapshot_xmax(s.cursor) AS prev_xmax,
           ARRAY(SELECT pg_snapshot_xip(s.cursor)) AS prev_xip,
           ARRAY(SELECT DISTINCT x.relation_oid FROM event.subscription x WHERE x.session_id = s.id) AS relids
    FROM event.session s WHERE s.id = ANY (event._collectable(session_ids))
  ), judged AS MATERIALIZED (
    SELECT p.id, p.cursor, p.prev_xmax,
           (SELECT count(*) FROM (SELECT 1 FROM event.change c
                                  WHERE c.xid >= p.prev_xmax AND c.xid < now_xmax AND c.relid = ANY (p.relids)
                                    AND pg_visible_in_snapshot(c.xid, snap) LIMIT 5000) z)
           + (SELECT count(*) FROM (SELECT 1 FROM event.change c
                                    WHERE c.xid = ANY (p.prev_xip) AND c.relid = ANY (p.relids)
                                      AND pg_visible_in_snapshot(c.xid, snap) LIMIT 5000) z) AS changes
    FROM probed p
  ), moved AS (
    UPDATE event.session s SET cursor = snap
    FROM judged j
    WHERE s.id = j.id AND j.changes = 0 AND now_xmax::text::bigint - j.prev_xmax::text::bigint > 10000
      AND s.cursor::text = j.cursor::text
  )
  SELECT count(*), array_agg(j.id ORDER BY j.id) FILTER (WHERE j.changes > 0),
         array_agg(j.changes ORDER BY j.id) FILTER (WHERE j.changes > 0)
    INTO usable, due, due_changes
  FROM judged j;
  IF due IS NULL THEN
    RETURN usable;
  END IF;
  locked := ARRAY(SELECT s FROM event.session s WHERE s.id = ANY (due) ORDER BY s.id FOR UPDATE);
  snap := event._collect_snapshot();
  FOR item IN
    SELECT l AS ses, d.changes FROM unnest(locked) l JOIN unnest(due, due_changes) AS d(id, changes) ON d.id = l.id
    ORDER BY l.id
  LOOP
    IF cardinality(batch) > 0 AND batch_changes + item.changes > 5000 THEN
      PERFORM event._collect_locked(batch, snap);
      batch := '{}';
      batch_changes := 0;
    END IF;
    batch := batch || item.ses;
    batch_changes := batch_changes + item.changes;
  END LOOP;
  IF cardinality(batch) > 0 THEN
    PERFORM event._collect_locked(batch, snap);
  END IF;
  RETURN usable;
END
$$;

-- Matches the change log up to snap against the subscriptions of sessions
-- the caller has locked, in one statement, and moves their cursors to snap.
CREATE FUNCTION event._collect_locked(locked event.session[], snap pg_snapshot) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off
SET enable_mergejoin = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  now_xmax xid8 := pg_snapshot_xmax(snap);
  cap bigint := event._setting('max_pending_per_session');
  done_ids uuid[];
  done_matched bigint[];
  done_added bigint[];
  done_first bigint[];
  done_last bigint[];
  capped record;
  marker bigint;
BEGIN
  -- the inbox rows this statement inserts are counted in pending below (inbox.sql)
  PERFORM set_config('aqevent.collecting', 'on', true);
  WITH sess AS MATERIALIZED (
    SELECT l.id AS sid, l.owner_role, l.overflowed_at, pg_snapshot_xmax(l.cursor) AS prev_xmax,
           ARRAY(SELECT pg_snapshot_xip(l.cursor)) AS prev_xip,
           ARRAY(SELECT DISTINCT x.relation_oid FROM event.subscription x WHERE x.session_id = l.id) AS relids
    FROM unnest(locked) l
  ), changes AS MATERIALIZED (
    -- a delete stored by key (capture.sql) is one row per deleted row here, its
    -- old row a literal of the key and identity columns, the others NULL
    SELECT x.sid, x.owner_role, c.id, c.xid, c.relid, c.shape, c.op, c.new_row,
           CASE WHEN c.old_keys IS NULL THEN c.old_row
                WHEN k.side_by_side THEN '(' || k.before || substr(k.literal, 2, length(k.literal) - 2) || k.after || ')'
                ELSE event._key_literal(k.literal, k.positions, k.width) END AS old_row,
           c.captured_at, coalesce(k.ord, 0) AS ord, c.old_keys IS NOT NULL AS keys_only
    FROM sess x
    CROSS JOIN LATERAL (
      SELECT c.* FROM event.change c
      WHERE c.xid >= x.prev_xmax AND c.xid < now_xmax AND c.relid = ANY (x.relids)
        AND pg_visible_in_snapshot(c.xid, snap)
      UNION ALL
      SELECT c.* FROM event.change c
      WHERE c.xid = ANY (x.prev_xip) AND c.relid = ANY (x.relids)
        AND pg_visible_in_snapshot(c.xid, snap)) c
    LEFT JOIN LATERAL (
      SELECT u.literal, u.ord, w.positions, w.width, w.side_by_side, w.before, w.after
      FROM (SELECT p.positions, p.width,
                   p.positions[cardinality(p.positions)] - p.positions[1] = cardinality(p.positions) - 1 AS side_by_side,
                   repeat(',', p.positions[1] - 1) AS before, repeat(',', p.width - p.positions[cardinality(p.positions)]) AS after
            FROM (SELECT event._delete_key_positions(c.shape) AS positions,
                         (SELECT cardinality(sh.columns) FROM event.shape sh WHERE sh.id = c.shape) AS width
                  WHERE c.old_keys IS NOT NULL) p) w
      CROSS JOIN unnest(c.old_keys) WITH ORDINALITY AS u(literal, ord)) k ON true
  ), views AS MATERIALIZED (
    SELECT o.owner_role, o.relid, v.visible, v.hidden, v.rls
    FROM (SELECT DISTINCT x.owner_role, r.relid FROM sess x CROSS JOIN unnest(x.relids) AS r(relid)) o
    CROSS JOIN LATERAL event._reader_view(o.owner_role, o.relid) v
  ), verdicts AS MATERIALIZED (
    SELECT x.sid, v.*
    FROM sess x CROSS JOIN LATERAL event._verdicts(x.sid, x.prev_xmax, now_xmax, x.prev_xip, snap) v
    -- only sessions with changes to match and a subscription to check (a filter, or row-level security)
    WHERE x.sid IN (SELECT DISTINCT c.sid FROM changes c)
      AND (EXISTS (SELECT 1 FROM event.subscription f WHERE f.session_id = x.sid AND f.filter IS NOT NULL)
           OR EXISTS (SELECT 1 FROM views w WHERE w.owner_role = x.owner_role AND w.relid = ANY (x.relids) AND w.rls))
  ), grains AS MATERIALIZED (
    SELECT s.session_id AS sid, s.relation_oid AS relid, bool_or(s.kind IN ('row', 'field')) AS keyed
    FROM event.subscription s WHERE s.session_id IN (SELECT x.sid FROM sess x) GROUP BY s.session_id, s.relation_oid
  ), shapes AS MATERIALIZED (
    SELECT u.sid, sh.id AS shape, sh.relid, sh.schema_name, sh.relation_name, sh.columns, sh.key_columns, v.hidden, v.rls,
           event._is_meta_view(sh.relid) AS is_meta,
           g.keyed OR cardinality(v.hidden) > 0 AS must_split,
           ARRAY(SELECT array_position(sh.columns, k) FROM unnest(sh.key_columns) WITH ORDINALITY u(k, o) ORDER BY u.o) AS key_pos,
           CASE WHEN cardinality(v.hidden) = 0 THEN NULL
                ELSE ARRAY(SELECT o::integer FROM unnest(sh.columns) WITH ORDINALITY u(col, o) WHERE NOT (u.col = ANY (v.hidden))) END AS visible_pos,
           CASE WHEN sh.key_columns IS NULL OR sh.identity_columns IS NULL THEN NULL::text[]
                ELSE ARRAY(SELECT DISTINCT k FROM unnest(sh.key_columns || sh.identity_columns) k
                           WHERE NOT (k = ANY (v.hidden))) END AS delete_columns
    FROM (SELECT DISTINCT c.sid, c.owner_role, c.shape FROM changes c) u
    JOIN event.shape sh ON sh.id = u.shape
    JOIN views v ON v.owner_role = u.owner_role AND v.relid = sh.relid AND v.visible
    JOIN grains g ON g.sid = u.sid AND g.relid = sh.relid
  ), keyed AS MATERIALIZED (
    SELECT c.sid, c.owner_role, c.id AS change_id, c.ord, c.keys_only, c.xid, c.relid, c.op, c.captured_at,
           c.new_row AS new_image,
           c.old_row AS old_image,
           x.shape, x.schema_name, x.relation_name, x.columns, x.key_columns, x.hidden, x.rls, x.is_meta, x.key_pos, x.visible_pos,
           x.delete_columns, f.nf, f.oldf,
           -- keys only where the fields were split (a sub-select per row is dear; one column needs none)
           CASE WHEN f.nf IS NULL THEN NULL
                WHEN cardinality(x.key_pos) = 1 THEN ARRAY[event._unquote(f.nf[x.key_pos[1]])]
                ELSE ARRAY(SELECT event._unquote(f.nf[p]) FROM unnest(x.key_pos) WITH ORDINALITY u(p, o) ORDER BY u.o)
           END AS new_key,
           CASE WHEN f.oldf IS NULL THEN NULL
                WHEN cardinality(x.key_pos) = 1 THEN ARRAY[event._unquote(f.oldf[x.key_pos[1]])]
                ELSE ARRAY(SELECT event._unquote(f.oldf[p]) FROM unnest(x.key_pos) WITH ORDINALITY u(p, o) ORDER BY u.o)
           END AS old_key
    FROM changes c
    JOIN shapes x ON x.sid = c.sid AND x.shape = c.shape
    CROSS JOIN LATERAL (
      SELECT CASE WHEN c.op = 'u' OR (c.op = 'i' AND x.must_split) THEN event._fields(c.new_row) END AS nf,
             CASE WHEN c.op = 'u' OR (c.op = 'd' AND x.must_split) THEN event._fields(c.old_row) END AS oldf) f
  ), pairs AS MATERIALIZED (
    SELECT k.*, s.id AS subscription_id, s.kind, s.pk_values AS sub_key, s.column_name AS sub_column,
           s.created_at AS sub_created, s.columns AS sub_columns,
           (k.key_columns IS NULL OR k.new_key IS DISTINCT FROM k.old_key) AS key_changed,
           -- bit 1: the new row passes the filter and policies; bit 2: the old one
           -- (a delete stored by key cannot be checked: it was stored so because nothing needed it to be,
           -- or it ran as the first filter on the table was made, capture.sql)
           CASE WHEN (s.filter IS NULL AND NOT k.rls) OR k.keys_only THEN 3 ELSE coalesce(vd.bits, 0) END AS passes,
           CASE WHEN s.columns IS NULL THEN k.hidden
                ELSE k.hidden || ARRAY(SELECT c FROM unnest(k.columns) c WHERE NOT (c = ANY (s.columns))) END AS sub_hidden
    FROM keyed k
    JOIN event.subscription s ON s.session_id = k.sid AND s.relation_oid = k.relid
    LEFT JOIN verdicts vd ON vd.sid = k.sid AND vd.subscription_id = s.id AND vd.change_id = k.change_id
    WHERE (NOT pg_visible_in_snapshot(k.xid, s.since) OR k.xid = s.since_xid)
      AND (NOT k.is_meta OR event._meta_change_visible(k.owner_role, k.change_id))
  ), events AS MATERIALIZED (
    SELECT p.sid, p.change_id, p.ord, p.sub_created, p.subscription_id, e.seq, e.operation, p.kind, p.relid, p.shape,
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
    SELECT o.sid, nextval('event.event_id_seq'), o.subscription_id, o.kind, o.operation, o.relid, o.shape,
           o.schema_name, o.relation_name, o.key_columns, o.pk_values, o.column_name,
           o.new_row, o.old_row, o.payload_columns, o.hidden, o.reason, o.xid::text::bigint, o.captured_at
    FROM (SELECT ev.* FROM events ev JOIN sess x ON x.sid = ev.sid AND x.overflowed_at IS NULL
          ORDER BY ev.sid, ev.change_id, ev.ord, array_position(ARRAY['table', 'column', 'row', 'field'], ev.kind),
                   ev.sub_created, ev.subscription_id, ev.seq OFFSET 0) o
    RETURNING session_id, id
  ), matched AS (
    SELECT ev.sid, count(*) AS n FROM events ev GROUP BY ev.sid
  ), added AS (
    SELECT i.session_id AS sid, count(*) AS n, min(i.id) AS first_id, max(i.id) AS last_id
    FROM inserted i GROUP BY i.session_id
  )
  SELECT array_agg(x.sid ORDER BY x.sid), array_agg(coalesce(m.n, 0) ORDER BY x.sid),
         array_agg(coalesce(a.n, 0) ORDER BY x.sid), array_agg(a.first_id ORDER BY x.sid),
         array_agg(a.last_id ORDER BY x.sid)
    INTO done_ids, done_matched, done_added, done_first, done_last
  FROM sess x LEFT JOIN matched m ON m.sid = x.sid LEFT JOIN added a ON a.sid = x.sid;
  PERFORM set_config('aqevent.collecting', '', true);

  -- Past the cap: none of this pass's events, one marker, and nothing more until resumed.
  FOR capped IN
    SELECT l.id, d.added, d.first_id, d.last_id
    FROM unnest(locked) l JOIN unnest(done_ids, done_added, done_first, done_last) AS d(id, added, first_id, last_id)
      ON d.id = l.id
    WHERE l.overflowed_at IS NULL AND cap IS NOT NULL AND d.added > 0 AND l.pending + d.added > cap
    ORDER BY l.id
  LOOP
    marker := nextval('event.event_id_seq');
    -- counted first: the delete below takes them off again
    UPDATE event.session s
       SET cursor = snap, overflowed_at = now(), overflow_event_id = marker,
           events_dropped = s.events_dropped + capped.added, pending = s.pending + capped.added
     WHERE s.id = capped.id;
    DELETE FROM event.inbox q WHERE q.session_id = capped.id AND q.id BETWEEN capped.first_id AND capped.last_id;
    INSERT INTO event.inbox (session_id, id, operation, event, created_at)
    VALUES (capped.id, marker, 'overflow',
            jsonb_build_object('id', marker, 'operation', 'overflow', 'subscription_id', NULL,
                               'max_pending', cap, 'events_dropped', capped.added,
                               'transaction_id', NULL, 'timestamp', now()),
            now());
  END LOOP;
  UPDATE event.session s
     SET cursor = snap, pending = s.pending + d.added,
         events_dropped = s.events_dropped + CASE WHEN l.overflowed_at IS NULL THEN 0 ELSE d.matched END,
         events_captured = s.events_captured + CASE WHEN l.overflowed_at IS NULL THEN d.added ELSE 0 END
    FROM unnest(locked) l
    JOIN unnest(done_ids, done_matched, done_added) AS d(id, matched, added) ON d.id = l.id
   WHERE s.id = l.id
     AND NOT (l.overflowed_at IS NULL AND cap IS NOT NULL AND d.added > 0 AND l.pending + d.added > cap);
END
$$;
