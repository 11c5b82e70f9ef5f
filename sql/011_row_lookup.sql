-- 011_row_lookup: a row_id from key values alone, the key columns looked up
-- in the catalog (so callers need not know them). Single-column keys give
-- the scalar form, composite keys the array form, as capture writes them.
CREATE FUNCTION event.row_id(schema_name text, relation_name text, pk_values text[])
RETURNS meta.row_id
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  relid oid := meta.relation_oid(meta.relation_id(schema_name, relation_name));
  key_names text[] := event._primary_key(relid);
BEGIN
  IF key_names IS NULL THEN
    RAISE EXCEPTION 'relation % has no primary key; row and field subscriptions need one', relid::regclass
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF pk_values IS NULL OR cardinality(pk_values) <> cardinality(key_names)
     OR array_position(pk_values, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'the key of % is (%): give % non-null value(s), not %', relid::regclass,
      array_to_string(key_names, ', '), cardinality(key_names), coalesce(pk_values::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(key_names) = 1 THEN
    RETURN meta.row_id(schema_name, relation_name, key_names[1], pk_values[1]);
  END IF;
  RETURN meta.row_id(schema_name, relation_name, key_names, pk_values);
END
$$;
