-- Catalog snapshot for the dependent-object oracle (tests/support/depend_lib.sh).
--
-- One line per (object, property): OBJECT <TAB> PROPERTY <TAB> VALUE, for every
-- user object outside ecplan's own schemas (ecplan, ecplan_archive) and the test
-- writer's schema (it_writer). Objects are keyed by name, never by OID or
-- column position, so two databases that should hold the same schema give the
-- same lines whatever order their columns were added in. Newlines and tabs in
-- values are escaped as \n and \t.
--
-- Run with: psql -XAtq -F "$(printf '\t')" -f depend_snapshot.sql
WITH rels AS (
    SELECT c.oid, c.relkind, c.relname, n.nspname,
           format('%I.%I', n.nspname, c.relname) AS qn
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'ecplan', 'ecplan_archive', 'it_writer')
       AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
),
props(obj, prop, val) AS (
    -- relations: tables, views, materialized views, sequences, foreign tables
    SELECT 'relation ' || r.qn, p.k, p.v
      FROM rels r JOIN pg_class c ON c.oid = r.oid
      CROSS JOIN LATERAL (VALUES
          ('kind', c.relkind::text),
          ('options', coalesce(c.reloptions::text, '-')),
          ('replica_identity', c.relreplident::text),
          ('rls', c.relrowsecurity || '/' || c.relforcerowsecurity),
          ('acl', coalesce((SELECT string_agg(coalesce(nullif(a.grantee, 0)::regrole::text, 'PUBLIC') || ':' ||
                                              a.privilege_type || ':' || a.is_grantable, ','
                                              ORDER BY 1)
                              FROM aclexplode(c.relacl) a), '-')),
          ('comment', coalesce(obj_description(c.oid, 'pg_class'), '-')),
          ('tablespace', coalesce((SELECT spcname FROM pg_tablespace WHERE oid = c.reltablespace), '-')),
          ('persistence', c.relpersistence::text)
      ) p(k, v)
     WHERE r.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    -- columns, by name
    SELECT 'column ' || r.qn || '.' || quote_ident(a.attname), p.k, p.v
      FROM rels r
      JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      CROSS JOIN LATERAL (VALUES
          ('type', format_type(a.atttypid, a.atttypmod)),
          ('not_null', a.attnotnull::text),
          ('default', coalesce(pg_get_expr(d.adbin, d.adrelid), '-')),
          ('collation', coalesce((SELECT format('%I.%I', cn.nspname, co.collname)
                                    FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                                   WHERE co.oid = a.attcollation), '-')),
          ('identity', coalesce(nullif(a.attidentity::text, ''), '-')),
          ('generated', coalesce(nullif(a.attgenerated::text, ''), '-')),
          ('statistics', a.attstattarget::text),
          ('storage', a.attstorage::text),
          -- attcompression is PostgreSQL 14+: read through to_jsonb so 13 gives '-'
          ('compression', coalesce(nullif(to_jsonb(a) ->> 'attcompression', ''), '-')),
          ('options', coalesce(a.attoptions::text, '-')),
          ('comment', coalesce(col_description(a.attrelid, a.attnum), '-')),
          ('acl', coalesce((SELECT string_agg(coalesce(nullif(x.grantee, 0)::regrole::text, 'PUBLIC') || ':' ||
                                              x.privilege_type || ':' || x.is_grantable, ','
                                              ORDER BY 1)
                              FROM aclexplode(a.attacl) x), '-'))
      ) p(k, v)
     WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f')
    UNION ALL
    -- table constraints (CHECK, UNIQUE, PRIMARY KEY, FOREIGN KEY, EXCLUDE, constraint triggers)
    SELECT 'constraint ' || r.qn || '.' || quote_ident(con.conname), p.k, p.v
      FROM rels r
      JOIN pg_constraint con ON con.conrelid = r.oid
      CROSS JOIN LATERAL (VALUES
          ('type', con.contype::text),
          ('definition', pg_get_constraintdef(con.oid)),
          ('deferrable', con.condeferrable::text),
          ('deferred', con.condeferred::text),
          ('validated', con.convalidated::text),
          ('no_inherit', con.connoinherit::text),
          ('index', coalesce((SELECT quote_ident(relname) FROM pg_class WHERE oid = con.conindid), '-')),
          ('comment', coalesce(obj_description(con.oid, 'pg_constraint'), '-'))
      ) p(k, v)
    UNION ALL
    -- indexes, by schema and name
    SELECT 'index ' || r.qn, p.k, p.v
      FROM rels r
      JOIN pg_index i ON i.indexrelid = r.oid
      JOIN pg_class ic ON ic.oid = i.indexrelid
      CROSS JOIN LATERAL (VALUES
          ('table', i.indrelid::regclass::text),
          ('definition', pg_get_indexdef(i.indexrelid)),
          ('tablespace', coalesce((SELECT spcname FROM pg_tablespace WHERE oid = ic.reltablespace), '-')),
          ('clustered', i.indisclustered::text),
          ('replica_identity', i.indisreplident::text),
          ('valid', i.indisvalid::text),
          ('ready', i.indisready::text),
          ('live', i.indislive::text),
          ('column_statistics', coalesce((SELECT string_agg(ia.attnum || '=' || ia.attstattarget, ',' ORDER BY ia.attnum)
                                            FROM pg_attribute ia
                                           WHERE ia.attrelid = i.indexrelid AND ia.attstattarget >= 0), '-')),
          ('comment', coalesce(obj_description(i.indexrelid, 'pg_class'), '-'))
      ) p(k, v)
     WHERE r.relkind IN ('i', 'I')
    UNION ALL
    -- user triggers (the internal ones of foreign keys are part of the constraint)
    SELECT 'trigger ' || r.qn || '.' || quote_ident(t.tgname), p.k, p.v
      FROM rels r
      JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
      CROSS JOIN LATERAL (VALUES
          ('definition', pg_get_triggerdef(t.oid)),
          ('enabled', t.tgenabled::text),
          ('comment', coalesce(obj_description(t.oid, 'pg_trigger'), '-'))
      ) p(k, v)
    UNION ALL
    -- sequences: parameters and owner column (not the current value: gaps are
    -- legitimate; rows numbered differently show up in the row comparison) (serial: a, identity: i)
    SELECT 'sequence ' || r.qn, p.k, p.v
      FROM rels r
      JOIN pg_sequence s ON s.seqrelid = r.oid
      CROSS JOIN LATERAL (VALUES
          ('parameters', format('%s start %s increment %s min %s max %s cache %s cycle %s',
                                s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                                s.seqcache, s.seqcycle)),
          ('owned_by', coalesce((SELECT string_agg(dr.oid::regclass::text || '.' || quote_ident(da.attname) ||
                                                   ' (' || d.deptype::text || ')', ',')
                                   FROM pg_depend d
                                   JOIN pg_class dr ON dr.oid = d.refobjid
                                   JOIN pg_attribute da ON da.attrelid = d.refobjid AND da.attnum = d.refobjsubid
                                  WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid
                                    AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
                                    AND d.deptype IN ('a', 'i')), '-'))
      ) p(k, v)
     WHERE r.relkind = 'S'
    UNION ALL
    -- views and materialized views: their definition
    SELECT 'view ' || r.qn, 'definition', pg_get_viewdef(r.oid, true)
      FROM rels r WHERE r.relkind IN ('v', 'm')
    UNION ALL
    -- rules other than a view's own _RETURN
    SELECT 'rule ' || r.qn || '.' || quote_ident(rw.rulename), 'definition', pg_get_ruledef(rw.oid, true)
      FROM rels r JOIN pg_rewrite rw ON rw.ev_class = r.oid AND rw.rulename <> '_RETURN'
    UNION ALL
    -- row-level security policies
    SELECT 'policy ' || r.qn || '.' || quote_ident(pol.polname), p.k, p.v
      FROM rels r
      JOIN pg_policy pol ON pol.polrelid = r.oid
      CROSS JOIN LATERAL (VALUES
          ('command', pol.polcmd::text),
          ('permissive', pol.polpermissive::text),
          ('roles', (SELECT string_agg(CASE WHEN x = 0 THEN 'PUBLIC' ELSE x::regrole::text END, ',' ORDER BY 1)
                       FROM unnest(pol.polroles) x)),
          ('using', coalesce(pg_get_expr(pol.polqual, pol.polrelid), '-')),
          ('with_check', coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '-'))
      ) p(k, v)
    UNION ALL
    -- extended statistics objects
    SELECT 'statistics ' || format('%I.%I', sn.nspname, st.stxname), p.k, p.v
      FROM pg_statistic_ext st
      JOIN pg_namespace sn ON sn.oid = st.stxnamespace
      JOIN rels r ON r.oid = st.stxrelid
      CROSS JOIN LATERAL (VALUES
          ('definition', pg_get_statisticsobjdef(st.oid)),
          ('target', st.stxstattarget::text)
      ) p(k, v)
    UNION ALL
    -- functions and procedures in user schemas (ecplan's sync function lives in the
    -- table's schema: one left behind shows up here)
    SELECT 'function ' || pr.oid::regprocedure::text, p.k, p.v
      FROM pg_proc pr
      JOIN pg_namespace pn ON pn.oid = pr.pronamespace
      CROSS JOIN LATERAL (VALUES
          ('definition', pg_get_functiondef(pr.oid)),
          ('comment', coalesce(obj_description(pr.oid, 'pg_proc'), '-'))
      ) p(k, v)
     WHERE pn.nspname NOT IN ('pg_catalog', 'information_schema', 'ecplan', 'ecplan_archive', 'it_writer')
       AND pn.nspname NOT LIKE 'pg\_toast%' AND pn.nspname NOT LIKE 'pg\_temp\_%'
       AND pr.prokind IN ('f', 'p')
       AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = pr.oid
                         AND e.deptype = 'e')
    UNION ALL
    -- schemas (one left behind by a tool shows up here)
    SELECT 'schema ' || quote_ident(nspname), 'exists', 'yes'
      FROM pg_namespace
     WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'ecplan', 'ecplan_archive', 'it_writer')
       AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp\_%'
)
SELECT obj, prop, replace(replace(replace(val, E'\\', E'\\\\'), E'\n', E'\\n'), E'\t', E'\\t')
  FROM props
 ORDER BY 1, 2;
