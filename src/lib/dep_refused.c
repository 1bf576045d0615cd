/*
 * Dependent-object kind: what ecplan refuses to change under. Views,
 * materialized views, rules, policies, partition keys, inherited columns,
 * foreign keys that reference the column, generated columns computed from
 * it, extended statistics, and anything else with a dependency on the column
 * that no other kind carries (catalog.c reads them as "dependents"). Each is
 * refused before expand, naming the object.
 */
#include <stdlib.h>
#include <string.h>

#include "ecplan/depend.h"
#include "ecplan/strbuf.h"

static int inventory(ecplan_inventory *inv, int kind, PGconn *conn, const ecplan_plan *plan,
		     const ecplan_catalog *cat, ecplan_error *err)
{
	(void)conn;
	(void)plan;
	(void)err;
	for (size_t i = 0; i < cat->ndependents; i++) {
		ecplan_dep *d = ecplan_inventory_add(inv, kind);
		d->name = ecplan_xstrdup(cat->dependents[i]);
		d->label = ecplan_xstrdup(cat->dependents[i]);
		d->refusal = ecplan_xstrdup("ecplan cannot carry it over to the new column; change or drop it "
					    "first (and recreate it after contract)");
	}
	return 0;
}

const ecplan_dep_kind ecplan_dep_refused = {
	.name = "refused",
	.inventory = inventory,
	.render = NULL,
	.precheck = NULL,
	.summary = NULL,
};
