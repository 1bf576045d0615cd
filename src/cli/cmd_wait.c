/*
 * ecplan wait: poll a plan's state until it reaches a phase (for CI
 * pipelines). It fails fast when waiting cannot succeed without someone
 * acting: the plan is unknown, its last attempt failed and no runner holds
 * it, a gate delivery is pending with no runner, or it was rolled back.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "ecplan/db.h"
#include "ecplan/state.h"
#include "ecplan/strbuf.h"
#include "ecplan/watch.h"

#define WAIT_DEFAULT_TIMEOUT 3600.0

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	nanosleep(&ts, NULL);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "backfilled, switch running (step 1); backfill 1200/5000 rows (24.0%), 800 rows/s, ETA 5 s" */
static void describe(ecplan_strbuf *sb, json_t *st)
{
	json_t *bf = json_object_get(st, "backfill");
	const char *running = json_string_value(json_object_get(st, "running_phase"));
	ecplan_strbuf_adds(sb, json_string_value(json_object_get(st, "phase")));
	if (running)
		ecplan_strbuf_addf(sb, ", %s %s %s (%lld steps done)",
				   json_is_true(json_object_get(st, "rolling_back")) ? "rollback of" : "phase",
				   running, json_is_true(json_object_get(st, "running")) ? "running" : "interrupted",
				   (long long)json_integer_value(json_object_get(st, "step")));
	if (json_integer_value(json_object_get(bf, "rows_done")) > 0 || (running && !strcmp(running, "backfill"))) {
		ecplan_strbuf_addf(sb, "; backfill %lld", (long long)json_integer_value(json_object_get(bf, "rows_done")));
		if (json_is_integer(json_object_get(bf, "rows_total")))
			ecplan_strbuf_addf(sb, "/%lld", (long long)json_integer_value(json_object_get(bf, "rows_total")));
		ecplan_strbuf_addf(sb, " rows (%.1f%%)", json_real_value(json_object_get(bf, "percent")));
		if (json_is_number(json_object_get(bf, "rows_per_second")))
			ecplan_strbuf_addf(sb, ", %.0f rows/s", json_number_value(json_object_get(bf, "rows_per_second")));
		if (json_is_integer(json_object_get(bf, "eta_seconds")))
			ecplan_strbuf_addf(sb, ", ETA %lld s", (long long)json_integer_value(json_object_get(bf, "eta_seconds")));
	}
	if (json_is_true(json_object_get(st, "paused")))
		ecplan_strbuf_adds(sb, "; paused (\"ecplan resume\" resumes it)");
	if (json_string_value(json_object_get(st, "throttled")))
		ecplan_strbuf_addf(sb, "; throttled: %s", json_string_value(json_object_get(st, "throttled")));
}

static void print_json(json_t *st)
{
	char *s = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", s);
	free(s);
}

/* Reports a fail-fast verdict: the error, and with --json the status object. */
static int verdict(json_t *st, int exit_code, const char *code_name, int code, const char *hint,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int verdict(json_t *st, int exit_code, const char *code_name, int code, const char *hint,
		   const char *fmt, ...)
{
	ecplan_error e;
	ecplan_strbuf d = ECPLAN_STRBUF_INIT;
	va_list ap;
	ecplan_error_clear(&e);
	e.code = code;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	ecplan_strbuf_adds(&d, "state: ");
	describe(&d, st);
	snprintf(e.detail, sizeof(e.detail), "%s", d.buf);
	if (hint)
		snprintf(e.hint, sizeof(e.hint), "%s", hint);
	if (cli_json)
		print_json(st);
	cli_report(&e, 1, exit_code, code_name);
	ecplan_strbuf_release(&d);
	return exit_code;
}

int cmd_wait(int argc, char **argv)
{
	const cli_command *self = cli_find_command("wait");
	static const struct option opts[] = {
		{ "until", required_argument, NULL, 'u' },
		{ "timeout", required_argument, NULL, 't' },
		{ "interval", required_argument, NULL, 'i' },
		{ "db", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *until = NULL, *db = NULL;
	double timeout = WAIT_DEFAULT_TIMEOUT, interval = 2;
	bool quiet = false;
	char *end;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		switch (c) {
		case 'u': until = optarg; break;
		case 't':
			timeout = strtod(optarg, &end);
			if (*end || timeout < 0)
				return cli_usage_error(self, "--timeout takes seconds, e.g. 600 (0: no limit)");
			break;
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || interval <= 0)
				return cli_usage_error(self, "--interval takes seconds greater than 0");
			break;
		case 'd': db = optarg; break;
		case 'q': quiet = true; break;
		case 'j': break; /* cli_json, set by main */
		default: return cli_option_error(self, opts, argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error(self, "give one plan name");
	if (!until)
		return cli_usage_error(self, "--until PHASE is required");
	ecplan_state target = ecplan_state_parse(until);
	if (ecplan_phase_parse(until) != ECPLAN_PHASE_NONE)
		target = ecplan_phase_result(ecplan_phase_parse(until));
	if (target == ECPLAN_STATE_INVALID)
		return cli_usage_error(self, "unknown phase or state \"%s\"%s (phases: expand, sync, backfill, "
					     "switch, contract; or a state such as rolled_back)", until,
				       cli_suggest_name(until, true, true));
	char *name = cli_plan_name(argv[optind]);
	if (!name)
		return EXIT_USAGE;
	PGconn *conn = NULL;
	int rc = EXIT_RUNTIME;
	double start = mono();
	const char *target_name = ecplan_state_name(target);
	cli_install_signal_handlers();
	if (cli_connect(&conn, db) < 0)
		goto done;
	for (;;) {
		ecplan_error err;
		ecplan_error_clear(&err);
		ecplan_plan_row *row = NULL;
		bool exists = false;
		if (ecplan_state_schema_exists(conn, &exists, &err) < 0 ||
		    (exists && ecplan_state_load(&row, conn, name, &err) < 0)) {
			if (!ecplan_db_interrupted())
				cli_print_error(&err);
			goto done;
		}
		if (!row) {
			rc = cli_fail(ECPLAN_ENOTFOUND, NULL,
				      "\"ecplan advance PLAN.json\" registers it; check the name and --db",
				      "plan \"%s\" is not registered in this database", name);
			goto done;
		}
		bool reached = row->state == target;
		if (target != ECPLAN_STATE_ROLLED_BACK && row->state != ECPLAN_STATE_ROLLED_BACK &&
		    ecplan_state_rank(row->state) >= ecplan_state_rank(target))
			reached = true;
		json_t *st = cli_status_json(conn, row);
		if (reached) {
			if (cli_json)
				print_json(st);
			else
				printf("plan \"%s\" is %s\n", name, ecplan_state_name(row->state));
			rc = EXIT_DONE;
			goto next;
		}
		bool held = json_is_true(json_object_get(st, "running")), rolled = false;
		/* A rollback in progress moves away from the target. A finished
		 * one counts only while no runner holds the plan: a runner may be
		 * advancing it again before its first phase event. */
		if (row->running != ECPLAN_PHASE_NONE && row->rolling_back)
			rolled = true;
		else if (!held)
			ecplan_watch_last_move_is_rollback(&rolled, conn, name, NULL);
		if (rolled && row->state == ECPLAN_STATE_ROLLED_BACK && !held) {
			rc = verdict(st, EXIT_WAIT_ROLLED_BACK, "rolled_back", ECPLAN_EIMPOSSIBLE,
				     "\"ecplan advance\" starts it again from expand",
				     "plan \"%s\" was rolled back (state rolled_back); it will not reach %s", name,
				     target_name);
			goto next;
		}
		if (rolled) {
			rc = verdict(st, EXIT_WAIT_ROLLED_BELOW, "rolled_back_below", ECPLAN_EIMPOSSIBLE,
				     "\"ecplan advance\" moves it forward again",
				     "plan \"%s\" %s %s, below %s", name,
				     row->running != ECPLAN_PHASE_NONE && row->rolling_back ? "is being rolled back from"
											     : "was rolled back to",
				     ecplan_state_name(row->state), target_name);
			goto next;
		}
		if (!held) {
			json_t *gates = json_object_get(st, "pending_gates");
			if (json_array_size(gates) > 0) {
				ecplan_strbuf g = ECPLAN_STRBUF_INIT;
				size_t i;
				json_t *v;
				json_array_foreach(gates, i, v)
					ecplan_strbuf_addf(&g, "%s%s", i ? ", " : "", json_string_value(v));
				rc = verdict(st, EXIT_GATE, NULL, ECPLAN_EGATE,
					     "fix the receiver and run \"ecplan advance\" again: it re-delivers "
					     "without repeating the database work",
					     "plan \"%s\" waits for a gate webhook that failed: %s%s", name, g.buf,
					     json_is_true(json_object_get(st, "phase_work_done"))
						     ? " (the database work of the phase is done)" : "");
				ecplan_strbuf_release(&g);
				goto next;
			}
			if (!row->last_error && row->running != ECPLAN_PHASE_NONE) {
				rc = verdict(st, EXIT_RUNTIME, "interrupted", ECPLAN_ERR,
					     "run \"ecplan advance\" again: it resumes where it stopped",
					     "phase %s of plan \"%s\" was interrupted and no runner holds it",
					     ecplan_phase_name(row->running), name);
				goto next;
			}
			if (row->last_error) {
				rc = verdict(st, EXIT_RUNTIME, "failed", ECPLAN_ERR,
					     "\"ecplan history NAME\" shows what happened; fix it and run "
					     "\"ecplan advance\" again: it resumes where it stopped",
					     "the last attempt of plan \"%s\" failed and no runner holds it: %s", name,
					     row->last_error);
				goto next;
			}
		}
		double elapsed = mono() - start;
		if (timeout > 0 && elapsed + interval > timeout) {
			if (timeout > elapsed)
				sleep_s(timeout - elapsed);
			if (ecplan_db_interrupted()) {
				json_decref(st);
				ecplan_plan_row_free(row);
				goto done;
			}
			rc = verdict(st, EXIT_WAIT_TIMEOUT, NULL, ECPLAN_ETIMEOUT,
				     "raise --timeout (0: no limit), or look at \"ecplan status\"",
				     "timed out after %.0f s waiting for plan \"%s\" to reach %s", timeout, name,
				     target_name);
			goto next;
		}
		if (!quiet && !cli_json) {
			ecplan_strbuf line = ECPLAN_STRBUF_INIT;
			describe(&line, st);
			fprintf(stderr, "wait: %s: %s; waiting for %s (%.0f s", name, line.buf, target_name, elapsed);
			if (timeout > 0)
				fprintf(stderr, " of %.0f s", timeout);
			fprintf(stderr, ")\n");
			ecplan_strbuf_release(&line);
		}
		json_decref(st);
		ecplan_plan_row_free(row);
		sleep_s(interval);
		if (ecplan_db_interrupted())
			goto done;
		continue;
next:
		json_decref(st);
		ecplan_plan_row_free(row);
		goto done;
	}
done:
	if (ecplan_db_interrupted()) {
		/* Nothing to undo: wait only reads. */
		fprintf(stderr, "ecplan: interrupted while waiting for plan \"%s\" to reach %s; nothing was changed\n",
			name, target_name);
		free(name);
		ecplan_db_close(conn);
		return cli_end_by_signal();
	}
	free(name);
	ecplan_db_close(conn);
	return rc;
}
