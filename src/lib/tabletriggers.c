/*
 * The table's other triggers and the backfill (tabletriggers.h). Names go in
 * as query parameters; nothing here changes the database.
 */
#include "ecplan/tabletriggers.h"

#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/render.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

int ecplan_table_triggers_list(ecplan_table_trigger **out, size_t *count, PGconn *conn,
			       const ecplan_plan *plan, ecplan_error *err)
{
	*out = NULL;
	*count = 0;
	char *own = ecplan_render_trigger_name(plan);
	const char *params[4] = { plan->schema, plan->table, plan->new_column, own };
	PGresult *res = NULL;
	/* tgtype bits: 1 row, 16 UPDATE. */
	int rc = ecplan_db_query(&res, conn,
		"SELECT t.tgname, pg_get_triggerdef(t.oid), t.tgenabled IN ('A', 'R'), t.tgqual IS NOT NULL"
		" FROM pg_trigger t"
		" JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
		" WHERE n.nspname = $1 AND c.relname = $2 AND NOT t.tgisinternal AND t.tgenabled <> 'D'"
		"  AND (t.tgtype & 16) <> 0 AND t.tgname <> $4"
		"  AND (cardinality(t.tgattr::int2[]) = 0 OR EXISTS (SELECT 1 FROM pg_attribute a"
		"       WHERE a.attrelid = t.tgrelid AND a.attname = $3 AND a.attnum = ANY (t.tgattr::int2[])))"
		" ORDER BY t.tgname", 4, params, err);
	free(own);
	if (rc < 0)
		return rc;
	int n = PQntuples(res);
	if (n > 0) {
		*out = ecplan_xcalloc((size_t)n, sizeof(**out));
		for (int i = 0; i < n; i++) {
			(*out)[i].name = ecplan_xstrdup(PQgetvalue(res, i, 0));
			(*out)[i].definition = ecplan_xstrdup(PQgetvalue(res, i, 1));
			(*out)[i].fires_in_replica = !strcmp(PQgetvalue(res, i, 2), "t");
			(*out)[i].has_when = !strcmp(PQgetvalue(res, i, 3), "t");
		}
	}
	*count = (size_t)n;
	PQclear(res);
	return 0;
}

void ecplan_table_triggers_free(ecplan_table_trigger *t, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(t[i].name);
		free(t[i].definition);
	}
	free(t);
}

int ecplan_table_triggers_can_disable(bool *ok, PGconn *conn, ecplan_error *err)
{
	char *v = NULL;
	*ok = false;
	const char *sql = ecplan_db_server_version(conn) >= 150000
		? "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
		  " OR has_parameter_privilege('session_replication_role', 'SET')"
		: "SELECT rolsuper FROM pg_roles WHERE rolname = current_user";
	int rc = ecplan_db_query_value(&v, conn, sql, 0, NULL, err);
	if (rc == 0)
		*ok = v && !strcmp(v, "t");
	free(v);
	return rc;
}

int ecplan_table_triggers_precheck(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
				   ecplan_error *err)
{
	bool ok = false;
	int rc;
	if (!plan->backfill.disable_triggers)
		return 0;
	if ((rc = ecplan_table_triggers_can_disable(&ok, conn, err)) < 0)
		return rc;
	l->items = ecplan_xrealloc(l->items, (l->count + 1) * sizeof(*l->items));
	ecplan_check_item *it = &l->items[l->count++];
	it->name = ecplan_xstrdup("the role may set session_replication_role (backfill.disable_triggers)");
	it->ok = ok;
	it->detail = NULL;
	if (!ok) {
		char *role = NULL;
		ecplan_db_query_value(&role, conn, "SELECT quote_ident(current_user)", 0, NULL, NULL);
		it->detail = ecplan_db_server_version(conn) >= 150000
			? ecplan_xstrfmt("role %s is not a superuser and may not SET session_replication_role; "
					 "as a superuser run: GRANT SET ON PARAMETER session_replication_role TO %s; "
					 "or set backfill.disable_triggers to false (the table's triggers then fire "
					 "for every backfilled row)", role ? role : "?", role ? role : "<role>")
			: ecplan_xstrfmt("role %s is not a superuser; before PostgreSQL 15 only superusers may "
					 "SET session_replication_role: run ecplan as a superuser, or set "
					 "backfill.disable_triggers to false (the table's triggers then fire for "
					 "every backfilled row)", role ? role : "?");
		free(role);
	}
	return 0;
}
