/*
 * Dependent-object kind: CHECK constraints that use the column. A copy
 * rewritten for the new column goes in NOT VALID with the sync trigger (new
 * rows keep the rule from then on), is VALIDATEd after the backfill (when
 * the original was validated), and takes the original's name at contract,
 * after the original has gone with the old column.
 */
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/kind.h"
#include "ecplan/render.h"
#include "ecplan/rewrite.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

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
		" pg_catalog.obj_description(c.oid, 'pg_constraint'), c.conislocal"
		" FROM pg_catalog.pg_constraint c"
		" WHERE c.conrelid = $1::oid AND c.contype = 'c' AND $2::int2 = ANY (c.conkey)"
		" ORDER BY c.conname",
		2, params, err);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		ecplan_dep *d = ecplan_inventory_add(inv, kind);
		d->name = ecplan_xstrdup(PQgetvalue(res, i, 0));
		d->label = ecplan_xstrfmt("check constraint \"%s\"", d->name);
		d->definition = ecplan_xstrdup(PQgetvalue(res, i, 1));
		d->validated = PQgetvalue(res, i, 2)[0] == 't';
		d->comment = PQgetisnull(res, i, 3) ? NULL : ecplan_xstrdup(PQgetvalue(res, i, 3));
		if (PQgetvalue(res, i, 4)[0] != 't') {
			d->refusal = ecplan_xstrdup("it is inherited from a parent table; change the parent");
			continue;
		}
		char *def = ecplan_xstrdup(d->definition);
		ecplan_dep_strip_suffix(def, " NOT VALID");
		int n = 0;
		d->copy_definition = ecplan_dep_rewrite(def, 0, (size_t)-1, plan, ECPLAN_REWRITE_BARE, false, &n);
		d->copy_name = ecplan_dep_copy_name(d->name);
		if (n == 0) {
			d->refusal = ecplan_xstrfmt("ecplan cannot find \"%s\" in its definition %s; recreate it on "
						    "\"%s\" yourself, then drop it", plan->column, d->definition,
						    plan->new_column);
		}
		free(def);
	}
	PQclear(res);
	return 0;
}

static void render(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan, const ecplan_catalog *cat,
		   const ecplan_dep *d, ecplan_dep_slot slot)
{
	(void)cat;
	ecplan_dep_constraint_render(out, st, plan, d, slot, "check", ECPLAN_LOCK_AE_META, ECPLAN_LOCK_SUE);
}

static char *precheck(PGconn *conn, const ecplan_plan *plan, const ecplan_catalog *cat, const ecplan_dep *d,
		      ecplan_phase phase)
{
	char *r = NULL;
	if (phase == ECPLAN_PHASE_EXPAND) {
		/* The backfill's UPDATE sets new = up(old) on every row: PostgreSQL
		 * then checks the row against every constraint, the original (even
		 * NOT VALID) and the copy. Any row that would fail stops the plan
		 * half way, so look for one now: one read-only pass, before anything
		 * changes. */
		size_t skip = strncmp(d->copy_definition, "CHECK ", 6) ? 0 : 6;
		char *expr = ecplan_xstrdup(d->copy_definition + skip);
		ecplan_dep_strip_suffix(expr, " NO INHERIT");
		char *orig = ecplan_xstrdup(d->definition + (strncmp(d->definition, "CHECK ", 6) ? 0 : 6));
		ecplan_dep_strip_suffix(orig, " NOT VALID");
		ecplan_dep_strip_suffix(orig, " NO INHERIT");
		char *up = ecplan_render_up_expr(plan);
		char *sub = ecplan_dep_substitute_ups(expr, plan);
		ecplan_strbuf sql = ECPLAN_STRBUF_INIT;
		ecplan_strbuf_adds(&sql, "SELECT count(*) FROM (SELECT 1 FROM ");
		ecplan_dep_table(&sql, plan);
		ecplan_strbuf_addf(&sql, " WHERE (%s) IS FALSE OR (%s) IS FALSE LIMIT 1) AS s", sub, orig);
		char *v = NULL, *m = ecplan_dep_read_value(conn, sql.buf, &v);
		if (m)
			r = ecplan_xstrfmt("check constraint \"%s\" cannot be tried against up(\"%s\"): %s", d->name,
					   plan->column, m);
		else if (v && strcmp(v, "0"))
			r = ecplan_xstrfmt("some rows break check constraint \"%s\" (%s%s, or once \"%s\" = up(\"%s\")): "
					   "the backfill's UPDATE would fail on them; fix those rows (or \"up\") first",
					   d->name, d->definition, d->validated ? "" : ": it was added NOT VALID",
					   plan->new_column, plan->column);
		free(v);
		free(m);
		ecplan_strbuf_release(&sql);
		free(sub);
		free(up);
		free(expr);
		free(orig);
		if (r || !ecplan_change_retypes(plan))
			return r;
	}
	if (ecplan_phase_order(phase, ECPLAN_PHASE_SYNC) <= 0 && ecplan_change_retypes(plan)) {
		/* The rewritten rule must make sense for the new type. */
		char *from = ecplan_dep_row_source(plan, cat);
		size_t skip = strncmp(d->copy_definition, "CHECK ", 6) ? 0 : 6;
		char *expr = ecplan_xstrdup(d->copy_definition + skip);
		ecplan_dep_strip_suffix(expr, " NO INHERIT");
		char *sql = ecplan_xstrfmt("SELECT CAST(%s AS boolean) FROM %s", expr, from);
		char *m = ecplan_dep_compile(conn, sql);
		if (m)
			r = ecplan_xstrfmt("check constraint \"%s\" does not compile for the new type %s: %s (%s); "
					   "change the type, or replace the constraint before the change",
					   d->name, plan->type, m, d->copy_definition);
		free(m);
		free(sql);
		free(expr);
		free(from);
		return r;
	}
	if (ecplan_phase_order(phase, ECPLAN_PHASE_BACKFILL) < 0)
		return NULL;
	return ecplan_dep_constraint_copy_ready(conn, plan, d, phase, "check constraint");
}

const ecplan_dep_kind ecplan_dep_check = {
	.name = "check constraint",
	.inventory = inventory,
	.render = render,
	.precheck = precheck,
	.shared = true,
	.summary = "sync adds a copy on the new column NOT VALID (ACCESS EXCLUSIVE, brief); backfill "
		   "VALIDATEs it (SHARE UPDATE EXCLUSIVE, reads and writes continue); contract drops the "
		   "original and gives the copy its name (in the contract transaction); a NOT VALID "
		   "original is added again NOT VALID at contract instead",
};
