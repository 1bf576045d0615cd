/*
 * Dependent-object kind: foreign keys FROM the column to another table (or
 * another column of this one). A copy on the new column goes in NOT VALID
 * with the sync trigger, is VALIDATEd after the backfill (when the original
 * was validated), and takes the original's name at contract. The
 * definition is PostgreSQL's own (pg_get_constraintdef), so ON DELETE / ON
 * UPDATE actions, MATCH type and deferrability are kept; only the column
 * names on this side are rewritten. Foreign keys that REFERENCE the column
 * are refused (dep_refused.c).
 */
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/rewrite.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

#define LOCK_FK "SHARE ROW EXCLUSIVE on both tables, brief (NOT VALID: no scan)"
#define LOCK_FK_VALIDATE "SHARE UPDATE EXCLUSIVE here, ROW SHARE on the referenced table"

/* Rewrites the referencing side: the column list before REFERENCES and the
 * SET NULL / SET DEFAULT column lists after the referenced columns. */
static char *rewrite(const char *def, const ecplan_plan *plan, int *n)
{
	size_t refs = ecplan_rewrite_find_keyword(def, 0, "REFERENCES");
	int a = 0, b = 0;
	char *head = ecplan_rewrite_column(def, 0, refs, plan->column, plan->new_column,
					   ECPLAN_REWRITE_BARE, false, &a);
	if (refs == (size_t)-1) {
		*n = a;
		return head;
	}
	size_t refs2 = ecplan_rewrite_find_keyword(head, 0, "REFERENCES");
	size_t on = ecplan_rewrite_find_keyword(head, refs2, "ON");
	char *out = on == (size_t)-1 ? ecplan_xstrdup(head)
		: ecplan_rewrite_column(head, on, (size_t)-1, plan->column, plan->new_column,
					ECPLAN_REWRITE_BARE, false, &b);
	free(head);
	*n = a + b;
	return out;
}

static int inventory(ecplan_inventory *inv, int kind, PGconn *conn, const ecplan_plan *plan,
		     const ecplan_catalog *cat, ecplan_error *err)
{
	char oid[16], att[16];
	ecplan_dep_params(oid, att, cat);
	const char *params[2] = { oid, att };
	PGresult *res = NULL;
	int rc = ecplan_db_query(
		&res, conn,
		"SELECT c.conname, pg_catalog.pg_get_constraintdef(c.oid), c.convalidated,"
		" pg_catalog.obj_description(c.oid, 'pg_constraint'),"
		" (SELECT pg_catalog.format_type(ra.atttypid, ra.atttypmod)"
		"  FROM unnest(c.conkey, c.confkey) AS k(a, r)"
		"  JOIN pg_catalog.pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.r"
		"  WHERE k.a = $2::int2 LIMIT 1),"
		" c.confrelid = c.conrelid AND $2::int2 = ANY (c.confkey)"
		" FROM pg_catalog.pg_constraint c"
		" WHERE c.conrelid = $1::oid AND c.contype = 'f' AND $2::int2 = ANY (c.conkey)"
		"   AND c.conparentid = 0"
		" ORDER BY c.conname",
		2, params, err);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		ecplan_dep *d = ecplan_inventory_add(inv, kind);
		d->name = ecplan_xstrdup(PQgetvalue(res, i, 0));
		d->label = ecplan_xstrfmt("foreign key \"%s\"", d->name);
		d->definition = ecplan_xstrdup(PQgetvalue(res, i, 1));
		d->validated = PQgetvalue(res, i, 2)[0] == 't';
		d->comment = PQgetisnull(res, i, 3) ? NULL : ecplan_xstrdup(PQgetvalue(res, i, 3));
		d->extra = PQgetisnull(res, i, 4) ? NULL : ecplan_xstrdup(PQgetvalue(res, i, 4));
		if (cat->relkind == 'p' && d->validated) {
			d->refusal = ecplan_xstrdup("the table is partitioned, and PostgreSQL cannot add a foreign key "
						    "NOT VALID to a partitioned table (the copy would be checked under a "
						    "long lock): drop it before the change and add it again after");
			continue;
		}
		if (PQgetvalue(res, i, 5)[0] == 't') {
			d->refusal = ecplan_xstrdup("it also references the column itself; drop it, change the "
						    "column, then recreate it");
			continue;
		}
		char *def = ecplan_xstrdup(d->definition);
		ecplan_dep_strip_suffix(def, " NOT VALID");
		int n = 0;
		d->copy_definition = rewrite(def, plan, &n);
		d->copy_name = ecplan_dep_copy_name(d->name);
		if (n == 0)
			d->refusal = ecplan_xstrfmt("ecplan cannot find \"%s\" in its definition %s", plan->column,
						    d->definition);
		free(def);
	}
	PQclear(res);
	return 0;
}

static void render(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan, const ecplan_catalog *cat,
		   const ecplan_dep *d, ecplan_dep_slot slot)
{
	(void)cat;
	ecplan_dep_constraint_render(out, st, plan, d, slot, "foreign key", LOCK_FK, LOCK_FK_VALIDATE);
}

static char *precheck(PGconn *conn, const ecplan_plan *plan, const ecplan_catalog *cat, const ecplan_dep *d,
		      ecplan_phase phase)
{
	char *r = NULL;
	(void)cat;
	if (ecplan_phase_order(phase, ECPLAN_PHASE_SYNC) <= 0) {
		if (!plan->type || !d->extra)
			return NULL;
		char *sql = ecplan_xstrfmt("SELECT CAST(NULL AS %s) = CAST(NULL AS %s)", plan->type, d->extra);
		char *m = ecplan_dep_compile(conn, sql);
		if (m)
			r = ecplan_xstrfmt("foreign key \"%s\" cannot hold with the new type %s against %s: %s", d->name,
					   plan->type, d->extra, m);
		free(m);
		free(sql);
		return r;
	}
	return ecplan_dep_constraint_copy_ready(conn, plan, d, phase, "foreign key");
}

const ecplan_dep_kind ecplan_dep_fkey = {
	.name = "foreign key from the column",
	.inventory = inventory,
	.render = render,
	.precheck = precheck,
	.summary = "sync adds a copy on the new column NOT VALID (SHARE ROW EXCLUSIVE on both tables, "
		   "brief); backfill VALIDATEs it (SHARE UPDATE EXCLUSIVE, writes continue); contract drops "
		   "the original and gives the copy its name",
};
