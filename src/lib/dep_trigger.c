/*
 * Dependent-object kind: triggers of the table declared UPDATE OF the
 * column or with a WHEN clause naming it. At contract, in the transaction
 * that drops the old column, the trigger is dropped and created again from
 * its own definition (pg_get_triggerdef) with the column renamed, under the
 * same name (so it keeps its place in the firing order), enabled state and
 * comment. Until contract it keeps firing for the old column: a statement
 * that sets only the new column (new code, after switch) does not fire an
 * UPDATE OF trigger; README says so.
 */
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/rewrite.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

/* The UPDATE OF list lies between the trigger's name and ON; WHEN clauses
 * name columns as new.x / old.x. */
static char *rewrite(const char *def, const ecplan_plan *plan, int *n)
{
	size_t off = 0, len = 0;
	int a = 0, b = 0;
	int name_tok = !strncmp(def, "CREATE CONSTRAINT TRIGGER", 25) ? 3 : 2;
	if (!ecplan_rewrite_token(def, name_tok, &off, &len)) {
		*n = 0;
		return ecplan_xstrdup(def);
	}
	size_t on = ecplan_rewrite_find_keyword(def, off + len, "ON");
	size_t of = ecplan_rewrite_find_keyword(def, off + len, "OF");
	char *step = (of != (size_t)-1 && on != (size_t)-1 && of < on)
		? ecplan_dep_rewrite(def, of, on, plan, ECPLAN_REWRITE_BARE, false, &a)
		: ecplan_xstrdup(def);
	char *out = ecplan_dep_rewrite(step, 0, (size_t)-1, plan, ECPLAN_REWRITE_ROW, false, &b);
	free(step);
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
		"SELECT t.tgname, pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled::text,"
		" pg_catalog.obj_description(t.oid, 'pg_trigger')"
		" FROM pg_catalog.pg_trigger t"
		" WHERE t.tgrelid = $1::oid AND NOT t.tgisinternal"
		"   AND (EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
		"         WHERE d.classid = 'pg_catalog.pg_trigger'::regclass AND d.objid = t.oid"
		"           AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = $1::oid"
		"           AND d.refobjsubid = $2::int2)"
		"        OR $2::int2 = ANY (t.tgattr::int2[]))"
		" ORDER BY t.tgname",
		2, params, err);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		ecplan_dep *d = ecplan_inventory_add(inv, kind);
		d->name = ecplan_xstrdup(PQgetvalue(res, i, 0));
		d->label = ecplan_xstrfmt("trigger \"%s\"", d->name);
		d->definition = ecplan_xstrdup(PQgetvalue(res, i, 1));
		d->extra = ecplan_xstrdup(PQgetvalue(res, i, 2));
		d->comment = PQgetisnull(res, i, 3) ? NULL : ecplan_xstrdup(PQgetvalue(res, i, 3));
		int n = 0;
		d->copy_definition = rewrite(d->definition, plan, &n);
		if (n == 0)
			d->refusal = ecplan_xstrfmt("ecplan cannot find \"%s\" in its definition %s; recreate it for "
						    "\"%s\" yourself", plan->column, d->definition, plan->new_column);
	}
	PQclear(res);
	return 0;
}

static void render(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan, const ecplan_catalog *cat,
		   const ecplan_dep *d, ecplan_dep_slot slot)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	(void)out;
	(void)cat;
	if (slot == ECPLAN_SLOT_CONTRACT_DROP) {
		ecplan_strbuf_adds(&sb, "DROP TRIGGER ");
		ecplan_sql_ident(&sb, d->name);
		ecplan_strbuf_adds(&sb, " ON ");
		ecplan_dep_table(&sb, plan);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
	} else if (slot == ECPLAN_SLOT_CONTRACT_AFTER) {
		ecplan_step_add_stmt(st, ecplan_xstrdup(d->copy_definition), ECPLAN_LOCK_HELD);
		const char *how = !strcmp(d->extra, "D") ? "DISABLE" : !strcmp(d->extra, "R") ? "ENABLE REPLICA"
				: !strcmp(d->extra, "A") ? "ENABLE ALWAYS" : NULL;
		if (how) {
			ecplan_strbuf_adds(&sb, "ALTER TABLE ");
			ecplan_dep_table(&sb, plan);
			ecplan_strbuf_addf(&sb, " %s TRIGGER ", how);
			ecplan_sql_ident(&sb, d->name);
			ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
		}
		if (d->comment) {
			ecplan_strbuf_adds(&sb, "COMMENT ON TRIGGER ");
			ecplan_sql_ident(&sb, d->name);
			ecplan_strbuf_adds(&sb, " ON ");
			ecplan_dep_table(&sb, plan);
			ecplan_strbuf_adds(&sb, " IS ");
			ecplan_sql_literal(&sb, d->comment);
			ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
		}
	}
}

const ecplan_dep_kind ecplan_dep_trigger = {
	.name = "trigger naming the column",
	.inventory = inventory,
	.render = render,
	.precheck = NULL,
	.shared = true,
	.summary = "contract drops it and creates it again for the new column, same name, enabled state "
		   "and comment (in the contract transaction); until then it fires for the old column only",
};
