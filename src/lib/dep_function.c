/*
 * Dependent-object kind: functions whose bodies name the column.
 * PostgreSQL does not track what a PL/pgSQL or SQL (string) body refers to,
 * so dropping the column breaks them silently: `record "new" has no field`.
 * These are application code, which ecplan does not rewrite. A function is
 * counted when its body (outside strings and comments)
 *   - is a trigger function of this table and names NEW.col or OLD.col, or
 *   - names both the table and the column as identifiers.
 * The scan errs on the side of listing: a false match is listed too.
 * A listed function is refused unless the plan names it in change.functions
 * ("I will update it between switch and contract"); contract is refused
 * while any body still names the column.
 */
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/rewrite.h"
#include "ecplan/strbuf.h"

static int inventory(ecplan_inventory *inv, int kind, PGconn *conn, const ecplan_plan *plan,
		     const ecplan_catalog *cat, ecplan_error *err)
{
	char oid[16];
	snprintf(oid, sizeof(oid), "%u", cat->table_oid);
	const char *params[2] = { oid, plan->column };
	PGresult *res = NULL;
	/* Cheap filter in the server (the column's name somewhere in the body),
	 * the exact test here. Extension members and system schemas are skipped. */
	int rc = ecplan_db_query(
		&res, conn,
		"SELECT n.nspname || '.' || p.proname, p.oid::regprocedure::text, p.prosrc,"
		" EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgfoid = p.oid AND t.tgrelid = $1::oid)"
		" FROM pg_catalog.pg_proc p"
		" JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
		" JOIN pg_catalog.pg_language l ON l.oid = p.prolang"
		" WHERE l.lanname IN ('plpgsql', 'sql')"
		"   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'ecplan')"
		"   AND n.nspname NOT LIKE 'pg\\_%'"
		"   AND p.proname NOT LIKE 'ecplan\\_sync\\_%'"
		"   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e"
		"     WHERE e.classid = 'pg_catalog.pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')"
		"   AND strpos(lower(p.prosrc), lower($2)) > 0"
		" ORDER BY 1, 2",
		2, params, err);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *src = PQgetvalue(res, i, 2);
		bool on_table = PQgetvalue(res, i, 3)[0] == 't';
		bool names_col = ecplan_rewrite_count(src, plan->column, ECPLAN_REWRITE_ANY, true) > 0;
		bool names_table = ecplan_rewrite_count(src, plan->table, ECPLAN_REWRITE_ANY, true) > 0;
		bool row = on_table && ecplan_rewrite_count(src, plan->column, ECPLAN_REWRITE_ROW, true) > 0;
		if (!row && !(names_col && names_table))
			continue;
		bool ignored = false;
		for (size_t k = 0; k < plan->nfunctions_ignored; k++)
			ignored |= !strcmp(plan->functions_ignored[k], PQgetvalue(res, i, 0));
		if (ignored)
			continue; /* the plan says it names another column of that name */
		ecplan_dep *d = ecplan_inventory_add(inv, kind);
		d->name = ecplan_xstrdup(PQgetvalue(res, i, 0));
		d->label = ecplan_xstrfmt("function %s", PQgetvalue(res, i, 1));
		d->extra = ecplan_xstrdup(on_table ? "a trigger function of the table" : "names the table");
		if (!ecplan_dep_function_listed(plan, d->name))
			d->refusal = ecplan_xstrfmt(
				"its body names \"%s\" (%s; PostgreSQL does not track function bodies, so it "
				"would fail once the column is dropped): update it to use \"%s\" between switch "
				"and contract, and list \"%s\" in change.functions (or, if it uses another "
				"table's column of that name, in change.functions_ignored)",
				plan->column, d->extra, plan->new_column, d->name);
	}
	PQclear(res);
	return 0;
}

static char *precheck(PGconn *conn, const ecplan_plan *plan, const ecplan_catalog *cat, const ecplan_dep *d,
		      ecplan_phase phase)
{
	(void)conn;
	(void)cat;
	if (phase != ECPLAN_PHASE_CONTRACT)
		return NULL;
	return ecplan_xstrfmt("function %s still names \"%s\"; update it to use \"%s\" (CREATE OR REPLACE "
			      "FUNCTION), then run contract again (if it names another table's column of that name, "
			      "list it in change.functions_ignored)", d->name, plan->column, plan->new_column);
}

const ecplan_dep_kind ecplan_dep_function = {
	.name = "function naming the column",
	.inventory = inventory,
	.render = NULL,
	.precheck = precheck,
	.summary = "application code, not rewritten by ecplan: listed in change.functions, updated by "
		   "the team between switch and contract; contract is refused while a body still names "
		   "the old column",
};
