-- Identifiers (schema meta): schema_id, relation_id, column_id, row_id and
-- field_id, as jsonb domains with their constructors and accessors.
--
-- They name things by name (schema, table, column, key values), never by oid,
-- so an identifier means the same in every database and survives a dump and
-- restore. Constructors are STRICT: a NULL part gives NULL.
CREATE FUNCTION meta._is_schema_id(j jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT jsonb_typeof(j) = 'object' AND jsonb_typeof(j -> 'name') = 'string' $$;

CREATE FUNCTION meta._is_relation_id(j jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_typeof(j) = 'object'
     AND meta._is_schema_id(j -> 'schema_id')
     AND jsonb_typeof(j -> 'name') = 'string'
$$;

CREATE FUNCTION meta._is_column_id(j jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_typeof(j) = 'object'
     AND meta._is_relation_id(j -> 'relation_id')
     AND jsonb_typeof(j -> 'name') = 'string'
$$;

CREATE FUNCTION meta._is_row_id(j jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_typeof(j) = 'object' AND CASE
    WHEN jsonb_typeof(j -> 'pk_column_id') = 'object' THEN
      meta._is_column_id(j -> 'pk_column_id') AND jsonb_typeof(j -> 'pk_value') = 'string'
    WHEN jsonb_typeof(j -> 'pk_column_id') = 'array' THEN
      jsonb_typeof(j -> 'pk_value') = 'array'
      AND jsonb_array_length(j -> 'pk_column_id') > 0
      AND jsonb_array_length(j -> 'pk_column_id') = jsonb_array_length(j -> 'pk_value')
      AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(j -> 'pk_column_id') c
                      WHERE NOT meta._is_column_id(c))
      AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(j -> 'pk_value') v
                      WHERE jsonb_typeof(v) <> 'string')
    ELSE false
  END
$$;

CREATE FUNCTION meta._is_field_id(j jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_typeof(j) = 'object'
     AND meta._is_row_id(j -> 'row_id')
     AND meta._is_column_id(j -> 'column_id')
$$;

-- No domain meta.schema_id: with a one-argument constructor of the same
-- name, PostgreSQL would read meta.schema_id('public') as a cast of the
-- literal to the type. A schema_id is plain jsonb, checked inside the others.
CREATE DOMAIN meta.relation_id AS jsonb CHECK (VALUE IS NULL OR coalesce(meta._is_relation_id(VALUE), false));
CREATE DOMAIN meta.column_id AS jsonb CHECK (VALUE IS NULL OR coalesce(meta._is_column_id(VALUE), false));
CREATE DOMAIN meta.row_id AS jsonb CHECK (VALUE IS NULL OR coalesce(meta._is_row_id(VALUE), false));
CREATE DOMAIN meta.field_id AS jsonb CHECK (VALUE IS NULL OR coalesce(meta._is_field_id(VALUE), false));

-- Constructors. STRICT: a NULL part gives a NULL identifier, which every
-- event.subscribe_* function rejects with a clear error.

CREATE FUNCTION meta.schema_id(name text) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT jsonb_build_object('name', name) $$;

CREATE FUNCTION meta.relation_id(schema_name text, name text) RETURNS meta.relation_id
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object('schema_id', jsonb_build_object('name', schema_name),
                            'name', name)::meta.relation_id
$$;

CREATE FUNCTION meta.column_id(schema_name text, relation_name text, name text)
RETURNS meta.column_id
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object('relation_id', meta.relation_id(schema_name, relation_name)::jsonb,
                            'name', name)::meta.column_id
$$;

CREATE FUNCTION meta.row_id(schema_name text, relation_name text,
                            pk_column_name text, pk_value text)
RETURNS meta.row_id
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
           'pk_column_id', meta.column_id(schema_name, relation_name, pk_column_name)::jsonb,
           'pk_value', pk_value)::meta.row_id
$$;

-- Composite primary key: names and values in the order of the key.
CREATE FUNCTION meta.row_id(schema_name text, relation_name text,
                            pk_column_names text[], pk_values text[])
RETURNS meta.row_id
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
           'pk_column_id', (SELECT jsonb_agg(meta.column_id(schema_name, relation_name, c)::jsonb
                                             ORDER BY o)
                            FROM unnest(pk_column_names) WITH ORDINALITY AS u(c, o)),
           'pk_value', to_jsonb(pk_values))::meta.row_id
$$;

CREATE FUNCTION meta.field_id(schema_name text, relation_name text,
                              pk_column_name text, pk_value text, column_name text)
RETURNS meta.field_id
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
           'row_id', meta.row_id(schema_name, relation_name, pk_column_name, pk_value)::jsonb,
           'column_id', meta.column_id(schema_name, relation_name, column_name)::jsonb)::meta.field_id
$$;

CREATE FUNCTION meta.field_id(schema_name text, relation_name text,
                              pk_column_names text[], pk_values text[], column_name text)
RETURNS meta.field_id
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
           'row_id', meta.row_id(schema_name, relation_name, pk_column_names, pk_values)::jsonb,
           'column_id', meta.column_id(schema_name, relation_name, column_name)::jsonb)::meta.field_id
$$;

-- Build a field_id from a row_id and a column name (used by capture).
CREATE FUNCTION meta.field_id(row_id meta.row_id, column_name text) RETURNS meta.field_id
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
           'row_id', row_id::jsonb,
           'column_id', jsonb_build_object(
              'relation_id', CASE jsonb_typeof(row_id::jsonb -> 'pk_column_id')
                               WHEN 'array' THEN row_id::jsonb -> 'pk_column_id' -> 0 -> 'relation_id'
                               ELSE row_id::jsonb -> 'pk_column_id' -> 'relation_id' END,
              'name', column_name))::meta.field_id
$$;

-- Accessors.
CREATE FUNCTION meta.relation_of(row_id meta.row_id) RETURNS meta.relation_id
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT (CASE jsonb_typeof(row_id::jsonb -> 'pk_column_id')
            WHEN 'array' THEN row_id::jsonb -> 'pk_column_id' -> 0 -> 'relation_id'
            ELSE row_id::jsonb -> 'pk_column_id' -> 'relation_id' END)::meta.relation_id
$$;

CREATE FUNCTION meta.pk_column_names(row_id meta.row_id) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE jsonb_typeof(row_id::jsonb -> 'pk_column_id')
           WHEN 'array' THEN ARRAY(SELECT c ->> 'name'
                                   FROM jsonb_array_elements(row_id::jsonb -> 'pk_column_id')
                                        WITH ORDINALITY AS e(c, o) ORDER BY o)
           ELSE ARRAY[row_id::jsonb -> 'pk_column_id' ->> 'name'] END
$$;

CREATE FUNCTION meta.pk_values(row_id meta.row_id) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE jsonb_typeof(row_id::jsonb -> 'pk_value')
           WHEN 'array' THEN ARRAY(SELECT v FROM jsonb_array_elements_text(row_id::jsonb -> 'pk_value')
                                        WITH ORDINALITY AS e(v, o) ORDER BY o)
           ELSE ARRAY[row_id::jsonb ->> 'pk_value'] END
$$;

-- Resolve a relation_id to the table it names. Errors name the object:
-- 3F000 for a missing schema, 42P01 for a missing relation.
CREATE FUNCTION meta.relation_oid(relation meta.relation_id) RETURNS oid
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  schema_name text := relation::jsonb -> 'schema_id' ->> 'name';
  relation_name text := relation::jsonb ->> 'name';
  found oid;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = schema_name) THEN
    RAISE EXCEPTION 'schema "%" does not exist', schema_name
      USING ERRCODE = 'invalid_schema_name';
  END IF;
  SELECT c.oid INTO found
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = schema_name AND c.relname = relation_name;
  IF found IS NULL THEN
    RAISE EXCEPTION 'relation "%.%" does not exist', schema_name, relation_name
      USING ERRCODE = 'undefined_table';
  END IF;
  RETURN found;
END
$$;
