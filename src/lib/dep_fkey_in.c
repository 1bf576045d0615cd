/*
 * Dependent-object kind: foreign keys of other tables (or of this one) that
 * REFERENCE the column. Such a key can change only together with every
 * column that references it, in one plan ("changes"): each referencing
 * column's own change carries its foreign key (dep_fkey.c: the copy
 * references the new key column, added once the new key's unique index is
 * built, validated before switch, renamed at contract). Here each such
 * foreign key is listed, and refused when a referencing column is not
 * changed by the plan, naming the changes to add.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

enum { REFERENCES = 1 }; /* d->number of a foreign key that references the column */

static int inventory(ecplan_inventory *inv, int kind, PGconn *conn, const ecplan_plan *plan,
		     const ecplan_catalog *cat, ecplan_error *err)
{
	char oid[16], att[16];
	ecplan_dep_params(oid, att, cat);
	const char *params[2] = { oid, att };
	PGresult *res = NULL;
	/* One row per referencing column paired with this column: the foreign
	 * key, its table, that column and its type. */
	int rc = ecplan_db_query(
		&res, conn,
		"SELECT c.conname, n.nspname, r.relname, a.attname,"
		" pg_catalog.format_type(a.atttypid, a.atttypmod), c.conrelid = c.confrelid"
		" FROM pg_catalog.pg_constraint c"
		" JOIN pg_catalog.pg_class r ON r.oid = c.conrelid"
		" JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace,"
		" unnest(c.conkey, c.confkey) AS k(a, f)"
		" JOIN pg_catalog.pg_attribute a ON a.attnum = k.a"
		" WHERE c.contype = 'f' AND c.confrelid = $1::oid AND k.f = $2::int2 AND c.conparentid = 0"
		"   AND a.attrelid = c.conrelid"
		" ORDER BY c.conname, n.nspname, r.relname",
		2, params, err);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *nsp = PQgetvalue(res, i, 1), *rel = PQgetvalue(res, i, 2), *col = PQgetvalue(res, i, 3);
		ecplan_dep *d = ecplan_inventory_add(inv, kind);
		d->number = REFERENCES;
		char *qt = ecplan_xstrfmt("%s.%s", nsp, rel);
		d->name = ecplan_xstrdup(PQgetvalue(res, i, 0));
		d->label = ecplan_xstrfmt("foreign key \"%s\" on %s (references this column)", d->name, qt);
		d->extra = ecplan_xstrfmt("%s.%s", qt, col);
		if (PQgetvalue(res, i, 5)[0] == 't' && !strcmp(col, plan->column)) {
			d->refusal = ecplan_xstrdup("it references the column from the column itself; drop it, change "
						    "the column, then recreate it");
		} else if (!ecplan_plan_find_change(plan, nsp, rel, col)) {
			/* The entry to add, as the plan would hold it. */
			/* With the plan's type when it changes the type (a rename
			 * renames the referencing column too). */
			char *nc = ecplan_xstrfmt("%s_new", col);
			json_t *j = json_pack("{s:s, s:s, s:s}", "table", qt, "column", col, "new_column", nc);
			if (plan->type)
				json_object_set_new(j, "type", json_string(plan->type));
			char *entry = json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT);
			json_decref(j);
			free(nc);
			d->refusal = ecplan_xstrfmt("%s.%s references \"%s\" and is not changed by this plan: change the "
						    "referenced key and every column that references it in one plan; add "
						    "to \"changes\": %s", qt, col, plan->column, entry);
			free(entry);
		}
		free(qt);
	}
	PQclear(res);
	/* A foreign key that references other columns through an index that
	 * names this one (an INCLUDE column of the unique key, say): the index
	 * goes with the old column at contract, and the foreign key with it. */
	if ((rc = ecplan_db_query(
		&res, conn,
		"SELECT c.conname, c.conrelid::regclass::text, c.conindid::regclass::text"
		" FROM pg_catalog.pg_constraint c"
		" WHERE c.contype = 'f' AND c.confrelid = $1::oid AND c.conparentid = 0"
		"   AND NOT ($2::int2 = ANY (c.confkey))"
		/* (the unique index a foreign key uses has plain columns, no
		 * expression or predicate) */
		"   AND EXISTS (SELECT 1 FROM pg_catalog.pg_index i"
		"     WHERE i.indexrelid = c.conindid AND $2::int2 = ANY (i.indkey::int2[]))"
		" ORDER BY c.conname",
		2, params, err)) < 0)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		ecplan_dep *d = ecplan_inventory_add(inv, kind);
		d->name = ecplan_xstrdup(PQgetvalue(res, i, 0));
		d->label = ecplan_xstrfmt("foreign key \"%s\" on %s (uses index %s)", d->name, PQgetvalue(res, i, 1),
					  PQgetvalue(res, i, 2));
		d->refusal = ecplan_xstrfmt("it depends on index %s, which names \"%s\": at contract that index goes "
					    "with the old column and ecplan does not move a foreign key to the rebuilt "
					    "one; drop the foreign key before the change and add it again after contract",
					    PQgetvalue(res, i, 2), plan->column);
	}
	PQclear(res);
	return 0;
}

const ecplan_dep_kind ecplan_dep_fkey_in = {
	.name = "foreign key referencing the column",
	.inventory = inventory,
	.render = NULL,
	.precheck = NULL,
	.summary = "carried by the change of its referencing column in the same plan: a copy on the new "
		   "columns references the new key once its unique index is built, is validated before "
		   "switch and takes the old name at contract, where the old one is dropped first",
};

bool ecplan_dep_key_referenced(const ecplan_catalog *cat)
{
	for (size_t i = 0; cat && i < cat->deps.count; i++)
		if (ecplan_dep_kinds[cat->deps.items[i].kind] == &ecplan_dep_fkey_in &&
		    cat->deps.items[i].number == REFERENCES)
			return true;
	return false;
}
