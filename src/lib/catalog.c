/*
 * Reads what ecplan needs to know about the target table from the system
 * catalogs: the columns, the key to walk, the indexes to rebuild and what
 * would stop the old column from being dropped.
 *
 * Every name arrives as a query parameter and is compared with nspname,
 * relname and attname; nothing the user wrote is pasted into SQL. The few
 * pieces that vary are fixed fragments chosen by server version.
 *
 * Stored expressions (defaults, index expressions and predicates, partition
 * expressions) are read as pg_node_tree text: a column shows up there as
 * "{VAR :varno 1 :varattno N ...}" and a function call as ":funcid N" or
 * ":opfuncid N". That is how "does this expression use the column" and "is
 * this default volatile" are answered without a parser.
 */
#include "ecplan/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/strbuf.h"

/* Schema-qualified, quote_ident'ed name of the relation with oid `o`. */
#define QUALNAME(o)                                                                   \
	"(SELECT quote_ident(qn.nspname) || '.' || quote_ident(qc.relname)"           \
	" FROM pg_catalog.pg_class qc JOIN pg_catalog.pg_namespace qn"                \
	" ON qn.oid = qc.relnamespace WHERE qc.oid = " o ")"

/* Does node tree text `tree` contain a Var for attribute number `att`? */
#define USES_ATT(tree, att) "coalesce(" tree "::text, '') ~ (':varattno ' || " att " || ' ')"

static char *dup_value(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : ecplan_xstrdup(PQgetvalue(res, row, col));
}

static bool bool_value(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

static void column_release(ecplan_column_info *c)
{
	free(c->name);
	free(c->type);
	free(c->default_expr);
	free(c->comment);
	free(c->generation_expr);
	free(c->collation);
	free(c->owned_sequence);
	memset(c, 0, sizeof(*c));
}

static void index_release(ecplan_index_info *ix)
{
	size_t i;

	free(ix->name);
	free(ix->method);
	free(ix->definition);
	free(ix->constraint_name);
	for (i = 0; i < ix->nkeys; i++) {
		free(ix->keys[i].name);
		free(ix->keys[i].opclass);
		free(ix->keys[i].collation);
		free(ix->keys[i].expression);
	}
	free(ix->keys);
	for (i = 0; i < ix->ninclude; i++)
		free(ix->include[i]);
	free(ix->include);
	free(ix->predicate);
	free(ix->comment);
	free(ix->constraint_comment);
	free(ix->reloptions);
	free(ix->tablespace);
	for (size_t p = 0; p < ix->npartition_indexes; p++)
		free(ix->partition_indexes[p]);
	free(ix->partition_indexes);
}

static void free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void ecplan_catalog_free(ecplan_catalog *cat)
{
	size_t i;

	if (!cat)
		return;
	column_release(&cat->column);
	column_release(&cat->new_col);
	free_strings(cat->key_columns, cat->nkey);
	free_strings(cat->key_types, cat->nkey);
	free(cat->key_source);
	free(cat->key_index);
	for (i = 0; i < cat->nindexes; i++)
		index_release(&cat->indexes[i]);
	free(cat->indexes);
	free_strings(cat->dependents, cat->ndependents);
	free_strings(cat->check_constraints, cat->nchecks);
	ecplan_inventory_release(&cat->deps);
	free_strings(cat->partitions, cat->npartitions);
	free(cat->partition_problem);
	free(cat);
}

/* Runs a one-column query and collects the non-NULL values. */
static int query_strings(char ***out, size_t *count, PGconn *conn, const char *sql, int nparams,
			 const char *const *params, ecplan_error *err)
{
	PGresult *res = NULL;
	int rc, i;
	size_t n = 0;

	*out = NULL;
	*count = 0;
	if ((rc = ecplan_db_query(&res, conn, sql, nparams, params, err)) < 0)
		return rc;
	if (PQntuples(res) > 0) {
		*out = ecplan_xcalloc((size_t)PQntuples(res), sizeof(char *));
		for (i = 0; i < PQntuples(res); i++)
			if (!PQgetisnull(res, i, 0))
				(*out)[n++] = ecplan_xstrdup(PQgetvalue(res, i, 0));
	}
	*count = n;
	PQclear(res);
	return 0;
}

static int load_table(ecplan_catalog *cat, PGconn *conn, const char *schema, const char *table,
		      ecplan_error *err)
{
	static const char sql[] =
		"SELECT c.oid, c.relkind, c.reltuples, pg_catalog.pg_relation_size(c.oid)"
		" FROM pg_catalog.pg_class c"
		" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		" WHERE n.nspname = $1 AND c.relname = $2";
	const char *params[] = { schema, table };
	PGresult *res = NULL;
	int rc;

	if ((rc = ecplan_db_query(&res, conn, sql, 2, params, err)) < 0)
		return rc;
	if (PQntuples(res) == 1) {
		cat->table_exists = true;
		cat->table_oid = (unsigned int)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
		cat->relkind = PQgetvalue(res, 0, 1)[0];
		cat->reltuples = strtod(PQgetvalue(res, 0, 2), NULL);
		cat->relation_bytes = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	}
	PQclear(res);
	return 0;
}

static int load_column(bool *exists, ecplan_column_info *col, PGconn *conn, const char *oid,
		       const char *name, int version, ecplan_error *err)
{
	/* attgenerated is PostgreSQL 12+. */
	const char *gen = version >= 120000 ? "a.attgenerated::text" : "''::text";
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT;
	const char *params[] = { oid, name };
	PGresult *res = NULL;
	int rc;

	*exists = false;
	ecplan_strbuf_addf(
		&sql,
		"SELECT a.attnum, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,"
		" CASE WHEN %s = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END,"
		" CASE WHEN %s <> '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END,"
		" %s <> '',"
		" a.attidentity::text,"
		" a.attidentity <> '' OR EXISTS ("
		"   SELECT 1 FROM regexp_matches(d.adbin::text, ':(?:func|opfunc)id ([0-9]+)', 'g') AS m(f)"
		"   JOIN pg_catalog.pg_proc p ON p.oid = m.f[1]::oid WHERE p.provolatile = 'v'),"
		" pg_catalog.col_description(a.attrelid, a.attnum),"
		" CASE WHEN a.attcollation <> t.typcollation"
		"   THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,"
		" a.attinhcount > 0,"
		" (SELECT quote_ident(sn.nspname) || '.' || quote_ident(sc.relname)"
		"  FROM pg_catalog.pg_depend sd"
		"  JOIN pg_catalog.pg_class sc ON sc.oid = sd.objid AND sc.relkind = 'S'"
		"  JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace"
		"  WHERE sd.classid = 'pg_catalog.pg_class'::regclass"
		"    AND sd.refclassid = 'pg_catalog.pg_class'::regclass"
		"    AND sd.refobjid = a.attrelid AND sd.refobjsubid = a.attnum"
		"    AND sd.deptype IN ('a', 'i')"
		"  ORDER BY sc.oid LIMIT 1)"
		" FROM pg_catalog.pg_attribute a"
		" JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
		" LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
		" LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation"
		" LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace"
		" WHERE a.attrelid = $1::oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
		gen, gen, gen);
	if ((rc = ecplan_db_query(&res, conn, sql.buf, 2, params, err)) < 0)
		goto done;
	if (PQntuples(res) == 1) {
		*exists = true;
		col->name = ecplan_xstrdup(name);
		col->attnum = atoi(PQgetvalue(res, 0, 0));
		col->type = dup_value(res, 0, 1);
		col->not_null = bool_value(res, 0, 2);
		col->default_expr = dup_value(res, 0, 3);
		col->generation_expr = dup_value(res, 0, 4);
		col->generated = bool_value(res, 0, 5);
		col->identity = PQgetvalue(res, 0, 6)[0];
		col->default_volatile = bool_value(res, 0, 7);
		col->comment = dup_value(res, 0, 8);
		col->collation = dup_value(res, 0, 9);
		col->inherited = bool_value(res, 0, 10);
		col->owned_sequence = dup_value(res, 0, 11);
	}
done:
	PQclear(res);
	ecplan_strbuf_release(&sql);
	return rc;
}

/* The comment the expand phase puts on the new column: "ecplan:<plan>: ...". */
static bool is_our_comment(const char *comment, const char *plan_name)
{
	size_t n;

	if (!comment || !plan_name || strncmp(comment, "ecplan:", 7) != 0)
		return false;
	comment += 7;
	n = strlen(plan_name);
	if (strncmp(comment, plan_name, n) != 0)
		return false;
	return comment[n] == '\0' || comment[n] == ':' || comment[n] == ' ';
}

/*
 * The unique index the backfill can walk with row comparisons: see the
 * contract in catalog.h. Key columns are compared with the old and new
 * column names ($2, $3), which also works when those do not exist.
 */
static const char key_index_sql[] =
	"SELECT i.indexrelid, ic.relname, i.indisprimary, con.conname, con.contype::text"
	" FROM pg_catalog.pg_index i"
	" JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
	" JOIN pg_catalog.pg_am am ON am.oid = ic.relam"
	" LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid"
	"   AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u')"
	" WHERE i.indrelid = $1::oid AND i.indisunique AND i.indisvalid AND am.amname = 'btree'"
	"   AND i.indexprs IS NULL AND i.indpred IS NULL"
	"   AND NOT EXISTS ("
	"     SELECT 1 FROM unnest(i.indkey::int2[], i.indclass::oid[], i.indcollation::oid[])"
	"       WITH ORDINALITY AS k(attnum, opc, coll, ord)"
	"     LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
	"     LEFT JOIN pg_catalog.pg_opclass o ON o.oid = k.opc"
	"     WHERE k.ord <= i.indnkeyatts"
	"       AND (a.attnum IS NULL OR NOT a.attnotnull OR (a.attname = $2 AND NOT i.indisprimary)"
	"            OR a.attname = $3"
	"            OR NOT coalesce(o.opcdefault, false) OR k.coll <> a.attcollation))"
	" ORDER BY i.indisprimary DESC, ic.relname"
	" LIMIT 1";

static const char key_columns_sql[] =
	"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)"
	" FROM pg_catalog.pg_index i"
	" CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
	" JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
	" WHERE i.indexrelid = $1::oid AND k.ord <= i.indnkeyatts"
	" ORDER BY k.ord";

static int load_key(ecplan_catalog *cat, PGconn *conn, const char *oid, const ecplan_plan *plan,
		    ecplan_error *err)
{
	const char *params[] = { oid, plan->column, plan->new_column };
	PGresult *res = NULL, *cols = NULL;
	ecplan_strbuf src = ECPLAN_STRBUF_INIT;
	const char *index_oid;
	int rc, i;

	if ((rc = ecplan_db_query(&res, conn, key_index_sql, 3, params, err)) < 0)
		goto done;
	if (PQntuples(res) == 0)
		goto done;
	index_oid = PQgetvalue(res, 0, 0);
	if ((rc = ecplan_db_query(&cols, conn, key_columns_sql, 1, &index_oid, err)) < 0)
		goto done;
	if (PQntuples(cols) == 0)
		goto done;
	cat->nkey = (size_t)PQntuples(cols);
	cat->key_columns = ecplan_xcalloc(cat->nkey, sizeof(char *));
	cat->key_types = ecplan_xcalloc(cat->nkey, sizeof(char *));
	for (i = 0; i < PQntuples(cols); i++) {
		cat->key_columns[i] = dup_value(cols, i, 0);
		cat->key_types[i] = dup_value(cols, i, 1);
	}
	cat->key_index = dup_value(res, 0, 1);
	if (bool_value(res, 0, 2))
		ecplan_strbuf_addf(&src, "primary key \"%s\"",
				   PQgetisnull(res, 0, 3) ? cat->key_index : PQgetvalue(res, 0, 3));
	else if (!PQgetisnull(res, 0, 3))
		ecplan_strbuf_addf(&src, "unique constraint \"%s\"", PQgetvalue(res, 0, 3));
	else
		ecplan_strbuf_addf(&src, "unique index \"%s\"", cat->key_index);
	cat->key_source = ecplan_strbuf_detach(&src);
done:
	PQclear(res);
	PQclear(cols);
	ecplan_strbuf_release(&src);
	return rc;
}

static int load_indexes(ecplan_catalog *cat, PGconn *conn, const char *oid, const char *attnum,
			int version, ecplan_error *err)
{
	const char *params[] = { oid, attnum };
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT, oids = ECPLAN_STRBUF_INIT;
	PGresult *res = NULL, *keys = NULL;
	const char *oids_param;
	int rc, i, k;

	/* indnullsnotdistinct is PostgreSQL 15+. */
	ecplan_strbuf_addf(
		&sql,
		"SELECT i.indexrelid, ic.relname, am.amname, pg_catalog.pg_get_indexdef(i.indexrelid),"
		" i.indisunique, i.indisprimary, i.indisvalid, %s,"
		" con.conname, con.contype::text,"
		" pg_catalog.pg_get_expr(i.indpred, i.indrelid),"
		" " USES_ATT("i.indexprs", "$2::int2") " OR " USES_ATT("i.indpred", "$2::int2") ","
		" coalesce(con.condeferrable, false), coalesce(con.condeferred, false),"
		" pg_catalog.obj_description(i.indexrelid, 'pg_class'),"
		" pg_catalog.obj_description(con.oid, 'pg_constraint'),"
		" array_to_string(ic.reloptions, ', '),"
		" (SELECT quote_ident(ts.spcname) FROM pg_catalog.pg_tablespace ts WHERE ts.oid = ic.reltablespace),"
		" i.indisclustered, i.indisreplident"
		" FROM pg_catalog.pg_index i"
		" JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
		" JOIN pg_catalog.pg_am am ON am.oid = ic.relam"
		" LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid"
		"   AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')"
		" WHERE i.indrelid = $1::oid"
		"   AND ($2::int2 = ANY (i.indkey::int2[])"
		"        OR " USES_ATT("i.indexprs", "$2::int2") " OR " USES_ATT("i.indpred", "$2::int2")
		"        OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend dp"
		"                   WHERE dp.classid = 'pg_catalog.pg_class'::regclass"
		"                     AND dp.objid = i.indexrelid"
		"                     AND dp.refclassid = 'pg_catalog.pg_class'::regclass"
		"                     AND dp.refobjid = i.indrelid AND dp.refobjsubid = $2::int2))"
		" ORDER BY ic.relname",
		version >= 150000 ? "i.indnullsnotdistinct" : "false");
	if ((rc = ecplan_db_query(&res, conn, sql.buf, 2, params, err)) < 0)
		goto done;
	if (PQntuples(res) == 0)
		goto done;

	cat->nindexes = (size_t)PQntuples(res);
	cat->indexes = ecplan_xcalloc(cat->nindexes, sizeof(*cat->indexes));
	ecplan_strbuf_addch(&oids, '{');
	for (i = 0; i < PQntuples(res); i++) {
		ecplan_index_info *ix = &cat->indexes[i];
		const char *ct = PQgetisnull(res, i, 9) ? "" : PQgetvalue(res, i, 9);
		ix->name = dup_value(res, i, 1);
		ix->method = dup_value(res, i, 2);
		ix->definition = dup_value(res, i, 3);
		ix->unique = bool_value(res, i, 4);
		ix->primary = bool_value(res, i, 5);
		ix->valid = bool_value(res, i, 6);
		ix->nulls_not_distinct = bool_value(res, i, 7);
		ix->constraint_name = dup_value(res, i, 8);
		ix->constraint_type = ct[0];
		ix->predicate = dup_value(res, i, 10);
		ix->uses_column_in_expression = bool_value(res, i, 11);
		ix->deferrable = bool_value(res, i, 12);
		ix->deferred = bool_value(res, i, 13);
		ix->comment = dup_value(res, i, 14);
		ix->constraint_comment = dup_value(res, i, 15);
		ix->reloptions = PQgetisnull(res, i, 16) || !PQgetvalue(res, i, 16)[0] ? NULL : dup_value(res, i, 16);
		ix->tablespace = dup_value(res, i, 17);
		ix->clustered = bool_value(res, i, 18);
		ix->replident = bool_value(res, i, 19);
		ecplan_strbuf_addf(&oids, "%s%s", i ? "," : "", PQgetvalue(res, i, 0));
	}
	ecplan_strbuf_addch(&oids, '}');

	/* All index columns in one round trip. indclass, indcollation and
	 * indoption cover only the key columns; INCLUDE columns get NULLs. */
	oids_param = oids.buf;
	if ((rc = ecplan_db_query(
		     &keys, conn,
		     "SELECT i.indexrelid, k.ord > i.indnkeyatts, a.attname,"
		     " CASE WHEN k.attnum = 0"
		     "   THEN pg_catalog.pg_get_indexdef(i.indexrelid, k.ord::int, false) END,"
		     " CASE WHEN NOT o.opcdefault"
		     "   THEN quote_ident(opn.nspname) || '.' || quote_ident(o.opcname) END,"
		     " CASE WHEN k.coll <> 0 AND k.coll <> coalesce(a.attcollation, et.typcollation)"
		     "   THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,"
		     " coalesce((k.opt & 1) <> 0, false), coalesce((k.opt & 2) <> 0, false)"
		     " FROM pg_catalog.pg_index i"
		     " CROSS JOIN LATERAL unnest(i.indkey::int2[], i.indclass::oid[],"
		     "   i.indcollation::oid[], i.indoption::int2[])"
		     "   WITH ORDINALITY AS k(attnum, opc, coll, opt, ord)"
		     " LEFT JOIN pg_catalog.pg_attribute a"
		     "   ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0"
		     " LEFT JOIN pg_catalog.pg_attribute ia ON ia.attrelid = i.indexrelid AND ia.attnum = k.ord"
		     " LEFT JOIN pg_catalog.pg_type et ON et.oid = ia.atttypid"
		     " LEFT JOIN pg_catalog.pg_opclass o ON o.oid = k.opc"
		     " LEFT JOIN pg_catalog.pg_namespace opn ON opn.oid = o.opcnamespace"
		     " LEFT JOIN pg_catalog.pg_collation co ON co.oid = k.coll"
		     " LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace"
		     " WHERE i.indexrelid = ANY ($1::oid[])"
		     " ORDER BY i.indexrelid, k.ord",
		     1, &oids_param, err)) < 0)
		goto done;

	for (i = 0; i < PQntuples(res); i++) {
		ecplan_index_info *ix = &cat->indexes[i];
		const char *ioid = PQgetvalue(res, i, 0);
		size_t nk = 0, ni = 0;
		for (k = 0; k < PQntuples(keys); k++) {
			if (strcmp(PQgetvalue(keys, k, 0), ioid) != 0)
				continue;
			if (bool_value(keys, k, 1))
				ni++;
			else
				nk++;
		}
		ix->keys = nk ? ecplan_xcalloc(nk, sizeof(*ix->keys)) : NULL;
		ix->include = ni ? ecplan_xcalloc(ni, sizeof(char *)) : NULL;
		for (k = 0; k < PQntuples(keys); k++) {
			if (strcmp(PQgetvalue(keys, k, 0), ioid) != 0)
				continue;
			if (bool_value(keys, k, 1)) {
				ix->include[ix->ninclude++] = dup_value(keys, k, 2);
				continue;
			}
			ecplan_index_column *c = &ix->keys[ix->nkeys++];
			c->name = dup_value(keys, k, 2);
			c->expression = dup_value(keys, k, 3);
			c->opclass = dup_value(keys, k, 4);
			c->collation = dup_value(keys, k, 5);
			c->desc = bool_value(keys, k, 6);
			c->nulls_first = bool_value(keys, k, 7);
		}
	}
done:
	PQclear(res);
	PQclear(keys);
	ecplan_strbuf_release(&sql);
	ecplan_strbuf_release(&oids);
	return rc;
}

/* See "dependents" in catalog.h. $1 table oid, $2 attnum. */
static int load_dependents(ecplan_catalog *cat, PGconn *conn, const char *oid, const char *attnum,
			   int version, ecplan_error *err)
{
	const char *params[] = { oid, attnum };
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT;
	int rc;

	ecplan_strbuf_adds(
		&sql,
		"SELECT DISTINCT line FROM ("
		/* Views, materialized views and rules (their rewrite rules). */
		" SELECT CASE WHEN r.ev_class = $1::oid"
		"   THEN 'rule ' || quote_ident(r.rulename) || ' on ' || " QUALNAME("r.ev_class")
		"   ELSE CASE v.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END"
		"        || " QUALNAME("v.oid") " END AS line"
		" FROM pg_catalog.pg_depend d"
		" JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
		" JOIN pg_catalog.pg_class v ON v.oid = r.ev_class"
		" WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass"
		"   AND d.refclassid = 'pg_catalog.pg_class'::regclass"
		"   AND d.refobjid = $1::oid AND d.refobjsubid = $2::int2"
		/* Row-level security policies. */
		" UNION ALL"
		" SELECT 'policy ' || quote_ident(p.polname) || ' on ' || " QUALNAME("p.polrelid")
		" FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_policy p ON p.oid = d.objid"
		" WHERE d.classid = 'pg_catalog.pg_policy'::regclass"
		"   AND d.refclassid = 'pg_catalog.pg_class'::regclass"
		"   AND d.refobjid = $1::oid AND d.refobjsubid = $2::int2"
		/* Partition key of this (partitioned) table. */
		" UNION ALL"
		" SELECT 'partition key of ' || " QUALNAME("pt.partrelid")
		" FROM pg_catalog.pg_partitioned_table pt"
		" WHERE pt.partrelid = $1::oid"
		"   AND ($2::int2 = ANY (pt.partattrs::int2[]) OR " USES_ATT("pt.partexprs", "$2::int2") ")"
		/* A column that comes from a parent (inheritance or partitioning). */
		" UNION ALL"
		" SELECT 'column inherited from ' || " QUALNAME("ih.inhparent")
		" FROM pg_catalog.pg_inherits ih"
		" JOIN pg_catalog.pg_attribute a ON a.attrelid = ih.inhrelid AND a.attnum = $2::int2"
		" WHERE ih.inhrelid = $1::oid AND a.attinhcount > 0"
		/* Foreign keys that reference the column: dep_fkey_in.c. */
		/* Extended statistics on the column. */
		" UNION ALL"
		" SELECT 'statistics object ' || quote_ident(sn.nspname) || '.' || quote_ident(s.stxname)"
		" FROM pg_catalog.pg_statistic_ext s"
		" JOIN pg_catalog.pg_namespace sn ON sn.oid = s.stxnamespace"
		" WHERE s.stxrelid = $1::oid AND $2::int2 = ANY (s.stxkeys::int2[])"
		/* Anything else that the server would refuse to drop the column under. */
		" UNION ALL"
		" SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)"
		" FROM pg_catalog.pg_depend d"
		" WHERE d.refclassid = 'pg_catalog.pg_class'::regclass"
		"   AND d.refobjid = $1::oid AND d.refobjsubid = $2::int2 AND d.deptype = 'n'"
		"   AND d.classid NOT IN ('pg_catalog.pg_rewrite'::regclass, 'pg_catalog.pg_policy'::regclass,"
		"     'pg_catalog.pg_constraint'::regclass, 'pg_catalog.pg_trigger'::regclass,"
		"     'pg_catalog.pg_class'::regclass, 'pg_catalog.pg_attrdef'::regclass)");
	if (version >= 140000)
		ecplan_strbuf_adds(
			&sql,
			" UNION ALL"
			" SELECT 'statistics object ' || quote_ident(sn.nspname) || '.' || quote_ident(s.stxname)"
			" FROM pg_catalog.pg_statistic_ext s"
			" JOIN pg_catalog.pg_namespace sn ON sn.oid = s.stxnamespace"
			" WHERE s.stxrelid = $1::oid AND " USES_ATT("s.stxexprs", "$2::int2"));
	/* Generated columns (PostgreSQL 12+) computed from the column. */
	if (version >= 120000)
		ecplan_strbuf_adds(
			&sql,
			" UNION ALL"
			" SELECT 'generated column ' || quote_ident(a.attname) || ' of ' || " QUALNAME("a.attrelid")
			" FROM pg_catalog.pg_attrdef ad"
			" JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum"
			" WHERE ad.adrelid = $1::oid AND a.attgenerated <> '' AND a.attnum <> $2::int2"
			"   AND NOT a.attisdropped AND " USES_ATT("ad.adbin", "$2::int2"));
	ecplan_strbuf_adds(&sql, ") s ORDER BY line");

	rc = query_strings(&cat->dependents, &cat->ndependents, conn, sql.buf, 2, params, err);
	ecplan_strbuf_release(&sql);
	if (rc < 0)
		return rc;
	return query_strings(&cat->check_constraints, &cat->nchecks, conn,
			     "SELECT quote_ident(c.conname) || ' ' || pg_catalog.pg_get_constraintdef(c.oid)"
			     " FROM pg_catalog.pg_constraint c"
			     " WHERE c.conrelid = $1::oid AND c.contype = 'c' AND $2::int2 = ANY (c.conkey)"
			     " ORDER BY c.conname",
			     2, params, err);
}

/* The partitions of a partitioned table, and what ecplan cannot handle. */
static int load_partitions(ecplan_catalog *cat, PGconn *conn, const char *oid, ecplan_error *err)
{
	PGresult *res = NULL;
	const char *params[1] = { oid };
	int rc = ecplan_db_query(&res, conn,
		"SELECT c.relname, c.relkind::text, c.relnamespace = p.relnamespace"
		" FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid"
		" JOIN pg_catalog.pg_class p ON p.oid = i.inhparent"
		" WHERE i.inhparent = $1::oid ORDER BY c.relname", 1, params, err);
	if (rc < 0)
		return rc;
	cat->npartitions = (size_t)PQntuples(res);
	cat->partitions = ecplan_xcalloc(cat->npartitions + 1, sizeof(char *));
	ecplan_strbuf why = ECPLAN_STRBUF_INIT;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0), *kind = PQgetvalue(res, i, 1);
		cat->partitions[i] = ecplan_xstrdup(name);
		if (strcmp(kind, "r"))
			ecplan_strbuf_addf(&why, "%spartition \"%s\" is %s", why.len ? "; " : "", name,
					   !strcmp(kind, "p") ? "itself partitioned (sub-partitions are not supported)"
					   : !strcmp(kind, "f") ? "a foreign table" : "not an ordinary table");
		else if (PQgetvalue(res, i, 2)[0] != 't')
			ecplan_strbuf_addf(&why, "%spartition \"%s\" is in another schema than the table",
					   why.len ? "; " : "", name);
	}
	if (why.len)
		cat->partition_problem = ecplan_strbuf_detach(&why);
	ecplan_strbuf_release(&why);
	PQclear(res);
	return 0;
}

/* For each index on the column, its index on each partition. */
static int load_partition_indexes(ecplan_catalog *cat, PGconn *conn, ecplan_error *err)
{
	for (size_t x = 0; x < cat->nindexes; x++) {
		ecplan_index_info *ix = &cat->indexes[x];
		PGresult *res = NULL;
		char toid[16];
		snprintf(toid, sizeof(toid), "%u", cat->table_oid);
		const char *params[2] = { toid, ix->name };
		int rc = ecplan_db_query(&res, conn,
			"SELECT t.relname, ci.relname"
			" FROM pg_catalog.pg_class pi"
			" JOIN pg_catalog.pg_index px ON px.indexrelid = pi.oid AND px.indrelid = $1::oid"
			" JOIN pg_catalog.pg_inherits i ON i.inhparent = pi.oid"
			" JOIN pg_catalog.pg_class ci ON ci.oid = i.inhrelid"
			" JOIN pg_catalog.pg_index cx ON cx.indexrelid = ci.oid"
			" JOIN pg_catalog.pg_class t ON t.oid = cx.indrelid"
			" WHERE pi.relname = $2 AND pi.relnamespace = (SELECT relnamespace FROM pg_catalog.pg_class"
			"   WHERE oid = $1::oid)", 2, params, err);
		if (rc < 0)
			return rc;
		ix->partition_indexes = ecplan_xcalloc(cat->npartitions + 1, sizeof(char *));
		ix->npartition_indexes = cat->npartitions;
		for (size_t p = 0; p < cat->npartitions; p++)
			for (int i = 0; i < PQntuples(res); i++)
				if (!strcmp(PQgetvalue(res, i, 0), cat->partitions[p]))
					ix->partition_indexes[p] = ecplan_xstrdup(PQgetvalue(res, i, 1));
		PQclear(res);
	}
	return 0;
}

int ecplan_catalog_load(ecplan_catalog **out, PGconn *conn, const ecplan_plan *plan,
			ecplan_error *err)
{
	ecplan_catalog *cat;
	const char *schema = plan->schema ? plan->schema : "public";
	char oid[16], attnum[16];
	int rc = 0;

	*out = NULL;
	cat = ecplan_xcalloc(1, sizeof(*cat));
	cat->reltuples = -1;
	cat->server_version_num = ecplan_db_server_version(conn);
	if (cat->server_version_num == 0) {
		rc = ecplan_error_set(err, ECPLAN_ERR, "not connected to a database");
		goto done;
	}
	if (cat->server_version_num < 110000) {
		if (err && !err->code) {
			ecplan_error_set(err, ECPLAN_ERR, "PostgreSQL %d is not supported",
					 cat->server_version_num);
			ecplan_error_hint(err, "ecplan needs PostgreSQL 11 or later");
		}
		rc = ECPLAN_ERR;
		goto done;
	}

	if ((rc = load_table(cat, conn, schema, plan->table, err)) < 0 || !cat->table_exists)
		goto done;
	snprintf(oid, sizeof(oid), "%u", cat->table_oid);

	if (plan->column &&
	    (rc = load_column(&cat->column_exists, &cat->column, conn, oid, plan->column,
			      cat->server_version_num, err)) < 0)
		goto done;
	if (plan->new_column &&
	    (rc = load_column(&cat->new_column_exists, &cat->new_col, conn, oid, plan->new_column,
			      cat->server_version_num, err)) < 0)
		goto done;
	cat->new_column_is_ours = cat->new_column_exists &&
		is_our_comment(cat->new_col.comment, plan->name);

	if ((rc = load_key(cat, conn, oid, plan, err)) < 0)
		goto done;
	if (cat->relkind == 'p' && (rc = load_partitions(cat, conn, oid, err)) < 0)
		goto done;
	if (!cat->column_exists)
		goto done;
	snprintf(attnum, sizeof(attnum), "%d", cat->column.attnum);
	if ((rc = load_indexes(cat, conn, oid, attnum, cat->server_version_num, err)) < 0)
		goto done;
	if (cat->relkind == 'p' && (rc = load_partition_indexes(cat, conn, err)) < 0)
		goto done;
	if ((rc = load_dependents(cat, conn, oid, attnum, cat->server_version_num, err)) < 0)
		goto done;
	rc = ecplan_depend_load(cat, conn, plan, err);
done:
	if (rc < 0) {
		ecplan_catalog_free(cat);
		return rc;
	}
	*out = cat;
	return 0;
}

void ecplan_long_txns_free(ecplan_long_txn *txns, size_t count)
{
	size_t i;

	for (i = 0; txns && i < count; i++) {
		free(txns[i].application_name);
		free(txns[i].state);
		free(txns[i].query);
	}
	free(txns);
}

int ecplan_catalog_long_transactions(ecplan_long_txn **out, size_t *count, PGconn *conn,
				     const char *schema, const char *table, long max_age_s,
				     ecplan_error *err)
{
	char age[32];
	const char *params[] = { schema ? schema : "public", table, age };
	PGresult *res = NULL;
	int rc, i;

	*out = NULL;
	*count = 0;
	snprintf(age, sizeof(age), "%ld", max_age_s < 0 ? 0 : max_age_s);
	/* clock_timestamp(), not now(): the caller may be inside a long transaction. */
	if ((rc = ecplan_db_query(
		     &res, conn,
		     "SELECT a.pid, coalesce(a.application_name, ''), a.state,"
		     " extract(epoch FROM clock_timestamp() - a.xact_start)::float8, left(a.query, 200)"
		     " FROM pg_catalog.pg_stat_activity a"
		     " WHERE a.pid <> pg_catalog.pg_backend_pid() AND a.xact_start IS NOT NULL"
		     "   AND a.xact_start < clock_timestamp() - make_interval(secs => $3::float8)"
		     "   AND EXISTS ("
		     "     SELECT 1 FROM pg_catalog.pg_locks l"
		     "     JOIN pg_catalog.pg_class c ON c.oid = l.relation"
		     "     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		     "     WHERE l.pid = a.pid AND l.locktype = 'relation'"
		     "       AND l.database = (SELECT oid FROM pg_catalog.pg_database"
		     "                         WHERE datname = current_database())"
		     "       AND n.nspname = $1 AND c.relname = $2)"
		     " ORDER BY a.xact_start, a.pid",
		     3, params, err)) < 0)
		return rc;
	if (PQntuples(res) > 0) {
		*out = ecplan_xcalloc((size_t)PQntuples(res), sizeof(**out));
		for (i = 0; i < PQntuples(res); i++) {
			ecplan_long_txn *t = &(*out)[i];
			t->pid = atoi(PQgetvalue(res, i, 0));
			t->application_name = dup_value(res, i, 1);
			t->state = dup_value(res, i, 2);
			t->xact_age_s = strtod(PQgetvalue(res, i, 3), NULL);
			t->query = dup_value(res, i, 4);
		}
		*count = (size_t)PQntuples(res);
	}
	PQclear(res);
	return 0;
}

int ecplan_catalog_load_plan(ecplan_catalog ***out, PGconn *conn, const ecplan_plan *plan, ecplan_error *err)
{
	size_t n = plan->nchanges ? plan->nchanges : 1;
	ecplan_catalog **cats = ecplan_xcalloc(n, sizeof(*cats));
	*out = cats;
	for (size_t i = 0; i < n; i++) {
		int rc = ecplan_catalog_load(&cats[i], conn, ecplan_plan_change(plan, i), err);
		if (rc < 0)
			return rc;
	}
	ecplan_depend_share(cats, plan);
	return 0;
}

void ecplan_catalogs_free(ecplan_catalog **cats, const ecplan_plan *plan)
{
	if (!cats)
		return;
	for (size_t i = 0; i < (plan->nchanges ? plan->nchanges : 1); i++)
		ecplan_catalog_free(cats[i]);
	free(cats);
}
