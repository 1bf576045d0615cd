/*
 * Preconditions of each phase. Each check reads the catalog or runs a
 * read-only query; SQL from the plan (up, down, default, checks) is compiled
 * with LIMIT 0 or run in a read-only transaction, never against data.
 */
#include "ecplan/precheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/kind.h"
#include "ecplan/privs.h"
#include "ecplan/prove.h"
#include "ecplan/render.h"
#include "ecplan/sql.h"
#include "ecplan/state.h"
#include "ecplan/strbuf.h"
#include "ecplan/tabletriggers.h"

static void item(ecplan_checklist *l, const char *name, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

void ecplan_checklist_add(ecplan_checklist *l, const char *name, bool ok, char *detail)
{
	l->items = ecplan_xrealloc(l->items, (l->count + 1) * sizeof(*l->items));
	ecplan_check_item *it = &l->items[l->count++];
	it->name = ecplan_xstrdup(name);
	it->ok = ok;
	it->detail = detail;
}

static void item(ecplan_checklist *l, const char *name, bool ok, const char *fmt, ...)
{
	char *detail = NULL;
	if (fmt) {
		ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
		va_list ap;
		va_start(ap, fmt);
		ecplan_strbuf_vaddf(&sb, fmt, ap);
		va_end(ap);
		detail = ecplan_strbuf_detach(&sb);
	}
	ecplan_checklist_add(l, name, ok, detail);
}

void ecplan_checklist_release(ecplan_checklist *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->items[i].name);
		free(l->items[i].detail);
	}
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

int ecplan_checklist_result(const ecplan_checklist *l, ecplan_phase phase, ecplan_error *err)
{
	for (size_t i = 0; i < l->count; i++) {
		if (l->items[i].ok)
			continue;
		ecplan_error_set(err, ECPLAN_EPRECONDITION, "precondition of phase %s failed: %s",
				 ecplan_phase_name(phase), l->items[i].name);
		if (l->items[i].detail)
			ecplan_error_detail(err, "%s", l->items[i].detail);
		ecplan_error_hint(err, "fix it and run the command again; \"ecplan check\" lists every "
				       "precondition");
		return ECPLAN_EPRECONDITION;
	}
	return 0;
}

static void check_expressions(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
			      const ecplan_catalog *cat)
{
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT, from = ECPLAN_STRBUF_INIT;
	char *up = ecplan_render_up_expr(plan), *down = ecplan_render_down_expr(plan, cat);
	const char *type = ecplan_change_new_type(plan, cat);
	/* The row as it will be after expand: the table plus the new column. */
	ecplan_strbuf_adds(&from, "(SELECT ");
	if (!cat->new_column_exists) {
		ecplan_strbuf_addf(&from, "CAST(NULL AS %s) AS ", type);
		ecplan_sql_ident(&from, plan->new_column);
		ecplan_strbuf_adds(&from, ", ");
	}
	ecplan_strbuf_adds(&from, "t.* FROM ");
	ecplan_sql_qualified(&from, plan->schema, plan->table);
	ecplan_strbuf_adds(&from, " AS t LIMIT 0) AS ecplan_row");

	ecplan_strbuf_addf(&sql, "SELECT CAST((%s) AS %s) FROM %s", up, type, from.buf);
	char *m = ecplan_dep_compile(conn, sql.buf);
	item(l, "\"up\" compiles against the table", !m,
	     m ? "%s (up = %s); fix change.up in the plan" : NULL, m, up);
	free(m);
	ecplan_strbuf_reset(&sql);
	ecplan_strbuf_addf(&sql, "SELECT CAST((%s) AS %s) FROM %s", down, cat->column.type, from.buf);
	m = ecplan_dep_compile(conn, sql.buf);
	item(l, "\"down\" compiles against the table", !m,
	     m ? "%s (down = %s); fix change.down in the plan" : NULL, m, down);
	free(m);
	if (plan->default_expr) {
		ecplan_strbuf_reset(&sql);
		ecplan_strbuf_addf(&sql, "SELECT CAST((%s) AS %s) LIMIT 0", plan->default_expr, type);
		m = ecplan_dep_compile(conn, sql.buf);
		item(l, "\"default\" compiles", !m, m ? "%s; fix change.default in the plan" : NULL, m);
		free(m);
	}
	free(up);
	free(down);
	ecplan_strbuf_release(&sql);
	ecplan_strbuf_release(&from);
}

/* With not_null: no row may end with NULL in the new column. A full read
 * (stops at the first offender), in a read-only transaction. */
static void check_not_null(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
			   const ecplan_catalog *cat)
{
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT;
	char *up = ecplan_render_up_expr(plan);
	ecplan_strbuf_adds(&sql, "SELECT count(*) FROM (SELECT 1 FROM ");
	ecplan_sql_qualified(&sql, plan->schema, plan->table);
	ecplan_strbuf_addf(&sql, " WHERE (%s) IS NULL", up);
	if (cat->new_column_exists) {
		ecplan_strbuf_adds(&sql, " AND ");
		ecplan_sql_ident(&sql, plan->new_column);
		ecplan_strbuf_adds(&sql, " IS NULL");
	}
	ecplan_strbuf_adds(&sql, " LIMIT 1000) AS s");
	ecplan_error e;
	ecplan_error_clear(&e);
	char *v = NULL;
	int rc = ecplan_db_exec(conn, "BEGIN READ ONLY", &e);
	if (rc == 0)
		rc = ecplan_db_query_value(&v, conn, sql.buf, 0, NULL, &e);
	ecplan_db_rollback(conn, NULL);
	bool ok = rc == 0 && v && !strcmp(v, "0");
	if (rc < 0)
		item(l, "no row would leave the new column NULL (change.not_null)", false,
		     "the check failed: %s", e.message);
	else
		item(l, "no row would leave the new column NULL (change.not_null)", ok,
		     ok ? NULL : "%s%s rows have NULL for up = %s; make \"up\" give a value for them "
				 "(e.g. coalesce(...)) or fix the rows, then retry",
		     v, v && !strcmp(v, "1000") ? " or more" : "", up);
	free(v);
	free(up);
	ecplan_strbuf_release(&sql);
}

static int check_long_transactions(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
				   ecplan_error *err)
{
	ecplan_long_txn *txns = NULL;
	size_t n = 0;
	int rc = ecplan_catalog_long_transactions(&txns, &n, conn, plan->schema, plan->table,
						  plan->safety.max_transaction_age_s, err);
	if (rc < 0)
		return rc;
	ecplan_strbuf d = ECPLAN_STRBUF_INIT;
	for (size_t i = 0; i < n; i++)
		ecplan_strbuf_addf(&d, "%spid %d (application_name \"%s\", %s, transaction open %.0f s): %.80s",
				   i ? "; " : "", txns[i].pid, txns[i].application_name,
				   txns[i].state ? txns[i].state : "state hidden", txns[i].xact_age_s,
				   txns[i].query ? txns[i].query : "");
	if (n)
		ecplan_strbuf_addf(&d, ". DDL would queue behind them and stall the application: end "
				       "them (or wait), or raise safety.max_transaction_age_s");
	char name[96];
	snprintf(name, sizeof(name), "no transaction older than %ld s holds a lock on the table",
		 plan->safety.max_transaction_age_s);
	item(l, name, n == 0, n ? "%s" : NULL, d.buf);
	ecplan_strbuf_release(&d);
	ecplan_long_txns_free(txns, n);
	return 0;
}

static int run_checks(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
		      ecplan_phase phase)
{
	for (size_t i = 0; i < plan->nchecks; i++) {
		const ecplan_check *c = &plan->checks[i];
		if (c->before != phase)
			continue;
		char *v = NULL;
		ecplan_error e;
		ecplan_error_clear(&e);
		char *name = ecplan_xstrfmt("check \"%s\"", c->name);
		int rc = ecplan_db_exec(conn, "BEGIN READ ONLY", &e);
		if (rc == 0)
			rc = ecplan_db_set_local_timeouts(conn, 1000, 30000, &e);
		if (rc == 0)
			rc = ecplan_privs_enter_check(conn, plan, &e);
		if (rc == 0)
			rc = ecplan_db_query_value(&v, conn, c->sql, 0, NULL, &e);
		ecplan_db_rollback(conn, NULL);
		if (rc < 0)
			item(l, name, false, "the query failed: %s", e.message);
		else
			item(l, name, v && !strcmp(v, "t"),
			     v && !strcmp(v, "t") ? NULL : "the query returned %s, not true", v ? v : "NULL");
		free(v);
		free(name);
	}
	return 0;
}

/* Every object on the column is carried over, or the plan is refused. */
static void check_refusals(ecplan_checklist *l, const ecplan_plan *plan, const ecplan_catalog *cat)
{
	ecplan_strbuf d = ECPLAN_STRBUF_INIT;
	size_t n = 0;
	for (size_t i = 0; i < cat->deps.count; i++) {
		const ecplan_dep *dep = &cat->deps.items[i];
		if (!dep->refusal)
			continue;
		ecplan_strbuf_addf(&d, "%s%s: %s", n++ ? "; " : "", dep->label, dep->refusal);
	}
	(void)plan;
	item(l, "every object that depends on or names the column can be carried over", n == 0,
	     n ? "%s. Nothing was changed; \"ecplan check\" lists every object and what happens to it" : NULL,
	     d.buf);
	ecplan_strbuf_release(&d);
}

/* The carried objects' own conditions (copies made and validated, rules
 * that compile for the new type, functions updated). */
static void check_dependents(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
			     const ecplan_catalog *cat, ecplan_phase phase)
{
	char **problems = NULL;
	size_t n = 0;
	ecplan_depend_precheck(&problems, &n, conn, plan, cat, phase);
	ecplan_strbuf d = ECPLAN_STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		ecplan_strbuf_addf(&d, "%s%s", i ? "; " : "", problems[i]);
		free(problems[i]);
	}
	free(problems);
	if (n || cat->deps.count)
		item(l, "objects carried over to the new column are ready for this phase", n == 0,
		     n ? "%s" : NULL, d.buf);
	ecplan_strbuf_release(&d);
}

/* No other active plan changes the same column (or uses the same new
 * column): two plans on one column would both reach switched, and the first
 * contract would break every write of the other. */
static int check_other_plans(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan, ecplan_error *err)
{
	bool exists = false;
	int rc = ecplan_state_schema_exists(conn, &exists, err);
	if (rc < 0 || !exists)
		return rc;
	ecplan_plan_row **rows = NULL;
	size_t n = 0;
	if ((rc = ecplan_state_load_all(&rows, &n, conn, err)) < 0)
		return rc;
	ecplan_strbuf d = ECPLAN_STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		const ecplan_plan_row *row = rows[i];
		/* Active: it has changed something that is still there. A plan
		 * whose expand stopped before its first step changed nothing; if it
		 * resumes, its own expand meets this plan here in turn. */
		bool started = ecplan_phase_reached(row->state, ECPLAN_PHASE_EXPAND) ||
			       (row->running != ECPLAN_PHASE_NONE && row->step > 0);
		bool active = started && row->state != ECPLAN_STATE_CONTRACTED;
		if (!active || !strcmp(row->name, plan->name))
			continue;
		ecplan_plan *other = NULL;
		ecplan_diags diags = ECPLAN_DIAGS_INIT;
		if (ecplan_plan_parse(&other, row->plan_json, strlen(row->plan_json), row->name, &diags) == 0) {
			for (size_t k = 0; k < other->nchanges; k++) {
				const ecplan_plan *oc = ecplan_plan_change(other, k);
				if (strcmp(oc->schema, plan->schema) || strcmp(oc->table, plan->table))
					continue;
				const char *mine[2] = { plan->column, plan->new_column };
				const char *theirs[2] = { oc->column, oc->new_column };
				bool clash = false;
				for (int a = 0; a < 2; a++)
					for (int b = 0; b < 2; b++)
						clash |= !strcmp(mine[a], theirs[b]);
				if (clash)
					ecplan_strbuf_addf(&d, "%splan \"%s\" (%s, changes \"%s\" into \"%s\")",
							   d.len ? "; " : "", row->name, ecplan_state_name(row->state),
							   oc->column, oc->new_column);
			}
		}
		ecplan_plan_free(other);
		ecplan_diags_release(&diags);
	}
	item(l, "no other active plan changes the same columns", d.len == 0,
	     d.len ? "%s. Finish it (contract) or roll it back first, or change another column" : NULL, d.buf);
	ecplan_strbuf_release(&d);
	ecplan_plan_rows_free(rows, n);
	return 0;
}

int ecplan_precheck_index_state(PGconn *conn, const char *schema, const char *name, bool *exists,
				bool *valid, ecplan_error *err)
{
	PGresult *res = NULL;
	const char *params[2] = { schema, name };
	*exists = *valid = false;
	int rc = ecplan_db_query(&res, conn,
		"SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
		" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
		2, params, err);
	if (rc == 0 && PQntuples(res) == 1) {
		*exists = true;
		*valid = !strcmp(PQgetvalue(res, 0, 0), "t");
	}
	PQclear(res);
	return rc;
}

/* Before switch and contract: the NOT NULL check validated (the rebuilt
 * indexes are checked by their kind, dep_index.c). */
static int check_switch_ready(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
			      const ecplan_catalog *cat, ecplan_error *err)
{
	int rc;
	if (ecplan_render_not_null(plan, cat)) {
		char *cn = ecplan_render_check_name(plan), *v = NULL;
		rc = ecplan_dep_constraint_state(&v, conn, plan, cn, err);
		if (rc == 0)
			item(l, "NOT NULL check is validated", v && !strcmp(v, "true"),
			     v && !strcmp(v, "true") ? NULL : "constraint \"%s\" is %s; run the backfill phase again",
			     cn, v && !strcmp(v, "missing") ? "missing" : "not validated");
		free(v);
		free(cn);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* What a precondition concerns: the whole plan (the server, checks[], the
 * soak time), the change's table, or the change itself (always). A plan with
 * several changes runs each once. */
enum { SCOPE_PLAN = 1, SCOPE_TABLE = 2 };

static int precheck(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan, const ecplan_catalog *cat,
		    ecplan_phase phase, double switched_for_s, unsigned scope, ecplan_error *err)
{
	int rc = 0;
	if (scope & SCOPE_PLAN)
		item(l, "server version is 13 or later", cat->server_version_num >= 130000,
		     cat->server_version_num >= 130000 ? NULL : "the server is version %d; ecplan needs 13 or later",
		     cat->server_version_num);
	item(l, "table exists", cat->table_exists,
	     cat->table_exists ? NULL : "no table %s.%s; check \"table\" in the plan (names are case-sensitive)",
	     plan->schema, plan->table);
	if (!cat->table_exists)
		return 0;
	if (cat->relkind == 'p')
		item(l, "table is partitioned the way ecplan supports", !cat->partition_problem,
		     cat->partition_problem ? "%s.%s: %s" : NULL, plan->schema, plan->table,
		     cat->partition_problem);
	else
		item(l, "table is an ordinary table", cat->relkind == 'r',
		     cat->relkind == 'r' ? NULL : "%s.%s is not an ordinary table (a view, foreign table or the like)",
		     plan->schema, plan->table);
	bool column_needed = phase != ECPLAN_PHASE_CONTRACT || !cat->new_column_exists || cat->column_exists;
	if (column_needed)
		item(l, "column exists", cat->column_exists,
		     cat->column_exists ? NULL : "table %s.%s has no column \"%s\"", plan->schema,
		     plan->table, plan->column);
	if (!cat->column_exists)
		return 0;
	if (phase == ECPLAN_PHASE_EXPAND && (rc = check_other_plans(l, conn, plan, err)) < 0)
		return rc;
	if (phase == ECPLAN_PHASE_EXPAND) {
		bool ok = !cat->new_column_exists || cat->new_column_is_ours;
		item(l, "new column does not exist yet", ok,
		     ok ? NULL : "column \"%s\" already exists and was not added by ecplan plan \"%s\"; "
				 "choose another change.new_column",
		     plan->new_column, plan->name);
	} else {
		item(l, "new column exists (added by expand)", cat->new_column_exists,
		     cat->new_column_exists ? NULL : "column \"%s\" is missing; was it dropped by hand? "
						     "roll the plan back and start again",
		     plan->new_column);
	}
	if (phase <= ECPLAN_PHASE_BACKFILL) {
		item(l, "a usable key exists", cat->nkey > 0,
		     cat->nkey ? "%s" : "the table has no primary key and no unique index on NOT NULL "
					"columns (other than \"%s\"); add one (CREATE UNIQUE INDEX CONCURRENTLY), then retry",
		     cat->nkey ? cat->key_source : plan->column);
		check_refusals(l, plan, cat);
		/* The kind's first (the type exists, say): its failure explains
		 * the expressions' that follow. */
		if ((rc = ecplan_change_precheck(l, conn, plan, cat, phase, err)) < 0)
			return rc;
		check_expressions(l, conn, plan, cat);
		if ((rc = ecplan_prove_precheck(l, conn, plan, cat, phase, err)) < 0)
			return rc;
		if (ecplan_render_not_null(plan, cat))
			check_not_null(l, conn, plan, cat);
		if ((scope & SCOPE_TABLE) && (rc = ecplan_table_triggers_precheck(l, conn, plan, err)) < 0)
			return rc;
	}
	if (phase == ECPLAN_PHASE_CONTRACT) {
		/* The inventory is taken again: nothing that appeared since may be lost. */
		check_refusals(l, plan, cat);
	}
	check_dependents(l, conn, plan, cat, phase);
	if (phase == ECPLAN_PHASE_EXPAND && (rc = ecplan_privs_check(l, conn, plan, cat, err)) < 0)
		return rc;
	if ((phase == ECPLAN_PHASE_SWITCH || phase == ECPLAN_PHASE_CONTRACT) &&
	    (rc = check_switch_ready(l, conn, plan, cat, err)) < 0)
		return rc;
	if (phase != ECPLAN_PHASE_SWITCH && (scope & SCOPE_TABLE))
		if ((rc = check_long_transactions(l, conn, plan, err)) < 0)
			return rc;
	if (!(scope & SCOPE_PLAN))
		return 0;
	if (phase == ECPLAN_PHASE_CONTRACT) {
		bool ok = switched_for_s >= (double)plan->contract.min_soak_s;
		item(l, "soak time since switch has passed", ok,
		     ok ? NULL : "switched %.0f s ago; contract.min_soak_s is %ld s: wait %.0f s more",
		     switched_for_s < 0 ? 0 : switched_for_s, plan->contract.min_soak_s,
		     (double)plan->contract.min_soak_s - (switched_for_s < 0 ? 0 : switched_for_s));
	}
	return run_checks(l, conn, plan, phase);
}

int ecplan_precheck_phase(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
			  const ecplan_catalog *cat, ecplan_phase phase, double switched_for_s,
			  ecplan_error *err)
{
	return precheck(l, conn, plan, cat, phase, switched_for_s, SCOPE_PLAN | SCOPE_TABLE, err);
}

/* Whether the list already has an item with the same name, result and detail. */
static bool has_item(const ecplan_checklist *l, size_t upto, const ecplan_check_item *it)
{
	for (size_t i = 0; i < upto; i++)
		if (!strcmp(l->items[i].name, it->name) && l->items[i].ok == it->ok &&
		    !strcmp(l->items[i].detail ? l->items[i].detail : "", it->detail ? it->detail : ""))
			return true;
	return false;
}

int ecplan_precheck_plan(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
			 const ecplan_catalog *const *cats, ecplan_phase phase, double switched_for_s,
			 ecplan_error *err)
{
	if (plan->nchanges <= 1)
		return ecplan_precheck_phase(l, conn, plan, cats[0], phase, switched_for_s, err);
	for (size_t i = 0; i < plan->nchanges; i++) {
		size_t from = l->count;
		const ecplan_plan *c = ecplan_plan_change(plan, i);
		unsigned scope = (i == 0 ? SCOPE_PLAN : 0) |
				 (ecplan_plan_table_first(plan, (size_t)c->table_index) == c ? SCOPE_TABLE : 0);
		int rc = precheck(l, conn, c, cats[i], phase, switched_for_s, scope, err);
		if (rc < 0)
			return rc;
		/* A result every change shares (a column that exists, say) is
		 * listed once. */
		size_t keep = from;
		for (size_t k = from; k < l->count; k++) {
			if (has_item(l, from, &l->items[k])) {
				free(l->items[k].name);
				free(l->items[k].detail);
				continue;
			}
			l->items[keep++] = l->items[k];
		}
		l->count = keep;
	}
	return 0;
}
