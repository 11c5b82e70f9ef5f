-- Capture: what a writer's statement leaves behind.
--
-- The writer pays once. Each captured table has four statement-level AFTER
-- triggers (and a BEFORE TRUNCATE one that marks the table) that append the
-- statement's rows to the shared change log, event.change, once, whatever the number of sessions or subscriptions, and
-- wake readers when any are listening. Nothing else happens in the writer's
-- transaction: no subscription matching, no privilege checks, no caps, no
-- per-session rows, no reads of rows other writers write, and no user code
-- (rows are stored as their text form, made by the types' output functions;
-- JSON is rendered by the reader, with the reader's rights: render.sql).
--
-- Rows are stored whole, as record literals, under fixed settings (DateStyle,
-- TimeZone, …) so that their text does not depend on the writer's session.
-- An UPDATE stores each row's old and new image side by side, paired in the
-- order PostgreSQL updated them; the reader compares them column by column.
-- A DELETE stores, as REPLICA IDENTITY asks, only what its row_delete
-- carries (the key and the identity columns) as one array per statement,
-- unless the reader needs the whole old rows to decide who sees the delete
-- (a filter on the table, row-level security, REPLICA IDENTITY FULL, no key):
-- then each whole old row, as before. Each table has its own DELETE trigger
-- function for this (_install_delete_capture), made from its shape.
--
-- A table's shape (event.shape: its name, columns, types and key when its
-- triggers were made) is the trigger argument, so the writer does not look
-- it up. DDL on a captured table makes a new shape (ddl.sql).

CREATE TABLE event.shape (
  id               integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  relid            oid         NOT NULL,
  schema_name      text        NOT NULL,
  relation_name    text        NOT NULL,
  columns          text[]      NOT NULL,
  types            text[]      NOT NULL,
  key_columns      text[],
  replica_identity "char"      NOT NULL,
  identity_columns text[],
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX shape_relid_idx ON event.shape (relid);

CREATE SEQUENCE event.change_id_seq;

CREATE TABLE event.change (
  id          bigint      NOT NULL DEFAULT nextval('event.change_id_seq'),
  xid         xid8        NOT NULL DEFAULT pg_current_xact_id(),
  relid       oid         NOT NULL,
  shape       integer     NOT NULL,
  op          "char"      NOT NULL CONSTRAINT change_op_check CHECK (op IN ('i', 'u', 'd', 't')),
  new_row     text,
  old_row     text,
  old_keys    text[],
  captured_at timestamptz NOT NULL DEFAULT now()
);

-- Deletes stored by key (event._delete_capture_source) are one row per
-- statement, or per chunk of one; lz4 where the server has it.
DO $$
BEGIN
  ALTER TABLE event.change ALTER COLUMN old_keys SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
  NULL;
END
$$;

ALTER SEQUENCE event.change_id_seq OWNED BY event.change.id;

-- Readers find what committed since their snapshot by transaction id.
CREATE INDEX change_xid_idx ON event.change (xid);

-- Readers parked in LISTEN "aqevent", one row per backend. Writers notify only
-- when a row exists; readers write it (at READ COMMITTED), writers only read.
CREATE TABLE event.listener (
  pid           integer     NOT NULL,
  backend_start timestamptz NOT NULL,
  since         timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION event._capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET "DateStyle" = 'ISO, MDY'
SET "IntervalStyle" = 'postgres'
SET "TimeZone" = 'UTC'
SET extra_float_digits = 1
SET bytea_output = 'hex'
SET lc_monetary = 'C'
AS $$
DECLARE
  appended bigint;
BEGIN
  -- TRUNCATE of the table also truncates its partitions and children, whose
  -- own BEFORE TRUNCATE triggers (_capture_partition) then fire: mark the
  -- table as truncating so that they do not report their rows one by one;
  -- the table's AFTER TRUNCATE reports the truncate and unmarks it.
  IF TG_WHEN = 'BEFORE' THEN
    PERFORM set_config('aqevent.truncating', coalesce(current_setting('aqevent.truncating', true), '') || ',' || TG_RELID || ',', true);
    RETURN NULL;
  END IF;
  -- Whole rows as n.*: a column named like the alias must not stand in for it.
  IF TG_OP = 'INSERT' THEN
    INSERT INTO event.change (relid, shape, op, new_row)
    SELECT TG_RELID, TG_ARGV[0]::integer, 'i', format('%s', n.*) FROM aqevent_new n;
  ELSIF TG_OP = 'UPDATE' THEN
    IF NOT EXISTS (SELECT 1 FROM aqevent_new OFFSET 1) THEN
      -- at most one row: nothing to pair
      INSERT INTO event.change (relid, shape, op, old_row, new_row)
      SELECT TG_RELID, TG_ARGV[0]::integer, 'u', format('%s', o.*), format('%s', n.*) FROM aqevent_old o, aqevent_new n;
    ELSE
      INSERT INTO event.change (relid, shape, op, old_row, new_row)
      SELECT TG_RELID, TG_ARGV[0]::integer, 'u', o.r, n.r
      FROM (SELECT row_number() OVER () AS i, format('%s', x.*) AS r FROM aqevent_old x) o
      JOIN (SELECT row_number() OVER () AS i, format('%s', x.*) AS r FROM aqevent_new x) n ON n.i = o.i;
    END IF;
  ELSE
    -- (DELETE has a trigger function of its own per table: _delete_capture_source)
    PERFORM set_config('aqevent.truncating',
                       replace(coalesce(current_setting('aqevent.truncating', true), ''), ',' || TG_RELID || ',', ''), true);
    INSERT INTO event.change (relid, shape, op) VALUES (TG_RELID, TG_ARGV[0]::integer, 't');
  END IF;
  GET DIAGNOSTICS appended = ROW_COUNT;
  IF appended > 0 AND EXISTS (SELECT 1 FROM event.listener) THEN
    PERFORM pg_notify('aqevent', TG_RELID::text);
  END IF;
  RETURN NULL;
END
$$;

-- The positions, in the shape's columns, of what a delete stored by key
-- keeps: the key's columns and the replica identity's. NULL when deletes of
-- the shape are stored whole (REPLICA IDENTITY FULL, or no key).
CREATE FUNCTION event._delete_key_positions(shape integer) RETURNS integer[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN s.key_columns IS NULL OR s.identity_columns IS NULL THEN NULL
              ELSE ARRAY(SELECT u.o::integer FROM unnest(s.columns) WITH ORDINALITY u(c, o)
                         WHERE u.c = ANY (s.key_columns) OR u.c = ANY (s.identity_columns) ORDER BY u.o) END
  FROM event.shape s WHERE s.id = _delete_key_positions.shape
$$;

CREATE FUNCTION event._delete_capture_name(relid oid) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 'capture_delete_' || relid::text $$;

-- The body of a table's DELETE trigger function. Whole rows (one change row
-- each) when the reader may need them: a subscription with a filter,
-- row-level security enabled, or a shape without a key or with REPLICA
-- IDENTITY FULL. Otherwise one change row per statement whose old_keys holds
-- a record literal of the key and identity columns of each deleted row
-- (_delete_key_positions, in the table's column order): a single array
-- when those columns are all of fixed width and the transaction has deleted
-- few enough rows of the table that it stays far below the 1 GB a value may
-- hold; else chunks of 100,000 rows, or 8 MB of text for keys of variable
-- width. (Deletes of a partition or child written to directly stay whole:
-- _capture_partition.)
CREATE FUNCTION event._delete_capture_source(relid oid, shape integer) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  positions integer[] := event._delete_key_positions(shape);
  key_row text;
  fixed boolean;
  row_width integer;
  stored text;
BEGIN
  IF positions IS NULL OR cardinality(positions) = 0
     OR (SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = _delete_capture_source.relid)
     OR EXISTS (SELECT 1 FROM event.subscription x
                WHERE x.relation_oid = _delete_capture_source.relid AND x.filter IS NOT NULL) THEN
    stored := 'INSERT INTO event.change (relid, shape, op, old_row) '
              'SELECT TG_RELID, TG_ARGV[0]::integer, ''d'', format(''%s'', o.*) FROM aqevent_old o;';
  ELSE
    SELECT format('ROW(%s)::text', string_agg(format('o.%I', a.attname), ', ' ORDER BY p.o)),
           bool_and(t.typlen > 0),
           sum(CASE WHEN t.typlen > 0 AND t.typlen <= 8 THEN 40 ELSE 120 END)::integer + 16
      INTO key_row, fixed, row_width
    FROM event.shape s
    CROSS JOIN LATERAL unnest(positions) WITH ORDINALITY p(pos, o)
    JOIN pg_attribute a ON a.attrelid = _delete_capture_source.relid AND a.attname = s.columns[p.pos] AND NOT a.attisdropped
    JOIN pg_type t ON t.oid = a.atttypid
    WHERE s.id = _delete_capture_source.shape;
    stored := format('INSERT INTO event.change (relid, shape, op, old_keys) '
                     'SELECT TG_RELID, TG_ARGV[0]::integer, ''d'', array_agg(x.k) '
                     'FROM (SELECT %s AS k, %s AS chunk FROM aqevent_old o) x GROUP BY x.chunk ORDER BY x.chunk;',
                     key_row,
                     CASE WHEN fixed THEN 'row_number() OVER () / 100000'
                          ELSE format('sum(octet_length(%s)) OVER (ROWS UNBOUNDED PRECEDING) / 8000000', key_row) END);
    IF fixed AND (SELECT c.relkind = 'r' AND NOT c.relhassubclass FROM pg_class c WHERE c.oid = _delete_capture_source.relid) THEN
      -- the transaction's count of deleted rows bounds this statement's
      stored := format('IF current_setting(''track_counts'') = ''on'' '
                       'AND pg_stat_get_xact_tuples_deleted(TG_RELID) <= %s THEN '
                       'INSERT INTO event.change (relid, shape, op, old_keys) '
                       'SELECT TG_RELID, TG_ARGV[0]::integer, ''d'', array_agg(%s) FROM aqevent_old o HAVING count(*) > 0; '
                       'ELSE %s END IF;',
                       400000000 / row_width, key_row, stored);
    END IF;
  END IF;
  RETURN format('DECLARE appended bigint; BEGIN %s GET DIAGNOSTICS appended = ROW_COUNT; '
                'IF appended > 0 AND EXISTS (SELECT 1 FROM event.listener) THEN '
                'PERFORM pg_notify(''aqevent'', TG_RELID::text); END IF; RETURN NULL; END', stored);
END
$$;

-- Makes (or remakes) the table's DELETE trigger function for the shape, when
-- its body is not already the one _delete_capture_source gives. Returns its
-- name. It takes no lock on the table: a subscription with a filter switches
-- it to whole rows without holding up writers (a delete whose statement ran
-- before that committed is stored by key: docs/concepts.md).
CREATE FUNCTION event._install_delete_capture(relid oid, shape integer) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  name text := event._delete_capture_name(relid);
  source text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('aqevent delete capture ' || relid::text, 0));
  source := event._delete_capture_source(relid, shape);
  IF NOT EXISTS (SELECT 1 FROM pg_proc p
                 WHERE p.pronamespace = 'event'::regnamespace AND p.proname = name AND p.pronargs = 0
                   AND p.prosrc = source) THEN
    EXECUTE format('CREATE OR REPLACE FUNCTION event.%I() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER '
                   'SET search_path = pg_catalog, pg_temp SET "DateStyle" = ''ISO, MDY'' '
                   'SET "IntervalStyle" = ''postgres'' SET "TimeZone" = ''UTC'' SET extra_float_digits = 1 '
                   'SET bytea_output = ''hex'' SET lc_monetary = ''C'' AS %L', name, source);
    EXECUTE format('REVOKE ALL ON FUNCTION event.%I() FROM PUBLIC', name);
  END IF;
  RETURN name;
END
$$;

-- The DELETE trigger function of a captured table, made again for its
-- current subscriptions and row-level security (after a subscription with a
-- filter comes or goes, and after ALTER TABLE).
CREATE FUNCTION event._renew_delete_capture(relid oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  shape integer := event._trigger_shape(relid);
BEGIN
  IF shape IS NOT NULL THEN
    PERFORM event._install_delete_capture(relid, shape);
  END IF;
END
$$;

-- A partition or inheritance child written to directly (a statement naming
-- it does not fire its parent's statement triggers): its rows as rows of the
-- captured table TG_ARGV[1], of shape TG_ARGV[0], column by column in that
-- table's order (a partition's own order may differ; a child's extra columns
-- are left out). TRUNCATE of it alone becomes a delete of each of its rows.
CREATE FUNCTION event._capture_partition() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET "DateStyle" = 'ISO, MDY'
SET "IntervalStyle" = 'postgres'
SET "TimeZone" = 'UTC'
SET extra_float_digits = 1
SET bytea_output = 'hex'
SET lc_monetary = 'C'
AS $$
DECLARE
  parent oid := TG_ARGV[1]::oid;
  shape integer := TG_ARGV[0]::integer;
  row_of text;
  appended bigint;
BEGIN
  SELECT format('format(''%%s'', ROW(%s)::%s)',
                string_agg(format('x.%I', c), ', ' ORDER BY o), parent::regclass)
    INTO row_of
  FROM event.shape s CROSS JOIN LATERAL unnest(s.columns) WITH ORDINALITY u(c, o) WHERE s.id = shape;
  IF TG_OP = 'INSERT' THEN
    EXECUTE format('INSERT INTO event.change (relid, shape, op, new_row) SELECT $1, $2, ''i'', %s FROM aqevent_new x',
                   row_of) USING parent, shape;
  ELSIF TG_OP = 'UPDATE' THEN
    EXECUTE format('INSERT INTO event.change (relid, shape, op, old_row, new_row) SELECT $1, $2, ''u'', o.r, n.r '
                   'FROM (SELECT row_number() OVER () AS i, %1$s AS r FROM aqevent_old x) o '
                   'JOIN (SELECT row_number() OVER () AS i, %1$s AS r FROM aqevent_new x) n ON n.i = o.i',
                   row_of) USING parent, shape;
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE format('INSERT INTO event.change (relid, shape, op, old_row) SELECT $1, $2, ''d'', %s FROM aqevent_old x',
                   row_of) USING parent, shape;
  ELSIF strpos(coalesce(current_setting('aqevent.truncating', true), ''), ',' || parent || ',') = 0 THEN
    -- TRUNCATE of this partition or child alone (BEFORE TRUNCATE): its rows
    -- are deleted rows of the table, read while they are still there.
    EXECUTE format('INSERT INTO event.change (relid, shape, op, old_row) SELECT $1, $2, ''d'', %s FROM ONLY %s x',
                   row_of, TG_RELID::regclass) USING parent, shape;
  END IF;
  GET DIAGNOSTICS appended = ROW_COUNT;
  IF appended > 0 AND EXISTS (SELECT 1 FROM event.listener) THEN
    PERFORM pg_notify('aqevent', parent::text);
  END IF;
  RETURN NULL;
END
$$;

-- The table's current shape, made if it changed since the last one (unless
-- make is false: then NULL when there is none yet).
CREATE FUNCTION event._current_shape(relid oid, make boolean DEFAULT true) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  now_shape record;
  found integer;
BEGIN
  SELECT n.nspname::text AS schema_name, c.relname::text AS relation_name, c.relreplident,
         ARRAY(SELECT a.attname::text FROM pg_attribute a
               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
         ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS types,
         event._primary_key(c.oid) AS key_columns,
         CASE WHEN event._is_meta_view(c.oid) THEN NULL ELSE CASE c.relreplident
           WHEN 'f' THEN NULL
           WHEN 'n' THEN '{}'::text[]
           WHEN 'i' THEN (SELECT array_agg(a.attname::text ORDER BY k.ord)
                          FROM pg_index i
                          CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                          WHERE i.indrelid = c.oid AND i.indisreplident)
           ELSE event._primary_key(c.oid) END END AS identity_columns
    INTO now_shape
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.oid = _current_shape.relid;
  SELECT s.id INTO found FROM event.shape s
  WHERE s.relid = _current_shape.relid AND s.schema_name = now_shape.schema_name
    AND s.relation_name = now_shape.relation_name AND s.columns = now_shape.columns
    AND s.types = now_shape.types AND s.key_columns IS NOT DISTINCT FROM now_shape.key_columns
    AND s.replica_identity = now_shape.relreplident
    AND s.identity_columns IS NOT DISTINCT FROM now_shape.identity_columns
  ORDER BY s.id DESC LIMIT 1;
  IF found IS NULL AND make THEN
    INSERT INTO event.shape (relid, schema_name, relation_name, columns, types, key_columns,
                             replica_identity, identity_columns)
    VALUES (relid, now_shape.schema_name, now_shape.relation_name, now_shape.columns, now_shape.types,
            now_shape.key_columns, now_shape.relreplident, now_shape.identity_columns)
    RETURNING id INTO found;
  END IF;
  RETURN found;
END
$$;

-- The shape id the table's capture triggers pass, or NULL when not captured.
CREATE FUNCTION event._trigger_shape(relid oid) RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT convert_from(substr(t.tgargs, 1, length(t.tgargs) - 1), 'SQL_ASCII')::integer
  FROM pg_trigger t
  WHERE t.tgrelid = relid AND t.tgname = 'aqevent_capture_insert'
    AND t.tgfoid = 'event._capture()'::regprocedure
$$;

CREATE FUNCTION event._is_captured(relid oid) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT event._trigger_shape(relid) IS NOT NULL OR event._is_meta_view(relid) $$;

-- (Re)creates the capture triggers with the table's current shape,
-- unless they already pass it. Takes SHARE ROW EXCLUSIVE on the table.
CREATE FUNCTION event._install_capture(relid oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  shape integer;
  rel text;
BEGIN
  -- The meta views are captured by the DDL trigger (catalog-diff.sql): bring
  -- its snapshot up to date, which it is unless nobody subscribed to them.
  IF event._is_meta_view(relid) THEN
    PERFORM event._catalog_sync(false);
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = relid AND c.relkind IN ('r', 'p')) THEN
    RETURN;
  END IF;
  -- Already captured with the current shape: nothing to do, and no lock (a
  -- subscriber must not hold one that writers wait for).
  IF event._trigger_shape(relid) IS NOT NULL AND event._trigger_shape(relid) = event._current_shape(relid, false) THEN
    PERFORM event._install_delete_capture(relid, event._trigger_shape(relid));
    PERFORM event._install_partition_capture(relid, event._trigger_shape(relid));
    RETURN;
  END IF;
  rel := relid::regclass::text;
  EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', rel);
  shape := event._current_shape(relid);
  IF event._trigger_shape(relid) IS NOT DISTINCT FROM shape THEN
    PERFORM event._install_delete_capture(relid, shape);
    PERFORM event._install_partition_capture(relid, shape);
    RETURN;
  END IF;
  PERFORM event._drop_capture_triggers(relid);
  EXECUTE format('CREATE TRIGGER aqevent_capture_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS aqevent_new '
                 'FOR EACH STATEMENT EXECUTE FUNCTION event._capture(%L)', rel, shape);
  EXECUTE format('CREATE TRIGGER aqevent_capture_update AFTER UPDATE ON %s '
                 'REFERENCING OLD TABLE AS aqevent_old NEW TABLE AS aqevent_new '
                 'FOR EACH STATEMENT EXECUTE FUNCTION event._capture(%L)', rel, shape);
  EXECUTE format('CREATE TRIGGER aqevent_capture_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS aqevent_old '
                 'FOR EACH STATEMENT EXECUTE FUNCTION event.%I(%L)', rel, event._install_delete_capture(relid, shape), shape);
  EXECUTE format('CREATE TRIGGER aqevent_capture_truncate AFTER TRUNCATE ON %s '
                 'FOR EACH STATEMENT EXECUTE FUNCTION event._capture(%L)', rel, shape);
  EXECUTE format('CREATE TRIGGER aqevent_capture_truncating BEFORE TRUNCATE ON %s '
                 'FOR EACH STATEMENT EXECUTE FUNCTION event._capture(%L)', rel, shape);
  PERFORM event._install_partition_capture(relid, shape);
END
$$;

-- The partitions and inheritance children of a table, at every level, and
-- the tables a table is one of. (PL/pgSQL: planned once per connection; the
-- DDL trigger and every subscribe call them.)
CREATE FUNCTION event._descendants(parent oid) RETURNS SETOF oid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY
  WITH RECURSIVE tree(relid) AS (
    SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = parent
    UNION
    SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid)
  SELECT t.relid FROM tree t JOIN pg_class c ON c.oid = t.relid WHERE c.relkind IN ('r', 'p');
END
$$;

CREATE FUNCTION event._ancestors(child oid) RETURNS SETOF oid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY
  WITH RECURSIVE up(relid) AS (
    SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = child
    UNION
    SELECT i.inhparent FROM pg_inherits i JOIN up u ON i.inhrelid = u.relid)
  SELECT u.relid FROM up u;
END
$$;

-- The partitions and inheritance children of a captured table (at every
-- level, made, attached or inheriting later too) capture what is written to
-- them directly as rows of that table, and a TRUNCATE of one of them alone
-- as deletes of its rows; tables detached from it (or NO INHERIT) stop. Each
-- is locked only when its triggers change.
CREATE FUNCTION event._install_partition_capture(parent oid, shape integer) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
  rel text;
  args text := format('%s\000%s\000', shape, parent);
BEGIN
  FOR r IN
    SELECT t.tgrelid AS relid, t.tgname FROM pg_trigger t
    WHERE t.tgname IN ('aqevent_parent_insert', 'aqevent_parent_update', 'aqevent_parent_delete',
                       'aqevent_parent_truncate')
      AND split_part(encode(t.tgargs, 'escape'), '\000', 2) = parent::text
      AND (encode(t.tgargs, 'escape') <> args OR t.tgrelid NOT IN (SELECT event._descendants(parent)))
    ORDER BY 1, 2
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', r.tgname, r.relid::regclass);
  END LOOP;
  FOR r IN
    SELECT d.relid FROM event._descendants(parent) AS d(relid)
    WHERE NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = d.relid AND t.tgname = 'aqevent_parent_insert')
    ORDER BY 1
  LOOP
    rel := r.relid::regclass::text;
    EXECUTE format('CREATE TRIGGER aqevent_parent_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS aqevent_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION event._capture_partition(%L, %L)', rel, shape, parent);
    EXECUTE format('CREATE TRIGGER aqevent_parent_update AFTER UPDATE ON %s '
                   'REFERENCING OLD TABLE AS aqevent_old NEW TABLE AS aqevent_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION event._capture_partition(%L, %L)', rel, shape, parent);
    EXECUTE format('CREATE TRIGGER aqevent_parent_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS aqevent_old '
                   'FOR EACH STATEMENT EXECUTE FUNCTION event._capture_partition(%L, %L)', rel, shape, parent);
    EXECUTE format('CREATE TRIGGER aqevent_parent_truncate BEFORE TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION event._capture_partition(%L, %L)', rel, shape, parent);
  END LOOP;
END
$$;

CREATE FUNCTION event._drop_capture_triggers(relid oid) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT tg.tgname FROM pg_trigger tg
    WHERE tg.tgrelid = relid AND tg.tgname IN ('aqevent_capture_insert', 'aqevent_capture_update',
                                              'aqevent_capture_delete', 'aqevent_capture_truncate',
                                              'aqevent_capture_truncating')
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, relid::regclass);
  END LOOP;
  -- and its partitions' (_install_partition_capture)
  FOR t IN
    SELECT tg.tgrelid, tg.tgname FROM pg_trigger tg
    WHERE tg.tgname IN ('aqevent_parent_insert', 'aqevent_parent_update', 'aqevent_parent_delete',
                        'aqevent_parent_truncate')
      AND split_part(encode(tg.tgargs, 'escape'), '\000', 2) = relid::text
    ORDER BY 1, 2
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass);
  END LOOP;
  IF EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = 'event'::regnamespace
             AND p.proname = event._delete_capture_name(relid) AND p.pronargs = 0) THEN
    EXECUTE format('DROP FUNCTION event.%I()', event._delete_capture_name(relid));
  END IF;
END
$$;

-- Removes the capture triggers of tables nobody subscribes to any more,
-- skipping any table it cannot lock at once. Returns how many tables.
CREATE FUNCTION event._uninstall_unused_capture() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
  done integer := 0;
BEGIN
  FOR r IN
    SELECT DISTINCT t.tgrelid AS relid FROM pg_trigger t
    WHERE t.tgname = 'aqevent_capture_insert' AND t.tgfoid = 'event._capture()'::regprocedure
      AND NOT EXISTS (SELECT 1 FROM event.subscription s WHERE s.relation_oid = t.tgrelid)
      AND NOT EXISTS (SELECT 1 FROM event.captured_table k WHERE k.relid = t.tgrelid)
  LOOP
    BEGIN
      EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE NOWAIT', r.relid::regclass);
      PERFORM event._drop_capture_triggers(r.relid);
      done := done + 1;
    EXCEPTION WHEN lock_not_available THEN
      NULL;  -- writers in flight: next time
    END;
  END LOOP;
  RETURN done;
END
$$;

-- Tables whose owner enabled capture before anyone subscribed (so that
-- subscribers with SELECT only need not lock them).
CREATE TABLE event.captured_table (
  relid      oid         PRIMARY KEY,
  enabled_by oid         NOT NULL,
  enabled_at timestamptz NOT NULL DEFAULT now()
);

-- For the table's owner (or a role that could lock it anyway): capture it
-- from now on, so that roles with only SELECT can subscribe. The policy on
-- event.captured_table checks, as the caller, that it may lock the table; the
-- trigger below installs the capture triggers.
CREATE FUNCTION event.enable_capture(relation regclass) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF relation IS NULL THEN
    RAISE EXCEPTION 'relation must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT event._may_lock(relation) THEN
    RAISE EXCEPTION 'permission denied: role % may not enable capture on %', quote_ident(current_user), relation
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'It needs UPDATE, DELETE, TRUNCATE or TRIGGER on the table.';
  END IF;
  INSERT INTO event.captured_table (relid, enabled_by)
  SELECT relation, r.oid FROM pg_roles r WHERE r.rolname = current_user
  ON CONFLICT (relid) DO NOTHING;  -- enabled before: nothing to do
END
$$;

CREATE FUNCTION event._captured_tables_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._install_capture(a.relid)
  FROM (SELECT DISTINCT n.relid FROM aqevent_new_tables n ORDER BY 1) a;
  RETURN NULL;
END
$$;

CREATE TRIGGER captured_table_added AFTER INSERT ON event.captured_table
  REFERENCING NEW TABLE AS aqevent_new_tables
  FOR EACH STATEMENT EXECUTE FUNCTION event._captured_tables_added();

-- Stops capturing a table enabled with enable_capture (its subscriptions keep
-- it captured until they go).
CREATE FUNCTION event.disable_capture(relation regclass) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM event.captured_table k WHERE k.relid = relation;
END
$$;
