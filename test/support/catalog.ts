import type pg from 'pg';

/**
 * A text description of everything the install defines in schemas event and
 * meta: function definitions with their security, settings and grants;
 * tables with columns, storage options, constraints, indexes, triggers and
 * policies; views; sequences; grants on schemas; event triggers; the aqevent
 * roles' memberships. Two databases with the same description have the same
 * schema. Lines are sorted, so it diffs well.
 */
export async function describeCatalog(pool: pg.Pool | pg.ClientBase): Promise<string> {
  const queries: string[] = [
    `SELECT 'function ' || p.oid::regprocedure::text || E'\\n' || pg_get_functiondef(p.oid)
            || E'\\n  security definer: ' || p.prosecdef || ', config: ' || coalesce(p.proconfig::text, '-')
            || ', acl: ' || coalesce(p.proacl::text, '-')
     FROM pg_proc p WHERE p.pronamespace IN ('event'::regnamespace, 'meta'::regnamespace)
       AND p.proname !~ '^capture_delete_[0-9]+$'`,  // a captured table's DELETE trigger function: made with its capture
    `SELECT 'relation ' || c.oid::regclass::text || ' kind ' || c.relkind::text || ' options ' || coalesce(c.reloptions::text, '-')
            || ' rls ' || c.relrowsecurity || ' acl ' || coalesce(c.relacl::text, '-')
     FROM pg_class c WHERE c.relnamespace IN ('event'::regnamespace, 'meta'::regnamespace) AND c.relkind IN ('r', 'v', 'S', 'p', 'c')`,
    `SELECT 'column ' || c.oid::regclass::text || '.' || a.attname || ' #' || a.attnum || ' ' || format_type(a.atttypid, a.atttypmod)
            || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
            || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') || ' storage ' || a.attstorage::text
            || ' options ' || coalesce((SELECT array_agg(o ORDER BY o)::text FROM unnest(a.attoptions) o
                                        WHERE o NOT LIKE 'pg\\_attver=%'), '-')  -- a per-database stamp some builds keep
            || ' acl ' || coalesce(a.attacl::text, '-')
     FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
     WHERE c.relnamespace IN ('event'::regnamespace, 'meta'::regnamespace) AND c.relkind IN ('r', 'v', 'p', 'c')`,
    `SELECT 'constraint ' || n.nspname || '.' || co.conname || ' on ' || coalesce(co.conrelid::regclass::text, co.contypid::regtype::text)
            || ': ' || pg_get_constraintdef(co.oid)
     FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace WHERE n.nspname IN ('event', 'meta')`,
    `SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
     WHERE c.relnamespace IN ('event'::regnamespace, 'meta'::regnamespace)`,
    `SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace IN ('event'::regnamespace, 'meta'::regnamespace) AND NOT t.tgisinternal`,
    `SELECT 'view ' || c.oid::regclass::text || E'\\n' || pg_get_viewdef(c.oid)
     FROM pg_class c WHERE c.relnamespace IN ('event'::regnamespace, 'meta'::regnamespace) AND c.relkind = 'v'`,
    `SELECT 'policy ' || p.schemaname || '.' || p.tablename || '.' || p.policyname || ' ' || p.permissive || ' ' || p.cmd
            || ' ' || p.roles::text || ' using ' || coalesce(p.qual, '-') || ' check ' || coalesce(p.with_check, '-')
     FROM pg_policies p WHERE p.schemaname IN ('event', 'meta')`,
    `SELECT 'sequence ' || s.seqrelid::regclass::text || ' ' || s.seqtypid::regtype::text || ' start ' || s.seqstart
            || ' increment ' || s.seqincrement || ' cache ' || s.seqcache
     FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace IN ('event'::regnamespace, 'meta'::regnamespace)`,
    `SELECT 'type ' || t.oid::regtype::text || ' ' || t.typtype::text || coalesce(' over ' || nullif(t.typbasetype, 0)::regtype::text, '')
     FROM pg_type t WHERE t.typnamespace IN ('event'::regnamespace, 'meta'::regnamespace) AND t.typtype IN ('d', 'e', 'c')
       AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')`,
    `SELECT 'schema ' || n.nspname || ' acl ' || coalesce(n.nspacl::text, '-') FROM pg_namespace n WHERE n.nspname IN ('event', 'meta')`,
    `SELECT 'event trigger ' || e.evtname || ' on ' || e.evtevent || ' tags ' || coalesce(e.evttags::text, '-')
            || ' runs ' || e.evtfoid::regproc::text FROM pg_event_trigger e WHERE e.evtname LIKE 'aqevent%'`,
    `SELECT 'membership ' || r.rolname || ' in ' || g.rolname FROM pg_auth_members m
     JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid
     WHERE g.rolname IN ('aqevent_user', 'aqevent_admin') AND r.rolname IN ('aqevent_user', 'aqevent_admin')`,
  ];
  const lines: string[] = [];
  for (const query of queries) {
    const { rows } = await pool.query<{ line: string }>(`SELECT line FROM (${query}) x(line)`);
    lines.push(...rows.map((row) => row.line));
  }
  return lines.sort().join('\n') + '\n';
}
