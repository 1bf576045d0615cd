/* ecplan check: preconditions of the next phase and a backfill estimate (read-only). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "ecplan/backfill.h"
#include "ecplan/catalog.h"
#include "ecplan/depend.h"
#include "ecplan/kind.h"
#include "ecplan/db.h"
#include "ecplan/precheck.h"
#include "ecplan/render.h"
#include "ecplan/sql.h"
#include "ecplan/state.h"
#include "ecplan/strbuf.h"
#include "ecplan/tabletriggers.h"

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Times one sample batch and extrapolates. With the new column present the
 * sample is the real batch UPDATE, rolled back; before expand it can only
 * compute `up` for the rows, a lower bound.
 */
typedef struct estimate_out {
	long long rows;
	double mib;
	bool sampled;       /* a sample batch ran */
	bool sample_failed;
	char sample_error[512];
	long long sample_rows;
	double sample_ms;
	double seconds;
	bool lower_bound;   /* before expand: computing up only */
	double rows_per_second; /* with pause_ms and max_rows_per_second */
	bool throttled;     /* they lower the rate */
} estimate_out;

static void estimate(estimate_out *out, PGconn *conn, const ecplan_plan *plan, const ecplan_catalog *cat)
{
	memset(out, 0, sizeof(*out));
	long long rows = cat->reltuples >= 0 ? (long long)cat->reltuples : -1;
	if (rows < 0) {
		/* Never analyzed: count (one sequential scan, read-only). */
		char *v = NULL, *q = ecplan_sql_ident_dup(plan->schema), *t = ecplan_sql_ident_dup(plan->table);
		char *sql = ecplan_xstrfmt("SELECT count(*)::text FROM %s.%s", q, t);
		if (ecplan_db_query_value(&v, conn, sql, 0, NULL, NULL) == 0 && v)
			rows = atoll(v);
		free(v);
		free(sql);
		free(q);
		free(t);
	}
	out->rows = rows;
	out->mib = (double)cat->relation_bytes / 1048576.0;
	if (cat->nkey == 0 || rows == 0)
		return;
	ecplan_error err;
	ecplan_error_clear(&err);
	char offset[32];
	snprintf(offset, sizeof(offset), "%ld", plan->backfill.batch_size - 1);
	const char *params[1] = { offset };
	char *bound = ecplan_render_batch_bound(plan, cat, false);
	PGresult *b = NULL, *u = NULL;
	double t0 = mono();
	int rc = ecplan_db_exec(conn, cat->new_column_exists ? "BEGIN" : "BEGIN READ ONLY", &err);
	if (rc == 0)
		rc = ecplan_db_set_local_timeouts(conn, plan->safety.lock_timeout_ms, 30000, &err);
	const char *mark[1] = { plan->name };
	if (rc == 0 && cat->new_column_exists) /* as the real batch: the trigger skips it */
		rc = ecplan_db_query(NULL, conn, "SELECT set_config('ecplan.backfill', $1, true)", 1, mark, &err);
	if (rc == 0)
		rc = ecplan_db_query(&b, conn, bound, 1, params, &err);
	long long sample = plan->backfill.batch_size;
	if (rc == 0 && cat->new_column_exists) {
		bool has_upper = PQntuples(b) == 1;
		const char **p = ecplan_xcalloc(cat->nkey, sizeof(char *));
		for (size_t i = 0; has_upper && i < cat->nkey; i++)
			p[i] = PQgetvalue(b, 0, (int)i);
		char *upd = ecplan_render_batch_update(plan, cat, false, has_upper);
		rc = ecplan_db_query(&u, conn, upd, has_upper ? (int)cat->nkey : 0, p, &err);
		free(upd);
		free(p);
	} else if (rc == 0) {
		char *up = ecplan_render_up_expr(plan);
		ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
		ecplan_strbuf_addf(&sb, "SELECT count((%s)) FROM (SELECT * FROM ", up);
		char *qt = ecplan_sql_ident_dup(plan->schema), *qn = ecplan_sql_ident_dup(plan->table);
		ecplan_strbuf_addf(&sb, "%s.%s LIMIT %lld) AS ecplan_row", qt, qn, sample);
		rc = ecplan_db_query(&u, conn, sb.buf, 0, NULL, &err);
		ecplan_strbuf_release(&sb);
		free(qt);
		free(qn);
		free(up);
	}
	double ms = (mono() - t0) * 1000.0;
	ecplan_db_rollback(conn, NULL);
	out->sampled = true;
	out->lower_bound = !cat->new_column_exists;
	if (rc < 0) {
		out->sample_failed = true;
		snprintf(out->sample_error, sizeof(out->sample_error), "%s", err.message);
	} else {
		out->sample_rows = sample < rows ? sample : rows;
		out->sample_ms = ms;
		double rate = ms > 0 ? (double)out->sample_rows / (ms / 1000.0) : 0;
		out->rows_per_second = ecplan_backfill_effective_rate(rate, plan->backfill.batch_size,
								      plan->backfill.pause_ms,
								      plan->backfill.max_rows_per_second,
								      &out->throttled);
		out->seconds = out->rows_per_second > 0 ? (double)rows / out->rows_per_second
							: ms / (double)out->sample_rows * (double)rows / 1000.0;
	}
	PQclear(b);
	PQclear(u);
	free(bound);
}

static void print_estimate(const estimate_out *e)
{
	printf("\nbackfill estimate: about %lld rows, %.1f MiB of table data\n", e->rows, e->mib);
	if (!e->sampled)
		return;
	if (e->sample_failed) {
		printf("  sample batch failed: %s\n", e->sample_error);
		return;
	}
	printf("  sample of %lld rows took %.0f ms (%s, rolled back)\n", e->sample_rows, e->sample_ms,
	       e->lower_bound ? "computing up only: a lower bound" : "the real batch UPDATE");
	if (e->throttled)
		printf("  estimated backfill time: %.0f s%s at most %.0f rows/s (throttled by pause_ms / "
		       "max_rows_per_second), plus index builds and NOT NULL validation\n", e->seconds,
		       e->lower_bound ? " or more" : "", e->rows_per_second);
	else
		printf("  estimated backfill time: %.0f s%s, plus index builds and NOT NULL validation\n",
		       e->seconds, e->lower_bound ? " or more" : "");
	printf("  (time waiting on backfill.throttle signals, pauses and lock retries comes on top)\n");
}

static json_t *estimate_json(const estimate_out *e)
{
	json_t *o = json_object();
	json_object_set_new(o, "rows", json_integer(e->rows));
	json_object_set_new(o, "table_mib", json_real((double)(long long)(e->mib * 10) / 10.0));
	json_object_set_new(o, "sample_rows", e->sampled && !e->sample_failed ? json_integer(e->sample_rows) : json_null());
	json_object_set_new(o, "sample_ms", e->sampled && !e->sample_failed ? json_real((double)(long long)e->sample_ms) : json_null());
	json_object_set_new(o, "seconds", e->sampled && !e->sample_failed ? json_integer((json_int_t)e->seconds) : json_null());
	json_object_set_new(o, "lower_bound", json_boolean(e->lower_bound));
	json_object_set_new(o, "sample_error", e->sample_failed ? json_string(e->sample_error) : json_null());
	json_object_set_new(o, "rows_per_second", e->sampled && !e->sample_failed
				? json_real((double)(long long)e->rows_per_second) : json_null());
	json_object_set_new(o, "throttled", json_boolean(e->throttled));
	return o;
}

/* The table's other triggers that the backfill's UPDATE fires: printed, or
 * (as_json) set as "triggers" in out. Returns 0 or -1 after printing the error. */
static int list_triggers(PGconn *conn, const ecplan_plan *plan, bool as_json, json_t *out)
{
	ecplan_table_trigger *t = NULL;
	size_t n = 0;
	ecplan_error err;
	ecplan_error_clear(&err);
	if (ecplan_table_triggers_list(&t, &n, conn, plan, &err) < 0) {
		cli_print_error(&err);
		return -1;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:b}", "name", t[i].name, "definition",
						     t[i].definition, "has_when", t[i].has_when, "fires",
						     !plan->backfill.disable_triggers || t[i].fires_in_replica));
	json_object_set_new(out, "triggers", arr);
	if (as_json) {
		ecplan_table_triggers_free(t, n);
		return 0;
	}
	if (n == 0) {
		printf("\nother triggers the backfill fires: none\n");
		return 0;
	}
	printf("\nother triggers the backfill fires (its UPDATE of \"%s\", once per batch row or statement):\n",
	       plan->new_column);
	for (size_t i = 0; i < n; i++)
		printf("  %s%s%s\n    %s\n", t[i].name, t[i].has_when ? " (has a WHEN clause)" : "",
		       plan->backfill.disable_triggers && t[i].fires_in_replica
		       ? " (ENABLE ALWAYS/REPLICA: fires even with backfill.disable_triggers)" : "",
		       t[i].definition);
	if (plan->backfill.disable_triggers)
		printf("  backfill.disable_triggers is true: batches run with session_replication_role = replica, "
		       "so they do not fire (except as noted)\n");
	else
		printf("  they fire for every backfilled row (an updated_at trigger rewrites every row); "
		       "set backfill.disable_triggers to keep them quiet\n");
	ecplan_table_triggers_free(t, n);
	return 0;
}

int cmd_check(int argc, char **argv)
{
	const cli_command *self = cli_find_command("check");
	const char *db = NULL;
	bool as_json = false;
	int rc;
	ecplan_plan *plan = cli_parse_plan_args(self, argc, argv, &db, &as_json, &rc);
	if (!plan)
		return rc;
	PGconn *conn = NULL;
	ecplan_catalog **cats = NULL;
	ecplan_plan_row *row = NULL;
	ecplan_checklist list = { NULL, 0 };
	ecplan_error err;
	ecplan_error_clear(&err);
	bool exists = false;
	rc = EXIT_RUNTIME;
	if (cli_connect(&conn, db) < 0)
		goto done;
	if (ecplan_state_schema_exists(conn, &exists, &err) < 0 ||
	    (exists && ecplan_state_load(&row, conn, plan->name, &err) < 0) ||
	    ecplan_catalog_load_plan(&cats, conn, plan, &err) < 0) {
		rc = cli_exit_code(err.code);
		cli_print_error(&err);
		goto done;
	}
	if (row && ecplan_state_check_drift(plan, row, &err) < 0) {
		cli_print_error(&err);
		rc = EXIT_DRIFT;
		goto done;
	}
	ecplan_state state = row ? row->state : ECPLAN_STATE_PLANNED;
	ecplan_phase next = row && row->running != ECPLAN_PHASE_NONE ? row->running : ecplan_state_next(state);
	const ecplan_plan *c0 = ecplan_plan_change(plan, 0);
	bool one = plan->nchanges <= 1;
	char table[300];
	snprintf(table, sizeof(table), "%s.%s", c0->schema, c0->table);
	json_t *out = json_pack("{s:s, s:o, s:o, s:o, s:s, s:b, s:o}", "plan", plan->name,
				"table", one || plan->ntables == 1 ? json_string(table) : json_null(),
				"column", one ? json_string(c0->column) : json_null(),
				"new_column", one ? json_string(c0->new_column) : json_null(),
				"state", ecplan_state_name(state), "registered", row != NULL,
				"next", next != ECPLAN_PHASE_NONE ? json_string(ecplan_phase_name(next)) : json_null());
	json_object_set_new(out, "changes", cli_changes_json(plan));
	/* The kind of each change, known from the catalog (a key, say). */
	for (size_t c = 0; c < plan->nchanges; c++)
		json_object_set_new(json_array_get(json_object_get(out, "changes"), c), "kind",
				    json_string(ecplan_change_kind_of(ecplan_plan_change(plan, c), cats[c])->name));
	json_object_set_new(out, "kind", one ? json_string(ecplan_change_kind_of(c0, cats[0])->name) : json_null());
	if (!as_json) {
		char *summary = cli_plan_summary(plan);
		if (one)
			printf("plan %s: %s.%s %s -> %s, state %s\n", plan->name, c0->schema, c0->table, c0->column,
			       c0->new_column, row ? ecplan_state_name(state) : "not registered (planned)");
		else
			printf("plan %s: %s, state %s\n", plan->name, summary,
			       row ? ecplan_state_name(state) : "not registered (planned)");
		free(summary);
	}
	json_t *pre = json_array();
	json_object_set_new(out, "preconditions", pre);
	bool ok = true;
	if (next == ECPLAN_PHASE_NONE) {
		if (!as_json)
			printf("no next phase\n");
		rc = EXIT_DONE;
		goto print;
	}
	json_t *items = json_array();
	ecplan_strbuf alldeps = ECPLAN_STRBUF_INIT;
	bool any_column = false;
	for (size_t c = 0; c < plan->nchanges; c++) {
		const ecplan_catalog *cat = cats[c];
		const ecplan_plan *ch = ecplan_plan_change(plan, c);
		if (!cat->column_exists)
			continue;
		any_column = true;
		char *inv = ecplan_depend_describe(cat);
		const ecplan_change_kind *kind = ecplan_change_kind_of(ch, cat);
		if (!as_json)
			printf("%s%s%s is a %s: %s\n", one ? "" : ch->table, one ? "" : ".", ch->column, kind->name,
			       kind->summary);
		if (!as_json)
			printf("objects that depend on or name \"%s\"%s%s%s, and what each phase does to them:\n%s",
			       ch->column, one ? "" : " (", one ? "" : ch->table, one ? "" : ")", inv);
		ecplan_strbuf_adds(&alldeps, inv);
		free(inv);
		for (size_t i = 0; i < cat->deps.count; i++) {
			const ecplan_dep *d = &cat->deps.items[i];
			json_t *it = json_pack(
				"{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "kind", ecplan_dep_kinds[d->kind]->name,
				"name", d->name, "label", d->label, "action", d->refusal ? "refused" : "carried",
				"reason", d->refusal ? json_string(d->refusal) : json_null(),
				"definition", d->definition ? json_string(d->definition) : json_null(),
				"new_definition", d->copy_definition ? json_string(d->copy_definition) : json_null());
			if (!one)
				json_object_set_new(it, "change", json_integer((json_int_t)c));
			json_array_append_new(items, it);
		}
	}
	if (any_column) {
		json_object_set_new(out, "dependents", json_string(alldeps.buf));
		json_object_set_new(out, "inventory", items);
	} else {
		json_decref(items);
	}
	ecplan_strbuf_release(&alldeps);
	if (!as_json)
		printf("preconditions of %s:\n", ecplan_phase_name(next));
	if (ecplan_precheck_plan(&list, conn, plan, (const ecplan_catalog *const *)cats, next,
				 row ? row->seconds_since_switch : -1, &err) < 0) {
		cli_print_error(&err);
		json_decref(out);
		goto done;
	}
	for (size_t i = 0; i < list.count; i++) {
		if (!as_json) {
			printf("  [%s] %s\n", list.items[i].ok ? "pass" : "FAIL", list.items[i].name);
			if (list.items[i].detail)
				printf("         %s\n", list.items[i].detail);
		}
		json_array_append_new(pre, json_pack("{s:s, s:b, s:o}", "name", list.items[i].name, "ok",
						     list.items[i].ok, "detail",
						     list.items[i].detail ? json_string(list.items[i].detail) : json_null()));
		ok &= list.items[i].ok;
	}
	/* Per table (its first change): the triggers the backfill fires and
	 * its estimate; JSON has the first table's. */
	for (size_t t = 0; t < plan->ntables; t++) {
		const ecplan_plan *tp = ecplan_plan_table_first(plan, t);
		const ecplan_catalog *cat = cats[tp->change_index];
		if (!(cat->table_exists && cat->column_exists && next <= ECPLAN_PHASE_BACKFILL))
			continue;
		if (!as_json && plan->ntables > 1)
			printf("\ntable %s.%s:", tp->schema, tp->table);
		if (t == 0 || !as_json) {
			if (list_triggers(conn, tp, as_json, out) < 0) {
				json_decref(out);
				goto done;
			}
		}
		estimate_out est;
		estimate(&est, conn, tp, cat);
		if (as_json && t == 0)
			json_object_set_new(out, "estimate", estimate_json(&est));
		else if (!as_json)
			print_estimate(&est);
	}
	rc = ok ? EXIT_DONE : EXIT_PRECONDITION;
print:
	json_object_set_new(out, "ok", json_boolean(ok));
	if (!json_object_get(out, "estimate"))
		json_object_set_new(out, "estimate", json_null());
	if (!json_object_get(out, "triggers"))
		json_object_set_new(out, "triggers", json_null());
	if (!json_object_get(out, "dependents"))
		json_object_set_new(out, "dependents", json_null());
	if (as_json)
		cli_print_json(out);
	json_decref(out);
	if (!ok) {
		ecplan_strbuf failed = ECPLAN_STRBUF_INIT;
		for (size_t i = 0; i < list.count; i++)
			if (!list.items[i].ok)
				ecplan_strbuf_addf(&failed, "%s%s", failed.len ? "; " : "", list.items[i].name);
		cli_fail(ECPLAN_EPRECONDITION, failed.buf, "the FAIL lines above say what to do",
			 "a precondition of %s failed", ecplan_phase_name(next));
		ecplan_strbuf_release(&failed);
	}
done:
	ecplan_checklist_release(&list);
	ecplan_catalogs_free(cats, plan);
	ecplan_plan_row_free(row);
	ecplan_db_close(conn);
	ecplan_plan_free(plan);
	return rc;
}
