/* ecplan verify: count rows where the two columns disagree, list the first ones. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "ecplan/strbuf.h"
#include "ecplan/catalog.h"
#include "ecplan/db.h"
#include "ecplan/kind.h"
#include "ecplan/render.h"

/*
 * One change: prints (or, as_json, returns in *json) its counts and first
 * divergent rows; what is wrong goes to problems, which the caller reports
 * once for the whole plan (with --json: one error object). Returns the exit
 * code.
 */
static int verify_one(PGconn *conn, const ecplan_plan *plan, bool as_json, json_t **json, ecplan_diags *problems)
{
	ecplan_catalog *cat = NULL;
	PGresult *res = NULL;
	ecplan_error err;
	ecplan_error_clear(&err);
	int rc = EXIT_RUNTIME;
	if (ecplan_catalog_load(&cat, conn, plan, &err) < 0) {
		*ecplan_diags_add(problems) = err;
		rc = cli_exit_code(err.code);
		goto done;
	}
	if (!cat->table_exists || !cat->column_exists || !cat->new_column_exists) {
		ecplan_error *e = ecplan_diags_add(problems);
		ecplan_error_clear(e);
		ecplan_error_set(e, cat->table_exists && !cat->column_exists ? ECPLAN_EIMPOSSIBLE : ECPLAN_EPRECONDITION,
				 "nothing to verify: %s",
				 !cat->table_exists ? "the table does not exist"
				 : !cat->column_exists ? "the old column is gone (contracted?)"
						       : "the new column does not exist yet (run expand first)");
		ecplan_error_hint(e, "verify compares \"%s\" and \"%s\" between expand and contract", plan->column,
				  plan->new_column);
		rc = cli_exit_code(e->code);
		goto done;
	}
	char *sql = ecplan_render_verify(plan, cat);
	ecplan_db_set_session_timeouts(conn, -1, 0, NULL);
	int q = ecplan_db_query(&res, conn, sql, 0, NULL, &err);
	free(sql);
	if (q < 0) {
		*ecplan_diags_add(problems) = err;
		goto done;
	}
	long long divergent = atoll(PQgetvalue(res, 0, 2));
	json_t *out = json_pack("{s:s, s:I, s:I, s:I, s:I}", "plan", plan->name,
				"rows", (json_int_t)atoll(PQgetvalue(res, 0, 3)),
				"new_differs", (json_int_t)atoll(PQgetvalue(res, 0, 0)),
				"old_differs", (json_int_t)atoll(PQgetvalue(res, 0, 1)),
				"divergent", (json_int_t)divergent);
	json_t *first = json_array();
	json_object_set_new(out, "first_divergent", first);
	/* Only divergent rows are out of agreement; one side differing alone is what
	 * a lossy pair gives (up = lower(email), down = the new column), so those
	 * counts are labelled as information, not as a problem. */
	if (!as_json)
		printf("rows: %s\ndivergent (both differ): %lld%s\n"
		       "for information (expected with a lossy up/down pair, not a problem):\n"
		       "  new differs from up(old): %s\n  old differs from down(new): %s\n",
		       PQgetvalue(res, 0, 3), divergent, divergent ? "" : " (in agreement)",
		       PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	rc = divergent == 0 ? EXIT_DONE : EXIT_PRECONDITION;
	/* What the kind of change needs at contract (a new key without duplicates). */
	const ecplan_change_kind *kind = ecplan_change_kind_of(plan, cat);
	json_object_set_new(out, "kind", json_string(kind->name));
	char *ksql = kind->verify ? kind->verify(plan, cat) : NULL;
	long long kbad = 0;
	if (ksql) {
		char *v = NULL;
		if (ecplan_db_query_value(&v, conn, ksql, 0, NULL, &err) < 0) {
			free(ksql);
			json_decref(out);
			*ecplan_diags_add(problems) = err;
			rc = EXIT_RUNTIME;
			goto done;
		}
		kbad = v ? atoll(v) : 0;
		free(v);
		free(ksql);
		json_object_set_new(out, kind->verify_field, json_integer((json_int_t)kbad));
		if (!as_json)
			printf("%s (%s): %lld\n", kind->verify_label, kind->name, kbad);
		if (kbad)
			rc = EXIT_PRECONDITION;
	}
	if (divergent && cat->nkey) {
		PGresult *sample = NULL;
		char *ssql = ecplan_render_divergent_sample(plan, cat, 10);
		if (ecplan_db_query(&sample, conn, ssql, 0, NULL, NULL) == 0) {
			int nk = (int)cat->nkey;
			if (!as_json)
				printf("first divergent rows (key: old | new):\n");
			for (int i = 0; i < PQntuples(sample); i++) {
				json_t *key = json_array();
				for (int k = 0; k < nk; k++)
					json_array_append_new(key, json_string(PQgetvalue(sample, i, k)));
				json_array_append_new(first, json_pack("{s:o, s:o, s:o}", "key", key,
					"old", PQgetisnull(sample, i, nk) ? json_null() : json_string(PQgetvalue(sample, i, nk)),
					"new", PQgetisnull(sample, i, nk + 1) ? json_null() : json_string(PQgetvalue(sample, i, nk + 1))));
				if (as_json)
					continue;
				printf("  ");
				for (int k = 0; k < nk; k++)
					printf("%s%s", k ? ", " : "", PQgetvalue(sample, i, k));
				printf(": %s | %s\n", PQgetisnull(sample, i, nk) ? "NULL" : PQgetvalue(sample, i, nk),
				       PQgetisnull(sample, i, nk + 1) ? "NULL" : PQgetvalue(sample, i, nk + 1));
			}
		}
		PQclear(sample);
		free(ssql);
	}
	if (plan->nchanges > 1) {
		char *table = ecplan_xstrfmt("%s.%s", plan->schema, plan->table);
		json_object_set_new(out, "table", json_string(table));
		json_object_set_new(out, "column", json_string(plan->column));
		json_object_set_new(out, "new_column", json_string(plan->new_column));
		free(table);
	}
	*json = out;
	if (kbad) {
		ecplan_error *e = ecplan_diags_add(problems);
		ecplan_error_clear(e);
		ecplan_error_set(e, ECPLAN_EPRECONDITION, "%lld rows share a value of the new key \"%s\"", kbad,
				 plan->new_column);
		ecplan_error_hint(e, "the new key's unique index cannot be built while rows share a value: make "
				     "them distinct (or fix change.up), or roll the plan back");
	}
	if (divergent) {
		ecplan_error *e = ecplan_diags_add(problems);
		ecplan_error_clear(e);
		ecplan_error_set(e, ECPLAN_EPRECONDITION, "%lld rows have \"%s\" and \"%s\" out of agreement",
				 divergent, plan->column, plan->new_column);
		ecplan_error_hint(e, "rows written to \"%s\" before the sync trigger existed (or with it "
				     "disabled) stay out of agreement; fix them, or roll the plan back and advance "
				     "again", plan->new_column);
	}
done:
	PQclear(res);
	ecplan_catalog_free(cat);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	const cli_command *self = cli_find_command("verify");
	const char *db = NULL;
	bool as_json = false;
	int rc;
	ecplan_plan *plan = cli_parse_plan_args(self, argc, argv, &db, &as_json, &rc);
	if (!plan)
		return rc;
	PGconn *conn = NULL;
	rc = EXIT_RUNTIME;
	if (cli_connect(&conn, db) < 0)
		goto done;
	ecplan_diags problems = ECPLAN_DIAGS_INIT;
	if (plan->nchanges <= 1) {
		json_t *out = NULL;
		rc = verify_one(conn, plan, as_json, &out, &problems);
		if (out && as_json)
			cli_print_json(out);
		json_decref(out);
		goto report;
	}
	/* Several changes: each in turn; the worst exit code wins. */
	json_t *all = json_array();
	long long divergent = 0;
	rc = EXIT_DONE;
	for (size_t i = 0; i < plan->nchanges; i++) {
		const ecplan_plan *c = ecplan_plan_change(plan, i);
		json_t *out = NULL;
		if (!as_json)
			printf("%s%s.%s: %s -> %s\n", i ? "\n" : "", c->schema, c->table, c->column, c->new_column);
		int r = verify_one(conn, c, as_json, &out, &problems);
		if (r != EXIT_DONE && (rc == EXIT_DONE || r == EXIT_RUNTIME))
			rc = r;
		if (out) {
			divergent += (long long)json_integer_value(json_object_get(out, "divergent"));
			json_array_append_new(all, out);
		}
	}
	json_t *o = json_pack("{s:s, s:I, s:o}", "plan", plan->name, "divergent", (json_int_t)divergent,
			      "changes", all);
	if (as_json)
		cli_print_json(o);
	json_decref(o);
report:
	/* Every problem of every change in one report (--json: one object). */
	cli_report(problems.items, problems.count, rc, NULL);
	ecplan_diags_release(&problems);
done:
	ecplan_db_close(conn);
	ecplan_plan_free(plan);
	return rc;
}
