/* ecplan status: one plan or every plan, for humans or as JSON; changes nothing. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "ecplan/backfill.h"
#include "ecplan/db.h"
#include "ecplan/state.h"
#include "ecplan/strbuf.h"
#include "ecplan/watch.h"

static json_t *runner_json(const ecplan_runner_info *who)
{
	if (!who->held)
		return json_null();
	json_t *o = json_object();
	json_object_set_new(o, "pid", who->client_pid > 0 ? json_integer(who->client_pid) : json_null());
	json_object_set_new(o, "host", who->host ? json_string(who->host) : json_null());
	json_object_set_new(o, "backend_pid", json_integer(who->backend_pid));
	json_object_set_new(o, "started_at", who->started_at ? json_string(who->started_at) : json_null());
	json_object_set_new(o, "application_name",
			    who->application_name ? json_string(who->application_name) : json_null());
	json_object_set_new(o, "client_addr", who->client_addr ? json_string(who->client_addr) : json_null());
	return o;
}

json_t *cli_status_json(PGconn *conn, const ecplan_plan_row *row)
{
	ecplan_runner_info who;
	ecplan_watch_runner(&who, conn, row->name, NULL);
	bool held = who.held;
	char *gates = NULL;
	ecplan_watch_pending_gates(&gates, conn, row->name, NULL);
	long long pending = 0;
	ecplan_state_pending_webhooks(&pending, conn, row->name, NULL);
	ecplan_phase next = row->running != ECPLAN_PHASE_NONE ? row->running : ecplan_state_next(row->state);
	bool filled = ecplan_state_rank(row->state) >= ECPLAN_STATE_BACKFILLED;
	double percent = filled ? 100.0
			: row->rows_total > 0 ? 100.0 * (double)row->rows_done / (double)row->rows_total : 0.0;
	if (percent > 100.0)
		percent = filled ? 100.0 : 99.9;
	double rate = ecplan_backfill_rate(row->rows_done, row->backfill_seconds);
	double eta = filled ? 0 : ecplan_backfill_eta(row->rows_done, row->rows_total, row->backfill_seconds);
	/* backfill_seconds is time inside batches: the plan's pause_ms and
	 * max_rows_per_second (the registered ones) slow the real pace. */
	bool limited = false;
	/* The registered plan: its settings and its changes. */
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	ecplan_plan *p = NULL;
	if (row->plan_json && ecplan_plan_parse(&p, row->plan_json, strlen(row->plan_json), "<registered>", &d) < 0)
		p = NULL;
	ecplan_diags_release(&d);
	if (p && rate > 0) {
		rate = ecplan_backfill_effective_rate(rate, p->backfill.batch_size, p->backfill.pause_ms,
						      p->backfill.max_rows_per_second, &limited);
		if (!filled && row->rows_total >= 0)
			eta = row->rows_done >= row->rows_total ? 0
				: (double)(row->rows_total - row->rows_done) / rate;
	}
	json_t *bf = json_pack("{s:I, s:o, s:f, s:o, s:o}", "rows_done", (json_int_t)row->rows_done,
			       "rows_total", row->rows_total >= 0 ? json_integer(row->rows_total) : json_null(),
			       "percent", (double)((long long)(percent * 10)) / 10.0,
			       "rows_per_second", rate >= 0 ? json_real((double)(long long)rate) : json_null(),
			       "eta_seconds", eta >= 0 ? json_integer((json_int_t)eta) : json_null());
	/* A plan with several changes lists them in "changes"; its
	 * single-change fields are null. */
	json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:b, s:o, s:o, s:I, s:o, s:s}",
			      "name", row->name, "table", row->table_name ? row->table_name : "",
			      "column", row->column ? json_string(row->column) : json_null(),
			      "new_column", row->new_column ? json_string(row->new_column) : json_null(),
			      "phase", ecplan_state_name(row->state),
			      "next", next != ECPLAN_PHASE_NONE ? json_string(ecplan_phase_name(next)) : json_null(),
			      "running", held,
			      "running_phase", row->running != ECPLAN_PHASE_NONE
					? json_string(ecplan_phase_name(row->running)) : json_null(),
			      "backfill", bf, "pending_webhooks", (json_int_t)pending,
			      "last_error", row->last_error ? json_string(row->last_error) : json_null(),
			      "updated_at", row->updated_at ? row->updated_at : "");
	json_object_set_new(o, "changes", p ? cli_changes_json(p) : json_array());
	ecplan_plan_free(p);
	json_object_set_new(o, "rolling_back", json_boolean(row->rolling_back));
	json_object_set_new(o, "step", json_integer(row->step));
	json_object_set_new(o, "switched_at", row->switched_at ? json_string(row->switched_at) : json_null());
	json_object_set_new(o, "runner", runner_json(&who));
	json_t *pg = json_array();
	bool after_pending = false;
	char after[32] = "";
	if (row->running != ECPLAN_PHASE_NONE && !row->rolling_back)
		ecplan_event_name(after, sizeof(after), row->running, "after");
	for (char *tok = gates ? strtok(gates, ",") : NULL; tok; tok = strtok(NULL, ",")) {
		json_array_append_new(pg, json_string(tok));
		after_pending |= after[0] && !strcmp(tok, after);
	}
	json_object_set_new(o, "pending_gates", pg);
	json_object_set_new(o, "phase_work_done", json_boolean(after_pending));
	json_object_set_new(o, "paused", json_boolean(row->paused));
	json_object_set_new(o, "throttled", held && row->throttled ? json_string(row->throttled) : json_null());
	json_object_set_new(o, "throttled_seconds", json_real((double)(long long)(row->throttled_seconds * 10.0) / 10.0));
	json_object_set_new(bf, "rate_limited", json_boolean(limited));
	free(gates);
	ecplan_runner_info_release(&who);
	return o;
}

static void print_human(json_t *o)
{
	json_t *bf = json_object_get(o, "backfill");
	const char *running_phase = json_string_value(json_object_get(o, "running_phase"));
	json_t *changes = json_object_get(o, "changes");
	if (json_array_size(changes) > 1) {
		printf("plan %s: %zu changes\n", json_string_value(json_object_get(o, "name")),
		       json_array_size(changes));
		size_t i;
		json_t *c;
		json_array_foreach(changes, i, c)
			printf("  change:   %s.%s -> %s\n", json_string_value(json_object_get(c, "table")),
			       json_string_value(json_object_get(c, "column")),
			       json_string_value(json_object_get(c, "new_column")));
	} else {
		printf("plan %s: %s.%s -> %s\n", json_string_value(json_object_get(o, "name")),
		       json_string_value(json_object_get(o, "table")), json_string_value(json_object_get(o, "column")),
		       json_string_value(json_object_get(o, "new_column")));
	}
	printf("  state:    %s", json_string_value(json_object_get(o, "phase")));
	if (running_phase)
		printf(" (%s of %s in progress, %lld steps done)",
		       json_is_true(json_object_get(o, "rolling_back")) ? "rollback" : "phase", running_phase,
		       (long long)json_integer_value(json_object_get(o, "step")));
	printf("\n  next:     %s\n", json_string_value(json_object_get(o, "next")) ? json_string_value(json_object_get(o, "next")) : "(none)");
	json_t *runner = json_object_get(o, "runner");
	if (json_is_object(runner) && json_is_integer(json_object_get(runner, "pid")))
		printf("  running:  ecplan pid %lld on host \"%s\" since %s (server backend pid %lld)\n",
		       (long long)json_integer_value(json_object_get(runner, "pid")),
		       json_string_value(json_object_get(runner, "host")),
		       json_string_value(json_object_get(runner, "started_at")),
		       (long long)json_integer_value(json_object_get(runner, "backend_pid")));
	else if (json_is_object(runner))
		printf("  running:  server backend pid %lld (the runner has not published its pid yet)\n",
		       (long long)json_integer_value(json_object_get(runner, "backend_pid")));
	else
		printf("  running:  no\n");
	printf("  backfill: %lld", (long long)json_integer_value(json_object_get(bf, "rows_done")));
	if (json_is_integer(json_object_get(bf, "rows_total")))
		printf("/%lld rows", (long long)json_integer_value(json_object_get(bf, "rows_total")));
	printf(" (%.1f%%)", json_real_value(json_object_get(bf, "percent")));
	if (json_is_number(json_object_get(bf, "rows_per_second")))
		printf(json_is_true(json_object_get(bf, "rate_limited")) ? ", at most %.0f rows/s (throttled)"
									    : ", %.0f rows/s",
		       json_number_value(json_object_get(bf, "rows_per_second")));
	if (json_is_integer(json_object_get(bf, "eta_seconds")))
		printf(", ETA %lld s", (long long)json_integer_value(json_object_get(bf, "eta_seconds")));
	if (json_is_true(json_object_get(o, "paused")))
		printf("\n  paused:   yes (\"ecplan resume %s\" resumes it; advance exits 12 meanwhile)",
		       json_string_value(json_object_get(o, "name")));
	if (json_string_value(json_object_get(o, "throttled")))
		printf("\n  throttled: %s", json_string_value(json_object_get(o, "throttled")));
	if (json_number_value(json_object_get(o, "throttled_seconds")) > 0)
		printf("\n  throttled for %.1f s in all",
		       json_number_value(json_object_get(o, "throttled_seconds")));
	printf("\n  webhooks: %lld pending\n", (long long)json_integer_value(json_object_get(o, "pending_webhooks")));
	if (json_is_true(json_object_get(o, "phase_work_done")))
		printf("  pending:  the database work of %s is done; the %s.after gate webhook (e.g. the feature\n"
		       "            flag flip) has not been delivered. Fix the receiver and run \"ecplan advance\"\n"
		       "            again: it re-delivers %s.after and moves the state, without redoing the DDL\n",
		       running_phase, running_phase, running_phase);
	else if (json_array_size(json_object_get(o, "pending_gates")) > 0) {
		printf("  pending:  gate webhook deliveries not delivered:");
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(o, "pending_gates"), i, v)
			printf("%s %s", i ? "," : "", json_string_value(v));
		printf("\n");
	}
	if (json_string_value(json_object_get(o, "last_error")))
		printf("  error:    %s\n", json_string_value(json_object_get(o, "last_error")));
	printf("  updated:  %s\n", json_string_value(json_object_get(o, "updated_at")));
}

int cmd_status(int argc, char **argv)
{
	const cli_command *self = cli_find_command("status");
	bool as_json = false;
	const char *db = NULL;
	if (cli_parse_json_db(self, argc, argv, &as_json, &db) < 0)
		return EXIT_USAGE;
	if (argc - optind > 1)
		return cli_usage_error(self, "give at most one plan name or file");
	char *name = NULL;
	if (optind < argc && !(name = cli_plan_name(argv[optind])))
		return EXIT_USAGE;
	PGconn *conn = NULL;
	ecplan_error err;
	ecplan_error_clear(&err);
	int rc = EXIT_RUNTIME;
	bool exists = false;
	if (cli_connect_state(&conn, db, &exists) < 0)
		goto done;
	ecplan_plan_row **rows = NULL;
	size_t n = 0;
	if (exists && name) {
		ecplan_plan_row *row = NULL;
		if (ecplan_state_load(&row, conn, name, &err) < 0) {
			cli_print_error(&err);
			goto done;
		}
		if (row) {
			rows = ecplan_xcalloc(1, sizeof(*rows));
			rows[0] = row;
			n = 1;
		}
	} else if (exists && ecplan_state_load_all(&rows, &n, conn, &err) < 0) {
		cli_print_error(&err);
		goto done;
	}
	if (name && n == 0) {
		rc = cli_fail(ECPLAN_ENOTFOUND, NULL, "\"ecplan advance PLAN.json\" registers it; check --db",
			      "plan \"%s\" is not registered in this database", name);
		ecplan_plan_rows_free(rows, n);
		goto done;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, cli_status_json(conn, rows[i]));
	if (as_json) {
		json_t *out = name ? json_array_get(arr, 0) : arr;
		char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
	} else {
		if (n == 0)
			printf("no plans registered in this database\n");
		for (size_t i = 0; i < n; i++)
			print_human(json_array_get(arr, i));
	}
	json_decref(arr);
	ecplan_plan_rows_free(rows, n);
	rc = EXIT_DONE;
done:
	free(name);
	ecplan_db_close(conn);
	return rc;
}
