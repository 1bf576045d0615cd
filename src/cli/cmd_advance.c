/* ecplan advance (and the runner front end rollback shares): move a plan phase by phase. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "ecplan/state.h"
#include "ecplan/runner.h"
#include "ecplan/template.h"
#include "ecplan/webhook.h"

typedef struct out_ctx {
	bool quiet;
	bool tty;
	bool progress_shown;
	double last_log;
	long batches;
} out_ctx;

static void clear_progress(out_ctx *o)
{
	if (o->progress_shown) {
		fputs("\r\033[K", stderr);
		o->progress_shown = false;
	}
}

static void on_info(const char *line, void *ctx)
{
	out_ctx *o = ctx;
	if (o->quiet)
		return;
	clear_progress(o);
	printf("%s\n", line);
	fflush(stdout);
}

static void on_progress(const ecplan_progress *p, void *ctx)
{
	out_ctx *o = ctx;
	char pct[16] = "?";
	char eta[32] = "?";
	if (o->quiet)
		return;
	if (p->rows_total > 0)
		snprintf(pct, sizeof(pct), "%.1f%%",
			 p->rows_done >= p->rows_total ? 100.0 : 100.0 * (double)p->rows_done / (double)p->rows_total);
	if (p->eta_seconds >= 0)
		snprintf(eta, sizeof(eta), "%.0f s", p->eta_seconds);
	o->batches++;
	if (o->tty) {
		fprintf(stderr, "\r\033[Kbackfill: %lld/%lld rows (%s), %.0f rows/s, ETA %s, batch %ld",
			p->rows_done, p->rows_total, pct, p->rows_per_second < 0 ? 0 : p->rows_per_second,
			eta, p->batch_size);
		o->progress_shown = true;
		return;
	}
	/* Not a terminal: a log line every 100 batches. */
	if (o->batches % 100 == 0)
		printf("backfill: %lld/%lld rows (%s), %.0f rows/s, ETA %s\n", p->rows_done, p->rows_total,
		       pct, p->rows_per_second < 0 ? 0 : p->rows_per_second, eta);
}

/* advance/rollback --json: the plan's state before and after, on stdout. */
static void print_result(const char *name, bool rollback, const ecplan_plan_row *before,
			 const ecplan_plan_row *after, int rc)
{
	json_t *o = json_object();
	json_object_set_new(o, "plan", json_string(name));
	json_object_set_new(o, "command", json_string(rollback ? "rollback" : "advance"));
	json_object_set_new(o, "ok", json_boolean(rc == 0));
	json_object_set_new(o, "exit_code", json_integer(cli_exit_code(rc)));
	json_object_set_new(o, "state_before", before ? json_string(ecplan_state_name(before->state)) : json_null());
	json_object_set_new(o, "state", after ? json_string(ecplan_state_name(after->state)) : json_null());
	json_object_set_new(o, "changed", json_boolean(after && (!before || before->state != after->state ||
								 before->running != after->running)));
	json_object_set_new(o, "running_phase", after && after->running != ECPLAN_PHASE_NONE
			    ? json_string(ecplan_phase_name(after->running)) : json_null());
	ecplan_phase next = after ? (after->running != ECPLAN_PHASE_NONE ? after->running
					 : ecplan_state_next(after->state)) : ECPLAN_PHASE_NONE;
	json_object_set_new(o, "next", next != ECPLAN_PHASE_NONE ? json_string(ecplan_phase_name(next)) : json_null());
	json_object_set_new(o, "last_error", after && after->last_error ? json_string(after->last_error) : json_null());
	cli_print_json(o);
	json_decref(o);
}

int cli_run_phases(bool rollback, int argc, char **argv)
{
	const cli_command *self = cli_find_command(rollback ? "rollback" : "advance");
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "all", no_argument, NULL, 'a' },
		{ "db", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *to = NULL, *db = NULL;
	bool all = false;
	out_ctx out = { .tty = isatty(2) };
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		switch (c) {
		case 't': to = optarg; break;
		case 'a':
			if (rollback)
				return cli_usage_error(self, "unknown option \"--all\"");
			all = true;
			break;
		case 'd': db = optarg; break;
		case 'q': out.quiet = true; break;
		case 'j': out.quiet = true; break; /* cli_json, set by main */
		default:
			return cli_option_error(self, opts, argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error(self, optind >= argc ? "no plan file given" : "give one plan file");
	if (to && all)
		return cli_usage_error(self, "give --to or --all, not both");
	ecplan_phase to_phase = ECPLAN_PHASE_NONE;
	ecplan_state to_state = ECPLAN_STATE_PLANNED;
	if (to && !rollback && (to_phase = ecplan_phase_parse(to)) == ECPLAN_PHASE_NONE)
		return cli_usage_error(self, "unknown phase \"%s\" (phases: expand, sync, backfill, switch, contract)", to);
	if (to && rollback) {
		to_state = ecplan_state_parse(to);
		if (to_state == ECPLAN_STATE_INVALID || to_state == ECPLAN_STATE_CONTRACTED ||
		    to_state == ECPLAN_STATE_ROLLED_BACK)
			return cli_usage_error(self, "cannot roll back to \"%s\" (states: planned, expanded, "
						     "synced, backfilled, switched)", to);
	}
	if (all)
		to_phase = ECPLAN_PHASE_CONTRACT;
	ecplan_plan *plan = cli_load_plan(argv[optind]);
	if (!plan)
		return EXIT_USAGE;
	/* Unset ${env.X} and secret_env variables: refuse before connecting, so
	 * nothing in the database changes. */
	ecplan_diags diags = ECPLAN_DIAGS_INIT;
	if (ecplan_template_check_plan(plan, NULL, NULL, &diags) < 0) {
		cli_report(diags.items, diags.count, EXIT_USAGE, NULL);
		ecplan_diags_release(&diags);
		ecplan_plan_free(plan);
		return EXIT_USAGE;
	}
	ecplan_diags_release(&diags);
	ecplan_error err;
	ecplan_error_clear(&err);
	ecplan_runner *r = NULL;
	ecplan_run_opts ro = { .info = on_info, .progress = on_progress, .ctx = &out };
	int rc = ecplan_webhook_global_init(&err);
	if (rc == 0)
		rc = ecplan_runner_open(&r, db, plan, &ro, &err);
	ecplan_plan_row *before = NULL;
	if (rc == 0 && cli_json)
		ecplan_state_load(&before, ecplan_runner_conn(r), plan->name, NULL);
	if (rc == 0)
		rc = rollback ? ecplan_runner_rollback(r, to_state, &err)
			      : ecplan_runner_advance(r, to_phase, &err);
	clear_progress(&out);
	if (r && cli_json) {
		ecplan_plan_row *after = NULL;
		ecplan_state_load(&after, ecplan_runner_conn(r), plan->name, NULL);
		print_result(plan->name, rollback, before, after, rc);
		ecplan_plan_row_free(after);
	}
	ecplan_plan_row_free(before);
	if (rc < 0)
		cli_print_error(&err);
	ecplan_runner_close(r);
	ecplan_webhook_global_cleanup();
	ecplan_plan_free(plan);
	return cli_exit_code(rc);
}

int cmd_advance(int argc, char **argv)
{
	return cli_run_phases(false, argc, argv);
}
