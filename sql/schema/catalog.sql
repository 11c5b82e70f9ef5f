-- Catalog (schema meta): the views meta.schema, meta.relation and meta.column,
-- the database's structure as rows keyed by meta identifiers, so that a
-- schema change is a relational diff like any other (catalog-diff.sql).
--
-- Each view's key is its id column: meta.schema.id (a schema_id),
-- meta.relation.id (a meta.relation_id), meta.column.id (a meta.column_id).
-- Ids are names, so a rename is a new row. The views show only the objects
-- the reading role has some privilege on, as information_schema does. The
-- event._catalog_* views below are the same rows unfiltered (ids as plain
-- jsonb, of the same text: no domain checks on the DDL path), with the roles
-- whose members may see each one (grantees; 0 is PUBLIC): the DDL trigger
-- keeps a snapshot of them, and readers check an event's grantees as the
-- session owner (event._meta_change_visible).

-- System schemas are left out: pg_catalog, information_schema, TOAST and
-- temporary schemas (a DDL of temporary tables changes nothing here).
CREATE FUNCTION event._catalog_schema_listed(name text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT name OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema'])
     AND name OPERATOR(pg_catalog.!~~) 'pg\_toast%' AND name OPERATOR(pg_catalog.!~~) 'pg\_temp\_%'
$$;

-- The roles whose members may see an object: its owner, and the grantees of
-- the privileges (of the given kinds; all when NULL) in its ACL.
CREATE FUNCTION event._catalog_grantees(owner oid, acl aclitem[], kinds text[]) RETURNS oid[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT ARRAY[owner] OPERATOR(pg_catalog.||) ARRAY(
    SELECT DISTINCT e.grantee FROM pg_catalog.aclexplode(acl) e
    WHERE kinds IS NULL OR e.privilege_type OPERATOR(pg_catalog.=) ANY (kinds) ORDER BY 1)
$$;

-- May role (a member of one of the grantees, or any role for PUBLIC) see it?
CREATE FUNCTION event._catalog_may_see(role oid, grantees oid[]) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT EXISTS (SELECT 1 FROM pg_catalog.unnest(grantees) g
                 WHERE g OPERATOR(pg_catalog.=) 0 OR pg_catalog.pg_has_role(role, g, 'USAGE'))
$$;

CREATE VIEW event._catalog_schema AS
  SELECT pg_catalog.jsonb_build_object('name', n.nspname::text) AS id, n.nspname::text AS name,
         event._catalog_grantees(n.nspowner, n.nspacl, NULL) AS grantees
  FROM pg_catalog.pg_namespace n
  WHERE event._catalog_schema_listed(n.nspname::text);

CREATE VIEW event._catalog_relation AS
  SELECT pg_catalog.jsonb_build_object('schema_id', pg_catalog.jsonb_build_object('name', n.nspname::text),
                                       'name', c.relname::text) AS id,
         pg_catalog.jsonb_build_object('name', n.nspname::text) AS schema_id,
         n.nspname::text AS schema_name, c.relname::text AS name,
         CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned_table' WHEN 'v' THEN 'view'
                        WHEN 'm' THEN 'materialized_view' WHEN 'f' THEN 'foreign_table' END AS kind,
         c.oid AS relid,
         event._catalog_grantees(c.relowner, c.relacl, NULL)
           OPERATOR(pg_catalog.||) ARRAY(SELECT DISTINCT e.grantee
                                         FROM pg_catalog.pg_attribute a
                                         CROSS JOIN LATERAL pg_catalog.aclexplode(a.attacl) e
                                         WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attacl IS NOT NULL
                                           AND NOT a.attisdropped) AS grantees
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
  WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'v', 'm', 'f']::"char"[])
    AND event._catalog_schema_listed(n.nspname::text);

-- A type as format_type prints it with only pg_catalog on the search path
-- (types of other schemas qualified), whoever reads: the same in the view as
-- in the events made by the DDL trigger.
CREATE FUNCTION event._type_name(typid oid, typmod integer) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT format_type(typid, typmod) $$;

-- A column is seen with SELECT, INSERT, UPDATE or REFERENCES on it or on its
-- table, or by the table's owner (information_schema.columns' rule).
CREATE VIEW event._catalog_column AS
  SELECT pg_catalog.jsonb_build_object('relation_id', r.id, 'name', a.attname::text) AS id, r.id AS relation_id,
         r.schema_name, r.name AS relation_name, a.attname::text AS name,
         event._type_name(a.atttypid, a.atttypmod) AS type,
         NOT a.attnotnull AS nullable,
         pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS "default",
         a.attnum::integer AS position, a.attrelid AS relid,
         event._catalog_grantees(c.relowner, c.relacl, ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES'])
           OPERATOR(pg_catalog.||) event._catalog_grantees(c.relowner, a.attacl, NULL) AS grantees
  FROM event._catalog_relation r
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid
  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) r.relid
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid
                                   AND d.adnum OPERATOR(pg_catalog.=) a.attnum
  WHERE a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;

CREATE VIEW meta.schema AS
  SELECT s.id, s.name
  FROM event._catalog_schema s
  WHERE event._catalog_may_see((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user),
                               s.grantees);

CREATE VIEW meta.relation AS
  SELECT r.id::meta.relation_id AS id, r.schema_id, r.schema_name, r.name, r.kind
  FROM event._catalog_relation r
  WHERE event._catalog_may_see((SELECT x.oid FROM pg_catalog.pg_roles x WHERE x.rolname OPERATOR(pg_catalog.=) current_user),
                               r.grantees);

CREATE VIEW meta.column AS
  SELECT c.id::meta.column_id AS id, c.relation_id::meta.relation_id AS relation_id, c.schema_name, c.relation_name,
         c.name, c.type, c.nullable, c."default", c.position
  FROM event._catalog_column c
  WHERE event._catalog_may_see((SELECT x.oid FROM pg_catalog.pg_roles x WHERE x.rolname OPERATOR(pg_catalog.=) current_user),
                               c.grantees);

-- The three catalog views, in the order their rows depend on each other.
-- They are captured by the DDL trigger, not by row triggers, and keyed by
-- their id column.
CREATE FUNCTION event._meta_views() RETURNS oid[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT ARRAY['meta.schema'::pg_catalog.regclass, 'meta.relation'::pg_catalog.regclass,
               'meta."column"'::pg_catalog.regclass]::pg_catalog.oid[]
$$;

CREATE FUNCTION event._is_meta_view(relid oid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT relid OPERATOR(pg_catalog.=) ANY (event._meta_views()) $$;
