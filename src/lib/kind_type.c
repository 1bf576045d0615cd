/*
 * Kind of change: a type change (change.type). The new column has the
 * plan's type; the default up casts the old value to it, the default down
 * casts the new value back to the old column's type. Its own precondition:
 * the type names a type on the server, said plainly before the expressions
 * that use it fail to compile.
 */
#include "ecplan/kind.h"

#include <stdlib.h>

#include "ecplan/db.h"
#include "ecplan/sql.h"

static bool matches(const ecplan_plan *change, const ecplan_catalog *cat)
{
	(void)cat;
	return ecplan_change_retypes(change);
}

static const char *new_type(const ecplan_plan *change, const ecplan_catalog *cat)
{
	(void)cat;
	return change->type;
}

static void cast(ecplan_strbuf *sb, const char *from, const char *column, const char *type,
		 const char *type_of)
{
	ecplan_strbuf_adds(sb, "CAST(");
	ecplan_strbuf_adds(sb, from);
	ecplan_sql_ident(sb, column);
	if (type) {
		ecplan_strbuf_addf(sb, " AS %s)", type);
		return;
	}
	ecplan_strbuf_adds(sb, " AS /* type of ");
	ecplan_sql_comment_ident(sb, type_of);
	ecplan_strbuf_adds(sb, ", known with --db */ unknown)");
}

static void up(ecplan_strbuf *sb, const ecplan_plan *change, const char *from)
{
	cast(sb, from, change->column, change->type, NULL);
}

static void down(ecplan_strbuf *sb, const ecplan_plan *change, const ecplan_catalog *cat, const char *from)
{
	cast(sb, from, change->new_column, cat && cat->column_exists ? cat->column.type : NULL, change->column);
}

static int precheck(ecplan_checklist *l, PGconn *conn, const ecplan_plan *change, const ecplan_catalog *cat,
		    ecplan_phase phase, ecplan_error *err)
{
	(void)cat;
	if (phase != ECPLAN_PHASE_EXPAND)
		return 0;
	char *found = NULL;
	const char *params[1] = { change->type };
	ecplan_error e;
	ecplan_error_clear(&e);
	/* to_regtype parses the name and says NULL rather than failing; a name
	 * it cannot parse at all is a type the up cast will not compile with. */
	int rc = ecplan_db_query_value(&found, conn, "SELECT pg_catalog.to_regtype($1)::text", 1, params, &e);
	if (rc < 0 && PQstatus(conn) != CONNECTION_OK) {
		ecplan_error_set(err, ECPLAN_ERR, "%s", e.message);
		return ECPLAN_ERR;
	}
	bool ok = rc == 0 && found;
	ecplan_checklist_add(l, "change.type names a type on the server", ok,
			     ok ? NULL
				: ecplan_xstrfmt("%s.type is \"%s\": %s; write a type this database has (e.g. "
						 "\"bigint\", \"numeric(12,2)\"), schema-qualified when it is not on "
						 "the search_path",
						 change->json_path, change->type, rc < 0 ? e.message : "no such type"));
	free(found);
	return 0;
}

const ecplan_change_kind ecplan_kind_type = {
	.name = "type change",
	.summary = "the new column has change.type; the default up is CAST(old AS type) and the default down "
		   "CAST(new AS the old type). Before expand: the type exists and up and down succeed on every "
		   "row (a read-only full scan, no lock beyond ACCESS SHARE)",
	.matches = matches,
	.new_type = new_type,
	.up = up,
	.down = down,
	.precheck = precheck,
};
