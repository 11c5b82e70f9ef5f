-- 022_security_casts: capture must not run code a table's user wrote.
--
-- Capture runs SECURITY DEFINER (so that writers need no rights on the
-- event schema) and turns rows into JSON with to_jsonb(). For a type
-- created by a user, to_jsonb() calls that type's cast to json if one
-- exists -- with the rights of the event system's owner, often a superuser.
-- Any role that may create a type could thus run its code as that owner.
-- So: a table whose columns involve a user type with a cast to json/jsonb
-- whose function is not owned by a superuser cannot be subscribed, and (when
-- installed by a superuser) DDL that would make a subscribed table so is
-- refused by an event trigger.

-- The first column of a relation whose JSON conversion would call an
-- untrusted cast function: looks through domains, arrays, composite types
-- and ranges, as to_jsonb() does. No row when the relation is safe.
CREATE FUNCTION event._untrusted_json_cast(relid oid)
RETURNS TABLE (column_name text, column_type text, type_name text, cast_function text,
               function_owner name)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH RECURSIVE types (column_name, column_type, type_oid, depth) AS (
    SELECT a.attname::text, a.atttypid, a.atttypid, 0
    FROM pg_attribute a
    WHERE a.attrelid = relid AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid >= 16384
    UNION
    SELECT t.column_name, t.column_type, x.child, t.depth + 1
    FROM types t
    JOIN pg_type ty ON ty.oid = t.type_oid
    CROSS JOIN LATERAL (
      SELECT ty.typbasetype WHERE ty.typbasetype <> 0
      UNION ALL SELECT ty.typelem WHERE ty.typelem <> 0
      UNION ALL SELECT a.atttypid FROM pg_attribute a
                WHERE ty.typrelid <> 0 AND a.attrelid = ty.typrelid AND a.attnum > 0 AND NOT a.attisdropped
      UNION ALL SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = ty.oid
      UNION ALL SELECT r.rngtypid FROM pg_range r WHERE r.rngmultitypid = ty.oid
    ) x(child)
    WHERE x.child >= 16384 AND t.depth < 32
  )
  SELECT t.column_name, format_type(t.column_type, NULL), format_type(t.type_oid, NULL),
         c.castfunc::regprocedure::text, r.rolname
  FROM types t
  JOIN pg_cast c ON c.castsource = t.type_oid AND c.casttarget IN ('json'::regtype, 'jsonb'::regtype)
  JOIN pg_proc p ON p.oid = c.castfunc
  JOIN pg_roles r ON r.oid = p.proowner
  WHERE NOT r.rolsuper
  ORDER BY t.depth, t.column_name
  LIMIT 1
$$;

CREATE FUNCTION event._require_trusted_json(relid oid) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  bad record;
BEGIN
  SELECT * INTO bad FROM event._untrusted_json_cast(relid);
  IF bad.column_name IS NOT NULL THEN
    RAISE EXCEPTION 'cannot capture %: column % (type %) holds type %, whose cast to JSON runs % owned by role %',
      relid::regclass, quote_ident(bad.column_name), bad.column_type, bad.type_name, bad.cast_function,
      quote_ident(bad.function_owner)
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Capture converts rows to JSON with the event system''s rights, so it would run that function with them.',
            HINT = 'Drop the cast, or have a superuser own its function.';
  END IF;
END
$$;

CREATE TRIGGER subscription_checked AFTER INSERT ON event.subscription
  REFERENCING NEW TABLE AS aqevent_added_subscriptions
  FOR EACH STATEMENT EXECUTE FUNCTION event._check_new_subscriptions();

-- DDL that would make a subscribed table unsafe (a cast created, a column
-- added or retyped, an attribute added to a composite type) is refused. An
-- ALTER TABLE checks only the altered table, so that one table gone unsafe
-- by other means (a cast function's owner losing superuser) does not block
-- every ALTER TABLE of the database.
CREATE FUNCTION event._on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM event._require_trusted_json(r.relation_oid)
  FROM (SELECT DISTINCT s.relation_oid FROM event.subscription s
        WHERE EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() d
                      WHERE d.command_tag <> 'ALTER TABLE'
                         OR (d.classid = 'pg_class'::regclass AND d.objid = s.relation_oid))) r
  JOIN pg_class c ON c.oid = r.relation_oid;
END
$$;

DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    CREATE EVENT TRIGGER aqevent_ddl_guard ON ddl_command_end
      WHEN TAG IN ('CREATE CAST', 'ALTER TABLE', 'ALTER TYPE', 'ALTER FUNCTION', 'ALTER DOMAIN')
      EXECUTE FUNCTION event._on_ddl_end();
  ELSE
    RAISE NOTICE 'aqevent: not a superuser, so no event trigger guarding capture against untrusted casts';
  END IF;
END
$$;
