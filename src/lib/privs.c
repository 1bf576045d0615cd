/*
 * Privilege checks from the catalog, so that a missing privilege stops a
 * plan before its first change (exit 3), never half way. The SQL only reads
 * the catalog; every name goes in as a parameter, every name printed in a
 * GRANT is quoted with ecplan_sql_ident.
 */
#include "ecplan/privs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/sql.h"
#include "ecplan/state.h"
#include "ecplan/strbuf.h"

/* The state store: each table and the privileges ecplan uses on it. */
static const char state_needs_sql[] =
	"WITH need(obj, kind, priv) AS (VALUES"
	" ('schema_version', 't', 'SELECT'),"
	" ('plans', 't', 'SELECT'), ('plans', 't', 'INSERT'), ('plans', 't', 'UPDATE'),"
	" ('events', 't', 'SELECT'), ('events', 't', 'INSERT'),"
	" ('events_id_seq', 's', 'USAGE'),"
	" ('deliveries', 't', 'SELECT'), ('deliveries', 't', 'INSERT'), ('deliveries', 't', 'UPDATE'),"
	" ('backfill_ranges', 't', 'SELECT'), ('backfill_ranges', 't', 'INSERT'),"
	" ('backfill_ranges', 't', 'UPDATE'), ('backfill_ranges', 't', 'DELETE')),"
	/* by name in the catalog: to_regclass() fails without USAGE on the schema */
	" rel AS (SELECT need.*, c.oid FROM need JOIN pg_catalog.pg_class c ON c.relname = need.obj"
	"   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'ecplan')"
	" SELECT 'ecplan.' || obj, kind, string_agg(priv, ', ' ORDER BY priv) FROM rel"
	" WHERE NOT CASE kind WHEN 't' THEN has_table_privilege(oid, priv)"
	"   ELSE has_sequence_privilege(oid, priv) END"
	" GROUP BY obj, kind ORDER BY obj";

/* One row of facts about the role, its database and ecplan's schemas. */
static const char facts_sql[] =
	"SELECT current_user, current_database(),"
	" has_database_privilege(current_database(), 'CREATE'),"
	" to_regnamespace('ecplan') IS NOT NULL,"
	" coalesce(has_schema_privilege(to_regnamespace('ecplan'), 'USAGE'), false),"
	" coalesce(has_schema_privilege(to_regnamespace('ecplan'), 'CREATE'), false),"
	" to_regnamespace('ecplan_archive') IS NOT NULL,"
	" coalesce(has_schema_privilege(to_regnamespace('ecplan_archive'), 'USAGE'), false),"
	" coalesce(has_schema_privilege(to_regnamespace('ecplan_archive'), 'CREATE'), false),"
	" coalesce((SELECT pg_has_role(c.relowner, 'USAGE') FROM pg_catalog.pg_class c"
	"   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	"   WHERE n.nspname = 'ecplan' AND c.relname = 'plans'), true),"
	" (SELECT pg_get_userbyid(c.relowner) || '|' || pg_has_role(c.relowner, 'USAGE')::text"
	"   FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	"   WHERE n.nspname = 'ecplan_archive' AND c.relname = $1),"
	" (SELECT coalesce((SELECT pg_has_role(oid, 'MEMBER')::text FROM pg_catalog.pg_roles"
	"   WHERE rolname = $3), 'missing') WHERE $3 <> ''),"
	" (SELECT pg_get_userbyid(c.relowner) || '|' || pg_has_role(c.relowner, 'USAGE')::text || '|'"
	"   || has_schema_privilege(c.relnamespace, 'USAGE')::text || '|'"
	"   || has_schema_privilege(c.relnamespace, 'CREATE')::text"
	"   FROM pg_catalog.pg_class c WHERE c.oid = nullif($2, '0')::oid)";

static bool is_true(const PGresult *res, int col)
{
	return !PQgetisnull(res, 0, col) && !strcmp(PQgetvalue(res, 0, col), "t");
}

static void line(ecplan_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends one "- ..." line of what is missing. */
static void line(ecplan_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	if (sb->len)
		ecplan_strbuf_addch(sb, '\n');
	ecplan_strbuf_adds(sb, "- ");
	va_start(ap, fmt);
	ecplan_strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

/* A foreign key from the column is carried to the new column: adding it needs
 * REFERENCES on the referenced table. */
static int missing_references(ecplan_strbuf *sb, PGconn *conn, const ecplan_plan *plan, const char *oid,
			      const char *role, ecplan_error *err)
{
	PGresult *res = NULL;
	const char *params[2] = { oid, plan->column };
	int rc = ecplan_db_query(&res, conn,
		"SELECT DISTINCT n.nspname, r.relname FROM pg_catalog.pg_constraint c"
		" JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attname = $2"
		" JOIN pg_catalog.pg_class r ON r.oid = c.confrelid"
		" JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
		" WHERE c.conrelid = $1::oid AND c.contype = 'f' AND a.attnum = ANY (c.conkey)"
		"   AND NOT has_table_privilege(c.confrelid, 'REFERENCES') ORDER BY 1, 2", 2, params, err);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		ecplan_strbuf t = ECPLAN_STRBUF_INIT;
		ecplan_sql_qualified(&t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		line(sb, "REFERENCES on table %s (the foreign key from \"%s\" is carried to the new column): "
		     "GRANT REFERENCES ON %s TO %s;", t.buf, plan->column, t.buf, role);
		ecplan_strbuf_release(&t);
	}
	PQclear(res);
	return rc;
}

int ecplan_privs_missing(char **out, PGconn *conn, const ecplan_plan *plan, unsigned int table_oid,
			 bool builds_indexes, ecplan_error *err)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT, role = ECPLAN_STRBUF_INIT, db = ECPLAN_STRBUF_INIT;
	PGresult *facts = NULL, *tables = NULL;
	char oid[16];
	int rc, version = -1;

	*out = NULL;
	snprintf(oid, sizeof(oid), "%u", table_oid);
	const char *params[3] = { plan ? plan->name : "", oid,
				  plan && plan->safety.checks_role ? plan->safety.checks_role : "" };
	if ((rc = ecplan_db_query(&facts, conn, facts_sql, 3, params, err)) < 0 ||
	    (rc = ecplan_db_query(&tables, conn, state_needs_sql, 0, NULL, err)) < 0)
		goto done;
	/* The version can be read only with USAGE on ecplan and SELECT on it. */
	bool can_read_version = is_true(facts, 4);
	for (int i = 0; i < PQntuples(tables); i++)
		can_read_version &= strcmp(PQgetvalue(tables, i, 0), "ecplan.schema_version") != 0;
	if (can_read_version && (rc = ecplan_state_schema_version(&version, conn, err)) < 0)
		goto done;
	ecplan_sql_ident(&role, PQgetvalue(facts, 0, 0));
	ecplan_sql_ident(&db, PQgetvalue(facts, 0, 1));
	bool db_create = is_true(facts, 2), ecplan_exists = is_true(facts, 3);
	bool archive_exists = is_true(facts, 6);

	if (!ecplan_exists && !db_create)
		line(&sb, "CREATE on database %s (schema ecplan does not exist yet): run "
					     "\"ecplan init\" as an admin, or GRANT CREATE ON DATABASE %s TO %s;",
					     db.buf, db.buf, role.buf);
	if (ecplan_exists && !is_true(facts, 4))
		line(&sb, "USAGE on schema ecplan (ecplan's state): GRANT USAGE ON SCHEMA "
					     "ecplan TO %s;", role.buf);
	if (ecplan_exists && version >= 0 && version < ECPLAN_STATE_SCHEMA_VERSION && !is_true(facts, 9))
		line(&sb, "ownership of ecplan's tables (schema ecplan is version %d, this "
					     "ecplan needs %d): run \"ecplan init\" as their owner or an admin",
					     version, ECPLAN_STATE_SCHEMA_VERSION);
	for (int i = 0; i < PQntuples(tables); i++)
		line(&sb, "%s on %s %s (ecplan's state): GRANT %s ON %s%s TO %s;",
					     PQgetvalue(tables, i, 2),
					     PQgetvalue(tables, i, 1)[0] == 's' ? "sequence" : "table",
					     PQgetvalue(tables, i, 0), PQgetvalue(tables, i, 2),
					     PQgetvalue(tables, i, 1)[0] == 's' ? "SEQUENCE " : "",
					     PQgetvalue(tables, i, 0), role.buf);
	if (plan) {
		if (ecplan_exists && !is_true(facts, 5))
			line(&sb, "CREATE on schema ecplan (for the sync trigger's function "
						     "ecplan.ecplan_sync_<plan>): GRANT CREATE ON SCHEMA ecplan TO %s;",
						     role.buf);
		if (!PQgetisnull(facts, 0, 11) && strcmp(PQgetvalue(facts, 0, 11), "true")) {
			ecplan_strbuf cr = ECPLAN_STRBUF_INIT;
			ecplan_sql_ident(&cr, plan->safety.checks_role);
			if (!strcmp(PQgetvalue(facts, 0, 11), "missing"))
				line(&sb, "role %s (safety.checks_role, which the checks run as) does not exist: "
				     "CREATE ROLE %s NOLOGIN; and GRANT it SELECT on what the checks read, then "
				     "GRANT %s TO %s;", cr.buf, cr.buf, cr.buf, role.buf);
			else
				line(&sb, "membership in role %s (safety.checks_role, which the checks run as): "
				     "GRANT %s TO %s;", cr.buf, cr.buf, role.buf);
			ecplan_strbuf_release(&cr);
		}
		if (!PQgetisnull(facts, 0, 12)) {
			/* owner|has its privileges|USAGE|CREATE on the table's schema */
			char *t = ecplan_xstrdup(PQgetvalue(facts, 0, 12));
			char *bar1 = strchr(t, '|'), *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
			char *bar3 = bar2 ? strchr(bar2 + 1, '|') : NULL;
			if (bar1 && bar2 && bar3) {
				*bar1 = *bar2 = *bar3 = '\0';
				ecplan_strbuf owner = ECPLAN_STRBUF_INIT, tab = ECPLAN_STRBUF_INIT;
				ecplan_sql_ident(&owner, t);
				ecplan_sql_qualified(&tab, plan->schema, plan->table);
				if (strcmp(bar1 + 1, "true"))
					line(&sb, "ownership of table %s (ALTER TABLE, CREATE TRIGGER "
								     "and CREATE INDEX need it; its owner is %s): run "
								     "ecplan as %s, or GRANT %s TO %s;", tab.buf,
								     owner.buf, owner.buf, owner.buf, role.buf);
				ecplan_strbuf sch = ECPLAN_STRBUF_INIT;
				ecplan_sql_ident(&sch, plan->schema);
				if (strcmp(bar2 + 1, "true"))
					line(&sb, "USAGE on schema %s (the table's schema): GRANT USAGE ON SCHEMA %s TO %s;",
					     sch.buf, sch.buf, role.buf);
				/* PostgreSQL checks CREATE on the table's schema for CREATE INDEX. */
				if (builds_indexes && strcmp(bar3 + 1, "true"))
					line(&sb, "CREATE on schema %s (the backfill rebuilds the indexes on the column "
					     "there, and CREATE INDEX needs it): GRANT CREATE ON SCHEMA %s TO %s;",
					     sch.buf, sch.buf, role.buf);
				ecplan_strbuf_release(&sch);
				ecplan_strbuf_release(&owner);
				ecplan_strbuf_release(&tab);
			}
			free(t);
		}
		if (plan->contract.archive) {
			if (!archive_exists && !db_create)
				line(&sb, "CREATE on database %s (contract.archive: schema "
							     "ecplan_archive does not exist yet): run \"ecplan init\" as "
							     "an admin, or GRANT CREATE ON DATABASE %s TO %s;",
							     db.buf, db.buf, role.buf);
			if (archive_exists && (!is_true(facts, 7) || !is_true(facts, 8)))
				line(&sb, "USAGE and CREATE on schema ecplan_archive "
							     "(contract.archive): GRANT USAGE, CREATE ON SCHEMA "
							     "ecplan_archive TO %s;", role.buf);
			if (!PQgetisnull(facts, 0, 10)) {
				char *t = ecplan_xstrdup(PQgetvalue(facts, 0, 10));
				char *bar = strchr(t, '|');
				if (bar && strcmp(bar + 1, "true")) {
					*bar = '\0';
					ecplan_strbuf at = ECPLAN_STRBUF_INIT;
					ecplan_sql_qualified(&at, "ecplan_archive", plan->name);
					line(&sb, "ownership of table %s (contract replaces it; its "
								     "owner is \"%s\"): drop it, or run ecplan as its "
								     "owner", at.buf, t);
					ecplan_strbuf_release(&at);
				}
				free(t);
			}
		}
	}
	if (plan && table_oid && (rc = missing_references(&sb, conn, plan, oid, role.buf, err)) < 0)
		goto done;
	if (sb.len)
		*out = ecplan_strbuf_detach(&sb);
done:
	ecplan_strbuf_release(&sb);
	ecplan_strbuf_release(&role);
	ecplan_strbuf_release(&db);
	PQclear(facts);
	PQclear(tables);
	return rc;
}

int ecplan_privs_check(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
		       const ecplan_catalog *cat, ecplan_error *err)
{
	char *missing = NULL;
	int rc = ecplan_privs_missing(&missing, conn, plan, cat ? cat->table_oid : 0,
				      cat && cat->nindexes > 0, err);
	if (rc < 0)
		return rc;
	l->items = ecplan_xrealloc(l->items, (l->count + 1) * sizeof(*l->items));
	ecplan_check_item *it = &l->items[l->count++];
	it->name = ecplan_xstrdup("the role has every privilege the plan needs, in every phase");
	it->ok = missing == NULL;
	it->detail = missing ? ecplan_xstrfmt("missing, with the statement that grants it:\n%s", missing) : NULL;
	free(missing);
	return 0;
}

int ecplan_privs_check_state(PGconn *conn, ecplan_error *err)
{
	char *missing = NULL;
	int rc = ecplan_privs_missing(&missing, conn, NULL, 0, false, err);
	if (rc < 0 || !missing)
		return rc;
	ecplan_error_set(err, ECPLAN_EPRECONDITION, "the role lacks privileges on ecplan's state in schema ecplan");
	ecplan_error_detail(err, "missing, with the statement that grants it:\n%s", missing);
	ecplan_error_hint(err, "have an admin run \"ecplan init --grant ROLE\" (\"ecplan init --print-sql "
			       "--grant ROLE\" prints the SQL), then run the same command again");
	free(missing);
	return ECPLAN_EPRECONDITION;
}

char *ecplan_privs_grant_sql(const char *role)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT, r = ECPLAN_STRBUF_INIT;
	ecplan_sql_ident(&r, role);
	ecplan_strbuf_addf(&sb,
		"GRANT USAGE, CREATE ON SCHEMA ecplan TO %s;\n"
		"GRANT SELECT ON ecplan.schema_version TO %s;\n"
		"GRANT SELECT, INSERT, UPDATE ON ecplan.plans, ecplan.deliveries TO %s;\n"
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ecplan.backfill_ranges TO %s;\n"
		"GRANT SELECT, INSERT ON ecplan.events TO %s;\n"
		"GRANT USAGE ON SEQUENCE ecplan.events_id_seq TO %s;\n"
		"GRANT USAGE, CREATE ON SCHEMA ecplan_archive TO %s;\n",
		r.buf, r.buf, r.buf, r.buf, r.buf, r.buf, r.buf);
	ecplan_strbuf_release(&r);
	return ecplan_strbuf_detach(&sb);
}

int ecplan_privs_grant(PGconn *conn, const char *role, ecplan_error *err)
{
	char *sql = ecplan_privs_grant_sql(role);
	int rc;
	if ((rc = ecplan_db_begin(conn, err)) == 0 && (rc = ecplan_db_exec(conn, sql, err)) == 0)
		rc = ecplan_db_commit(conn, err);
	if (rc < 0 && ecplan_db_in_transaction(conn))
		ecplan_db_rollback(conn, NULL);
	free(sql);
	return rc;
}

int ecplan_privs_enter_check(PGconn *conn, const ecplan_plan *plan, ecplan_error *err)
{
	if (!plan->safety.checks_role)
		return 0;
	const char *params[1] = { plan->safety.checks_role };
	/* set_config('role', ..., true) is SET LOCAL ROLE, with the name as a value. */
	return ecplan_db_query(NULL, conn, "SELECT set_config('role', $1, true)", 1, params, err);
}
