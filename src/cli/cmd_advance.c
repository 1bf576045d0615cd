/* ecplan advance (and the runner front end rollback shares): move a plan phase by phase. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "ecplan/db.h"
#include "ecplan/state.h"
#include "ecplan/strbuf.h"
#include "ecplan/runner.h"
#include "ecplan/template.h"
#include "ecplan/webhook.h"

typedef struct out_ctx {
	bool quiet;
	bool tty;
	bool progress_shown;
	double last_log;
	long batches;
	double bf_start;    /* monotonic time of this run's first batch */
	ecplan_progress last;
} out_ctx;

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * What the SIGINT/SIGTERM handler prints: formatted ahead of time in normal
 * context (two buffers, the index switched last), because a handler may only
 * write(2) what is ready.
 */
static char sig_text[2][2][1024]; /* [buffer][0: SIGINT, 1: SIGTERM] */
static char last_what[600];        /* the same "what", for the interruption's detail */
static volatile sig_atomic_t sig_cur = -1;
static volatile sig_atomic_t sig_progress_shown;

static void set_summary(const char *what)
{
	int next = sig_cur == 0 ? 1 : 0;
	snprintf(last_what, sizeof(last_what), "%s", what);
	for (int k = 0; k < 2; k++) {
		char *buf = sig_text[next][k];
		size_t size = sizeof(sig_text[next][k]);
		if (cli_json) {
			json_t *e = json_pack("{s:s, s:i, s:s, s:s, s:s, s:n, s:n, s:n, s:n, s:n, s:n}", "code",
					      "interrupted", "exit_code", k ? 128 + SIGTERM : 128 + SIGINT, "message",
					      k ? "interrupted (SIGTERM)" : "interrupted (SIGINT)", "detail", what,
					      "hint", "the state is saved: run the same command again to resume",
					      "path", "file", "line", "column", "sqlstate", "http_status");
			/* errors repeats the object without exit_code, as cli_report does */
			json_t *copy = json_deep_copy(e);
			json_object_del(copy, "exit_code");
			json_object_set_new(e, "errors", json_pack("[o]", copy));
			char *txt = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
			snprintf(buf, size, "%s\n", txt);
			free(txt);
			json_decref(e);
		} else {
			snprintf(buf, size, "ecplan: interrupted (%s)\ndetail: %s\n"
				 "hint: the state is saved: run the same command again to resume\n",
				 k ? "SIGTERM" : "SIGINT", what);
		}
	}
	sig_cur = next;
}

static void write_all(const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(2, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/*
 * The first signal cancels the statements in flight (ecplan_db_interrupt,
 * async-signal-safe): the runner rolls back, records an "interrupted" event
 * and returns ECPLAN_EINTERRUPTED, and cli_run_phases reports and ends by the
 * signal. A second signal prints the prepared summary and ends at once.
 */
static void on_signal(int sig)
{
	if (!ecplan_db_interrupted()) {
		ecplan_db_interrupt(sig);
		return;
	}
	if (sig_progress_shown)
		write_all("\n");
	if (sig_cur >= 0)
		write_all(sig_text[sig_cur][sig == SIGTERM]);
	else
		write_all(sig == SIGINT ? "ecplan: interrupted (SIGINT)\n" : "ecplan: interrupted (SIGTERM)\n");
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_signals(void)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* An ignored SIGINT (a background job, nohup) stays ignored. */
	if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
		sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* "3000/3000 rows (100.0%) in 3.2 s, 940 rows/s" */
static void backfill_summary(char *buf, size_t size, const out_ctx *o)
{
	const ecplan_progress *p = &o->last;
	char pct[16] = "?";
	if (p->rows_total > 0)
		snprintf(pct, sizeof(pct), "%.1f%%",
			 p->rows_done >= p->rows_total ? 100.0 : 100.0 * (double)p->rows_done / (double)p->rows_total);
	snprintf(buf, size, "%lld/%lld rows (%s) in %.1f s, %.0f rows/s", p->rows_done, p->rows_total, pct,
		 mono() - o->bf_start, p->rows_per_second < 0 ? 0 : p->rows_per_second);
}

/* The backfill's last progress line becomes a summary that stays on screen. */
static void finish_progress(out_ctx *o)
{
	if (o->batches == 0)
		return;
	char sum[200];
	backfill_summary(sum, sizeof(sum), o);
	if (o->progress_shown) {
		fprintf(stderr, "\r\033[Kbackfill: %s\n", sum);
		o->progress_shown = false;
		sig_progress_shown = 0;
	} else if (!o->quiet) {
		printf("backfill: %s\n", sum);
		fflush(stdout);
	}
	o->batches = 0;
}

static void on_info(const char *line, void *ctx)
{
	out_ctx *o = ctx;
	char what[600];
	snprintf(what, sizeof(what), "during \"%s\"", line);
	set_summary(what);
	if (o->quiet)
		return;
	finish_progress(o);
	printf("%s\n", line);
	fflush(stdout);
}

static void on_progress(const ecplan_progress *p, void *ctx)
{
	out_ctx *o = ctx;
	char pct[16] = "?";
	char eta[32] = "?";
	if (o->bf_start == 0)
		o->bf_start = mono();
	o->batches++;
	o->last = *p;
	char sum[200], what[300];
	backfill_summary(sum, sizeof(sum), o);
	snprintf(what, sizeof(what), "backfill at %s", sum);
	set_summary(what);
	if (o->quiet)
		return;
	if (p->rows_total > 0)
		snprintf(pct, sizeof(pct), "%.1f%%",
			 p->rows_done >= p->rows_total ? 100.0 : 100.0 * (double)p->rows_done / (double)p->rows_total);
	if (p->eta_seconds >= 0)
		snprintf(eta, sizeof(eta), "%.0f s", p->eta_seconds);
	if (o->tty) {
		fprintf(stderr, "\r\033[Kbackfill: %lld/%lld rows (%s), %.0f rows/s, ETA %s, batch %ld",
			p->rows_done, p->rows_total, pct, p->rows_per_second < 0 ? 0 : p->rows_per_second,
			eta, p->batch_size);
		o->progress_shown = true;
		sig_progress_shown = 1;
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
		return cli_usage_error(self, "unknown phase \"%s\"%s (phases: expand, sync, backfill, switch, contract)",
				       to, cli_suggest_name(to, true, false));
	if (to && rollback) {
		to_state = ecplan_state_parse(to);
		if (to_state == ECPLAN_STATE_INVALID || to_state == ECPLAN_STATE_CONTRACTED ||
		    to_state == ECPLAN_STATE_ROLLED_BACK)
			return cli_usage_error(self, "cannot roll back to \"%s\"%s (states: planned, expanded, "
						     "synced, backfilled, switched)", to,
					       to_state == ECPLAN_STATE_INVALID ? cli_suggest_name(to, false, true) : "");
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
	install_signals();
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
	finish_progress(&out);
	if (rc == ECPLAN_EINTERRUPTED && last_what[0]) {
		/* Where it was (backfill rows, time, rate; or the step), then what
		 * the library did about it. */
		ecplan_strbuf d = ECPLAN_STRBUF_INIT;
		ecplan_strbuf_addf(&d, "%s; %s", last_what, err.detail);
		snprintf(err.detail, sizeof(err.detail), "%.*s", (int)sizeof(err.detail) - 1, d.buf);
		ecplan_strbuf_release(&d);
	}
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
	if (rc < 0 && ecplan_db_interrupted())
		return cli_end_by_signal();
	return cli_exit_code(rc);
}

int cmd_advance(int argc, char **argv)
{
	return cli_run_phases(false, argc, argv);
}
