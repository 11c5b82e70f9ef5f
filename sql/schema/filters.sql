-- Filters and row-level security: which rows of a subscribed table a
-- subscription delivers, decided by the reader as the subscriber.
--
-- A subscription's filter is a boolean SQL expression over its table's
-- columns, checked when it subscribes (event._filter_expression) and stored
-- as PostgreSQL deparses it. Where row-level security applies to the
-- session's owner, the table's policies for SELECT (permissive ones OR'd,
-- restrictive ones AND'd, as the planner combines them) join the filter.
--
-- Both are user code (operators, functions, policy subqueries), so neither
-- runs in a writer's transaction nor as the event system's owner. Each such
-- subscription has a checker: a function owned by the session's owner, that
-- runs as that role (SECURITY DEFINER as that role), and that the reader
-- calls in batches while it collects (collect.sql). The checker is made by
-- the event system from the filter and the policies, is made again when
-- either changes, and refuses to run as anyone else (its first statement),
-- so that its owner cannot turn it into code run with other rights.
-- The semantics: docs/concepts.md ("Filters"), docs/security.md.

-- The filter text, checked and deparsed; NULL for no filter. Runs as the
-- subscriber: the expression is parsed as a CHECK constraint of an empty
-- temporary copy of the table (no row is read and no code runs), which
-- refuses subqueries, aggregates, window and set-returning functions; then
-- every function it calls must be IMMUTABLE and executable by owner_role,
-- and every column it names readable by owner_role. Each check makes a copy
-- of its own (numbered per transaction), dropped at commit and never by a
-- DROP TABLE: that would fire the DDL triggers' collect-before-drop
-- (ddl.sql) once per filter.
CREATE FUNCTION event._filter_expression(relid oid, filter text, owner_role oid) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  numbered text := coalesce(current_setting('aqevent.filter_scratch', true), '');
  n integer := CASE WHEN numbered ~ '^[0-9]{1,9}$' THEN numbered::integer ELSE 0 END;
  scratch text;
  scratch_oid oid;
  expression text;
  tree text;
  bad record;
  made integer;
BEGIN
  IF filter IS NULL THEN
    RETURN NULL;
  END IF;
  IF btrim(filter) = '' THEN
    RAISE EXCEPTION 'the filter on % is empty', relid::regclass
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass NULL for no filter.';
  END IF;
  IF length(filter) > 10000 THEN
    RAISE EXCEPTION 'the filter on % is longer than 10000 characters', relid::regclass
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  LOOP
    n := n + 1;
    scratch := 'aqevent_filter_' || n;
    EXIT WHEN to_regclass(format('pg_temp.%I', scratch)) IS NULL;
  END LOOP;
  PERFORM set_config('aqevent.filter_scratch', n::text, true);
  EXECUTE format('CREATE TEMPORARY TABLE %I (LIKE %s) ON COMMIT DROP', scratch, relid::regclass);
  scratch_oid := format('pg_temp.%I', scratch)::regclass::oid;
  BEGIN
    -- a bound parameter makes a second statement in the text an error
    EXECUTE format('ALTER TABLE pg_temp.%I ADD CONSTRAINT aqevent_filter CHECK (%s) NOT VALID', scratch, filter)
      USING 0;
  EXCEPTION
    WHEN syntax_error THEN
      RAISE EXCEPTION 'the filter on % is not a valid expression: %', relid::regclass, SQLERRM
        USING ERRCODE = SQLSTATE, DETAIL = filter;
    WHEN undefined_column THEN
      RAISE EXCEPTION 'the filter on % names a column that % does not have: %', relid::regclass, relid::regclass, SQLERRM
        USING ERRCODE = SQLSTATE, DETAIL = filter;
    WHEN feature_not_supported OR grouping_error OR windowing_error THEN
      RAISE EXCEPTION 'the filter on % may use only the row''s own columns, operators and immutable functions: %',
        relid::regclass, SQLERRM
        USING ERRCODE = SQLSTATE, DETAIL = filter;
    WHEN OTHERS THEN
      RAISE EXCEPTION 'the filter on % is refused: %', relid::regclass, SQLERRM
        USING ERRCODE = SQLSTATE, DETAIL = filter;
  END;
  SELECT count(*)::integer, min(pg_get_expr(k.conbin, k.conrelid)), min(k.conbin::text)
    INTO made, expression, tree
  FROM pg_constraint k WHERE k.conrelid = scratch_oid AND k.contype = 'c';
  IF made <> 1 THEN
    RAISE EXCEPTION 'the filter on % must be one boolean expression', relid::regclass
      USING ERRCODE = 'syntax_error', DETAIL = filter;
  END IF;
  -- every function called (directly, or behind an operator) must be immutable
  SELECT p.oid::regprocedure AS fn, p.provolatile,
         has_function_privilege(owner_role, p.oid, 'EXECUTE') AS may_execute
    INTO bad
  FROM (SELECT DISTINCT m[1]::oid AS fn
        FROM regexp_matches(tree, ':(?:funcid|opfuncid) (\d+)', 'g') AS m) f
  JOIN pg_proc p ON p.oid = f.fn
  WHERE p.provolatile <> 'i' OR NOT has_function_privilege(owner_role, p.oid, 'EXECUTE')
  LIMIT 1;
  IF bad.fn IS NOT NULL THEN
    IF NOT bad.may_execute THEN
      RAISE EXCEPTION 'permission denied: role % may not execute %, called by the filter on %',
        quote_ident(pg_get_userbyid(owner_role)), bad.fn, relid::regclass
        USING ERRCODE = 'insufficient_privilege', DETAIL = filter;
    END IF;
    RAISE EXCEPTION 'the filter on % calls %, which is not IMMUTABLE', relid::regclass, bad.fn
      USING ERRCODE = 'invalid_parameter_value', DETAIL = filter,
            HINT = 'A filter is decided from the row alone: no now(), random(), current_user or table reads.';
  END IF;
  IF tree ~ '\{(SQLVALUEFUNCTION|NEXTVALUEEXPR|CURRENTOFEXPR|PARAM) ' THEN
    RAISE EXCEPTION 'the filter on % uses a value that is not decided by the row alone', relid::regclass
      USING ERRCODE = 'invalid_parameter_value', DETAIL = filter,
            HINT = 'current_user, current_date and parameters are not allowed in a filter.';
  END IF;
  SELECT a.attname INTO bad
  FROM pg_constraint k
  CROSS JOIN LATERAL unnest(k.conkey) AS c(attnum)
  JOIN pg_attribute a ON a.attrelid = relid
                     AND a.attname = (SELECT s.attname FROM pg_attribute s
                                      WHERE s.attrelid = scratch_oid AND s.attnum = c.attnum)
  WHERE k.conrelid = scratch_oid AND k.contype = 'c'
    AND NOT has_column_privilege(owner_role, relid, a.attnum, 'SELECT')
  LIMIT 1;
  IF bad.attname IS NOT NULL THEN
    RAISE EXCEPTION 'permission denied: role % may not SELECT column % of %, named by the filter',
      quote_ident(pg_get_userbyid(owner_role)), quote_ident(bad.attname), relid::regclass
      USING ERRCODE = 'insufficient_privilege', DETAIL = filter;
  END IF;
  RETURN expression;
END
$$;

-- The payload columns a subscription keeps (NULL: all), checked: each a
-- column of the table that owner_role may read, none twice.
CREATE FUNCTION event._column_list(relid oid, columns text[], owner_role oid) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  col text;
BEGIN
  IF columns IS NULL THEN
    RETURN NULL;
  END IF;
  IF cardinality(columns) = 0 OR array_position(columns, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'columns of a subscription to % must be a non-empty list of column names', relid::regclass
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOREACH col IN ARRAY columns LOOP
    PERFORM event._require_column(relid, col);
    IF NOT has_column_privilege(owner_role, relid, col, 'SELECT') THEN
      RAISE EXCEPTION 'permission denied: role % may not SELECT column % of %',
        quote_ident(pg_get_userbyid(owner_role)), quote_ident(col), relid::regclass
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  END LOOP;
  RETURN ARRAY(SELECT DISTINCT c FROM unnest(columns) c ORDER BY c);
END
$$;

-- The row-level security condition owner_role reads relid under, as SQL
-- over its columns; NULL when none applies. No policy for the role: false.
CREATE FUNCTION event._policy_expression(relid oid, owner_role oid) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN NOT coalesce(event._rls_applies(owner_role, relid), false) THEN NULL
    ELSE '(' || coalesce((SELECT string_agg('(' || coalesce(pg_get_expr(p.polqual, p.polrelid), 'true') || ')', ' OR '
                                            ORDER BY p.polname)
                          FROM pg_policy p
                          WHERE p.polrelid = relid AND p.polpermissive AND p.polcmd IN ('r', '*')
                            AND (p.polroles = '{0}' OR EXISTS (SELECT 1 FROM unnest(p.polroles) pr
                                                               WHERE pg_has_role(owner_role, pr, 'MEMBER')))),
                         'false') || ')'
         || coalesce((SELECT string_agg(' AND (' || coalesce(pg_get_expr(p.polqual, p.polrelid), 'true') || ')', ''
                                        ORDER BY p.polname)
                      FROM pg_policy p
                      WHERE p.polrelid = relid AND NOT p.polpermissive AND p.polcmd IN ('r', '*')
                        AND (p.polroles = '{0}' OR EXISTS (SELECT 1 FROM unnest(p.polroles) pr
                                                           WHERE pg_has_role(owner_role, pr, 'MEMBER')))), '')
    END
$$;

-- What a subscription's checker decides now: its filter AND the policies
-- that apply; NULL when it needs no checker.
CREATE FUNCTION event._check_expression(filter text, relid oid, owner_role oid) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN filter IS NULL AND p.e IS NULL THEN NULL
              WHEN filter IS NULL THEN p.e
              WHEN p.e IS NULL THEN '(' || filter || ')'
              ELSE '(' || filter || ') AND ' || p.e END
  FROM (SELECT event._policy_expression(relid, owner_role) AS e) p
$$;

CREATE FUNCTION event._checker_name(subscription_id uuid) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 'check_' || replace(subscription_id::text, '-', '') $$;

-- The body of a checker: for each pair of row literals (new, old), bit 1
-- when the new row passes, bit 2 when the old one does. A row that cannot
-- be read as the table's row type now (its shape changed since) passes
-- nothing. Its first statement refuses to run as anyone but its role, or
-- under another search_path.
CREATE FUNCTION event._checker_source(relid oid, owner_role oid, expression text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT format($body$
DECLARE
  result integer[] := '{}';
  bits integer;
BEGIN
  IF current_user <> %1$L OR current_setting('search_path') <> 'pg_catalog, pg_temp' THEN
    RAISE EXCEPTION 'aqevent: a subscription checker ran as %%, not as it was made', current_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  BEGIN
    RETURN ARRAY(SELECT %2$s FROM unnest(new_rows, old_rows) WITH ORDINALITY AS u(aqevent_new, aqevent_old, aqevent_ord)
                 ORDER BY u.aqevent_ord);
  EXCEPTION WHEN OTHERS THEN
    NULL;
  END;
  -- one row at a time, so that one unreadable row does not hold back the others
  FOR i IN 1 .. coalesce(cardinality(new_rows), 0) LOOP
    BEGIN
      SELECT %2$s INTO bits FROM (SELECT new_rows[i] AS aqevent_new, old_rows[i] AS aqevent_old) u;
    EXCEPTION WHEN OTHERS THEN
      bits := 0;
    END;
    result := result || bits;
  END LOOP;
  RETURN result;
END
$body$, pg_get_userbyid(owner_role),
    format('(CASE WHEN u.aqevent_new IS NOT NULL AND EXISTS (SELECT FROM (SELECT (y.aqevent_row).* FROM (SELECT u.aqevent_new::%1$s AS aqevent_row OFFSET 0) y) AS %2$I WHERE (%3$s)) THEN 1 ELSE 0 END)'
           ' + (CASE WHEN u.aqevent_old IS NOT NULL AND EXISTS (SELECT FROM (SELECT (y.aqevent_row).* FROM (SELECT u.aqevent_old::%1$s AS aqevent_row OFFSET 0) y) AS %2$I WHERE (%3$s)) THEN 2 ELSE 0 END)',
           relid::regclass, c.relname, expression))
  FROM pg_class c WHERE c.oid = relid
$$;

-- The subscription's checker, made (again) unless it is there exactly as
-- it would be made now; NULL when the subscription needs none (and then
-- none is left). Its name, schema-qualified.
CREATE FUNCTION event._checker(subscription_id uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  sub record;
  expression text;
  source text;
  name text := event._checker_name(subscription_id);
  found_fn record;
BEGIN
  SELECT s.relation_oid, s.filter, x.owner_role INTO sub
  FROM event.subscription s JOIN event.session x ON x.id = s.session_id
  WHERE s.id = subscription_id;
  expression := CASE WHEN sub.relation_oid IS NOT NULL
                     THEN event._check_expression(sub.filter, sub.relation_oid, sub.owner_role) END;
  SELECT p.oid, p.prosrc, p.proowner, p.prosecdef, p.proconfig, l.lanname, p.proretset, p.prorettype INTO found_fn
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
  WHERE p.pronamespace = 'event'::regnamespace AND p.proname = name;
  IF expression IS NULL THEN
    IF found_fn.oid IS NOT NULL THEN
      EXECUTE format('DROP FUNCTION event.%I(text[], text[])', name);
    END IF;
    RETURN NULL;
  END IF;
  source := event._checker_source(sub.relation_oid, sub.owner_role, expression);
  IF found_fn.oid IS NOT NULL AND found_fn.prosrc = source AND found_fn.proowner = sub.owner_role
     AND found_fn.prosecdef AND found_fn.proconfig = ARRAY['search_path=pg_catalog, pg_temp']
     AND found_fn.lanname = 'plpgsql' AND NOT found_fn.proretset AND found_fn.prorettype = 'integer[]'::regtype THEN
    RETURN format('event.%I', name);
  END IF;
  IF found_fn.oid IS NOT NULL THEN
    EXECUTE format('DROP FUNCTION event.%I(text[], text[])', name);
  END IF;
  EXECUTE format('CREATE FUNCTION event.%I(new_rows text[], old_rows text[]) RETURNS integer[] '
                 'LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS %L',
                 name, source);
  EXECUTE format('REVOKE ALL ON FUNCTION event.%I(text[], text[]) FROM PUBLIC', name);
  BEGIN
    EXECUTE format('ALTER FUNCTION event.%I(text[], text[]) OWNER TO %I', name, pg_get_userbyid(sub.owner_role));
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'filters and row-level security need the event system installed by a superuser: % may not make a function owned by %',
      quote_ident(current_user), quote_ident(pg_get_userbyid(sub.owner_role))
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'A filter or a policy is run as the subscriber, by a function the subscriber owns.',
            HINT = 'Run `aqevent migrate` as a superuser, or subscribe without a filter to a table without row-level security.';
  END;
  RETURN format('event.%I', name);
END
$$;

-- For each change row in the window (as collect.sql reads it) of each
-- subscription of the session that has a checker: (subscription, change,
-- bits); bit 1 the new row passes, bit 2 the old one.
CREATE FUNCTION event._verdicts(session_id uuid, prev_xmax xid8, now_xmax xid8, prev_xip xid8[], snap pg_snapshot)
RETURNS TABLE (subscription_id uuid, change_id bigint, bits integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
  s record;
  checker text;
  ids bigint[];
  new_rows text[];
  old_rows text[];
  verdict integer[];
BEGIN
  FOR s IN
    SELECT sub.id, sub.relation_oid, sub.since, sub.since_xid
    FROM event.subscription sub JOIN event.session x ON x.id = sub.session_id
    WHERE sub.session_id = _verdicts.session_id
      AND (sub.filter IS NOT NULL OR coalesce(event._rls_applies(x.owner_role, sub.relation_oid), false))
    ORDER BY sub.id
  LOOP
    SELECT array_agg(c.id ORDER BY c.id), array_agg(c.new_row ORDER BY c.id), array_agg(c.old_row ORDER BY c.id)
      INTO ids, new_rows, old_rows
    FROM (SELECT c.* FROM event.change c
          WHERE c.xid >= prev_xmax AND c.xid < now_xmax AND c.relid = s.relation_oid
          UNION ALL
          SELECT c.* FROM event.change c
          WHERE c.xid = ANY (prev_xip) AND c.relid = s.relation_oid) c
    WHERE c.op <> 't' AND c.old_keys IS NULL AND pg_visible_in_snapshot(c.xid, snap)
      AND (NOT pg_visible_in_snapshot(c.xid, s.since) OR c.xid = s.since_xid);
    CONTINUE WHEN ids IS NULL;
    checker := event._checker(s.id);
    IF checker IS NULL THEN
      verdict := array_fill(3, ARRAY[cardinality(ids)]);
    ELSE
      BEGIN
        EXECUTE format('SELECT %s($1, $2)', checker) INTO verdict USING new_rows, old_rows;
        -- keep the verdict, undo whatever else the checker's code did in this
        -- transaction (settings it set, locks it took): the block is rolled back
        RAISE EXCEPTION USING ERRCODE = 'AQ001';
      EXCEPTION
        WHEN SQLSTATE 'AQ001' THEN
          NULL;
        -- (query_canceled too: OTHERS leaves it out, and a filter's function
        -- may raise it itself, which would end the collect of every session
        -- with it, maintenance's too)
        WHEN OTHERS OR query_canceled THEN
          RAISE WARNING 'aqevent: the checker of subscription % failed: % (%); its rows are withheld', s.id, SQLERRM, SQLSTATE;
          verdict := array_fill(0, ARRAY[cardinality(ids)]);
      END;
    END IF;
    RETURN QUERY SELECT s.id, u.i, u.b FROM unnest(ids, verdict) AS u(i, b);
  END LOOP;
END
$$;

-- A subscription's checker goes with it, and the whole deleted rows it needed.
CREATE FUNCTION event._subscriptions_removed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  fn record;
BEGIN
  FOR fn IN
    SELECT p.oid::regprocedure AS sig
    FROM aqevent_old_subscriptions o
    JOIN pg_proc p ON p.pronamespace = 'event'::regnamespace AND p.proname = event._checker_name(o.id)
  LOOP
    EXECUTE format('DROP FUNCTION %s', fn.sig);
  END LOOP;
  -- without their filters, the tables' deletes may be stored by key again (capture.sql)
  PERFORM event._renew_delete_capture(r.relation_oid)
  FROM (SELECT DISTINCT o.relation_oid FROM aqevent_old_subscriptions o WHERE o.filter IS NOT NULL ORDER BY 1) r;
  RETURN NULL;
END
$$;

CREATE TRIGGER subscription_removed AFTER DELETE ON event.subscription
  REFERENCING OLD TABLE AS aqevent_old_subscriptions
  FOR EACH STATEMENT EXECUTE FUNCTION event._subscriptions_removed();
