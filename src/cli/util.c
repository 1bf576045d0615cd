/* Helpers shared by the commands: errors, exit codes, plan loading. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <getopt.h>

#include "cli.h"
#include "ecplan/db.h"
#include "ecplan/state.h"
#include "ecplan/strbuf.h"
#include "ecplan/suggest.h"

#include <jansson.h>

bool cli_json;

const char cli_exit_codes_text[] =
	"Exit codes:\n"
	"  0  done\n"
	"  1  runtime or database error\n"
	"  2  usage error or invalid plan\n"
	"  3  a precondition failed (the message says which, and what to do)\n"
	"  4  another runner holds this plan\n"
	"  5  a gate webhook failed\n"
	"  6  lock retries exhausted\n"
	"  7  wait timed out\n"
	"  8  a field that defines the change differs from the plan registered in the\n"
	"     database (drift; operational settings may change: see \"ecplan help update\")\n"
	"  9  the requested move is not possible (e.g. rollback after contract)\n"
	" 10  wait: the plan was rolled back (state rolled_back)\n"
	" 11  wait: the plan was rolled back below the awaited phase\n"
	" 12  advance: the plan is paused (\"ecplan resume NAME\")\n"
	" 130, 143  advance, rollback, wait: interrupted by SIGINT or SIGTERM (resumable)\n";

int cli_exit_code(int code)
{
	switch (code) {
	case ECPLAN_OK: return EXIT_DONE;
	case ECPLAN_EINVALID: return EXIT_USAGE;
	case ECPLAN_EPRECONDITION: return EXIT_PRECONDITION;
	case ECPLAN_ELOCKED: return EXIT_LOCKED;
	case ECPLAN_EGATE: return EXIT_GATE;
	case ECPLAN_ELOCKTIMEOUT: return EXIT_LOCK_RETRIES;
	case ECPLAN_ETIMEOUT: return EXIT_WAIT_TIMEOUT;
	case ECPLAN_EDRIFT: return EXIT_DRIFT;
	case ECPLAN_EIMPOSSIBLE: return EXIT_IMPOSSIBLE;
	case ECPLAN_ENOTFOUND: return EXIT_USAGE;
	case ECPLAN_EINTERRUPTED: return cli_signal_exit_code();
	case ECPLAN_EPAUSED: return EXIT_PAUSED;
	default: return EXIT_RUNTIME;
	}
}

const char *cli_code_name(int code)
{
	switch (code) {
	case ECPLAN_OK: return "ok";
	case ECPLAN_EINVALID: return "invalid";
	case ECPLAN_EPRECONDITION: return "precondition";
	case ECPLAN_ELOCKED: return "locked";
	case ECPLAN_EGATE: return "gate";
	case ECPLAN_ELOCKTIMEOUT: return "lock_timeout";
	case ECPLAN_ETIMEOUT: return "timeout";
	case ECPLAN_EDRIFT: return "drift";
	case ECPLAN_EIMPOSSIBLE: return "impossible";
	case ECPLAN_ENOTFOUND: return "not_found";
	case ECPLAN_EINTERRUPTED: return "interrupted";
	case ECPLAN_EPAUSED: return "paused";
	default: return "error";
	}
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* One error as a JSON object (without exit_code and errors). */
static json_t *error_json(const ecplan_error *e, const char *code_name, int exit_code);

json_t *cli_error_json(const ecplan_error *e)
{
	return error_json(e, NULL, -1);
}

void cli_print_json(json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", s);
	free(s);
}

static json_t *error_json(const ecplan_error *e, const char *code_name, int exit_code)
{
	json_t *o = json_object();
	json_object_set_new(o, "code", json_string(code_name ? code_name : cli_code_name(e->code)));
	if (exit_code >= 0)
		json_object_set_new(o, "exit_code", json_integer(exit_code));
	json_object_set_new(o, "message", json_string(e->message));
	json_object_set_new(o, "detail", str_or_null(e->detail));
	json_object_set_new(o, "hint", str_or_null(e->hint));
	json_object_set_new(o, "path", str_or_null(e->path));
	json_object_set_new(o, "file", str_or_null(e->source));
	json_object_set_new(o, "line", e->line > 0 ? json_integer(e->line) : json_null());
	json_object_set_new(o, "column", e->line > 0 ? json_integer(e->column) : json_null());
	json_object_set_new(o, "sqlstate", str_or_null(e->sqlstate));
	json_object_set_new(o, "http_status", e->http_status ? json_integer(e->http_status) : json_null());
	return o;
}

void cli_report(const ecplan_error *errs, size_t n, int exit_code, const char *code_name)
{
	if (n == 0)
		return;
	if (!cli_json) {
		for (size_t i = 0; i < n; i++) {
			char *text = ecplan_error_format(&errs[i]);
			fprintf(stderr, "ecplan: %s", text);
			free(text);
		}
		return;
	}
	json_t *o = error_json(&errs[0], code_name, exit_code);
	json_t *all = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(all, error_json(&errs[i], code_name, -1));
	json_object_set_new(o, "errors", all);
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(o);
}

void cli_print_error(const ecplan_error *err)
{
	cli_report(err, 1, cli_exit_code(err->code), NULL);
}

int cli_fail(int code, const char *detail, const char *hint, const char *fmt, ...)
{
	ecplan_error e;
	va_list ap;
	ecplan_error_clear(&e);
	e.code = code;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	if (detail)
		snprintf(e.detail, sizeof(e.detail), "%s", detail);
	if (hint)
		snprintf(e.hint, sizeof(e.hint), "%s", hint);
	cli_print_error(&e);
	return cli_exit_code(code);
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
	va_list ap;
	ecplan_error e;
	ecplan_error_clear(&e);
	e.code = ECPLAN_EINVALID;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	if (!cli_json) {
		fprintf(stderr, "ecplan: %s\nusage: ecplan %s %s\nhint: run \"ecplan help %s\" for details\n",
			e.message, cmd->name, cmd->usage, cmd->name);
		return EXIT_USAGE;
	}
	snprintf(e.detail, sizeof(e.detail), "usage: ecplan %s %s", cmd->name, cmd->usage);
	snprintf(e.hint, sizeof(e.hint), "run \"ecplan help %s\" for details", cmd->name);
	cli_report(&e, 1, EXIT_USAGE, "usage");
	return EXIT_USAGE;
}

const char *cli_suggest_name(const char *word, bool phases, bool states)
{
	static const char *const phase_names[] = { "expand", "sync", "backfill", "switch", "contract", NULL };
	static const char *const state_names[] = { "planned", "expanded", "synced", "backfilled", "switched",
						    "contracted", "rolled_back", NULL };
	static const char *const both[] = { "expand", "sync", "backfill", "switch", "contract", "planned",
					    "expanded", "synced", "backfilled", "switched", "contracted",
					    "rolled_back", NULL };
	const char *s = ecplan_suggest(word, phases && states ? both : phases ? phase_names : state_names);
	static char buf[64];
	if (!s)
		return "";
	snprintf(buf, sizeof(buf), "; did you mean \"%s\"?", s);
	return buf;
}

int cli_option_error(const cli_command *cmd, const struct option *opts, const char *arg)
{
	const char *names[32];
	char buf[32][40];
	size_t n = 0;
	for (size_t i = 0; opts && opts[i].name && n < 31; i++) {
		size_t len = strcspn(arg, "=");
		if (!strncmp(arg, "--", 2) && strlen(opts[i].name) == len - 2 &&
		    !strncmp(arg + 2, opts[i].name, len - 2)) {
			if (opts[i].has_arg == required_argument && !arg[len])
				return cli_usage_error(cmd, "option \"%s\" needs a value", arg);
			return cli_usage_error(cmd, "option \"--%s\" takes no value", opts[i].name);
		}
		snprintf(buf[n], sizeof(buf[n]), "--%s", opts[i].name);
		names[n] = buf[n];
		n++;
	}
	names[n] = NULL;
	char word[64];
	snprintf(word, sizeof(word), "%.*s", (int)strcspn(arg, "="), arg);
	const char *s = ecplan_suggest(word, names);
	if (s)
		return cli_usage_error(cmd, "unknown option \"%s\"; did you mean \"%s\"?", arg, s);
	return cli_usage_error(cmd, "unknown option \"%s\"", arg);
}

ecplan_plan *cli_load_plan(const char *path)
{
	ecplan_diags diags = ECPLAN_DIAGS_INIT;
	ecplan_plan *plan = NULL;
	if (ecplan_plan_load_file(&plan, path, &diags) < 0) {
		cli_report(diags.items, diags.count, EXIT_USAGE, NULL);
		if (diags.count > 1 && !cli_json)
			fprintf(stderr, "ecplan: %s: %zu errors\n", path, diags.count);
	}
	ecplan_diags_release(&diags);
	return plan;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

int cli_connect(PGconn **out, const char *db)
{
	ecplan_error err;
	ecplan_error_clear(&err);
	int rc = ecplan_db_connect(out, db, &err);
	if (rc < 0)
		cli_print_error(&err);
	return rc;
}

char *cli_plan_name(const char *arg)
{
	size_t n = strlen(arg);
	if ((n > 5 && !strcmp(arg + n - 5, ".json")) || strchr(arg, '/')) {
		ecplan_plan *plan = cli_load_plan(arg);
		if (!plan)
			return NULL;
		char *name = ecplan_xstrdup(plan->name);
		ecplan_plan_free(plan);
		return name;
	}
	if (!ecplan_plan_name_valid(arg)) {
		cli_fail(ECPLAN_EINVALID, NULL, "plan names are 1-63 characters of [a-z0-9_-]; files end in .json",
			 "\"%s\" is neither a plan name nor a plan file", arg);
		return NULL;
	}
	return ecplan_xstrdup(arg);
}

/* Options shared by status and history: --json, --db. Returns optind or -1
 * after printing a usage error. */
int cli_parse_json_db(const cli_command *self, int argc, char **argv, bool *as_json,
			 const char **db)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "db", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': *as_json = true; break;
		case 'd': *db = optarg; break;
		default:
			cli_option_error(self, opts, argv[optind - 1]);
			return -1;
		}
	}
	return optind;
}

/* Parses [--db X] PLAN.json; returns the plan or NULL (usage printed, *rc set). */
ecplan_plan *cli_parse_plan_args(const cli_command *self, int argc, char **argv, const char **db,
				 bool *as_json, int *rc)
{
	bool json_ok = as_json != NULL;
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "db", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	int c;
	optind = 1;
	opterr = 0;
	*rc = EXIT_USAGE;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j' && json_ok) {
			*as_json = true;
			continue;
		}
		if (c != 'd') {
			cli_option_error(self, json_ok ? opts : opts + 1, argv[optind - 1]);
			return NULL;
		}
		*db = optarg;
	}
	if (optind != argc - 1) {
		cli_usage_error(self, optind >= argc ? "no plan file given" : "give one plan file");
		return NULL;
	}
	return cli_load_plan(argv[optind]);
}

int cli_connect_state(PGconn **out, const char *db, bool *exists)
{
	ecplan_error err;
	ecplan_error_clear(&err);
	*exists = false;
	if (cli_connect(out, db) < 0)
		return -1;
	if (ecplan_state_schema_exists(*out, exists, &err) < 0) {
		cli_print_error(&err);
		return -1;
	}
	return 0;
}

/* The first SIGINT/SIGTERM cancels what the database runs for us and lets
 * the command wind down; a second one ends the process at once. */
static void on_signal(int signo)
{
	static const char msg[] = "\necplan: second signal: exiting at once\n";
	if (ecplan_db_interrupted()) {
		ssize_t w = write(2, msg, sizeof(msg) - 1);
		(void)w;
		signal(signo, SIG_DFL);
		raise(signo);
		_exit(128 + signo);
	}
	ecplan_db_interrupt(signo);
}

void cli_install_signal_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sa.sa_flags = 0; /* no SA_RESTART: sleeps end early */
	struct sigaction old;
	/* An ignored SIGINT (a background job, nohup) stays ignored. */
	if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
		sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cli_signal_exit_code(void)
{
	int sig = ecplan_db_interrupted();
	return 128 + (sig ? sig : SIGINT);
}

int cli_end_by_signal(void)
{
	int sig = ecplan_db_interrupted();
	if (sig == SIGINT || sig == SIGTERM) {
		fflush(NULL);
		signal(sig, SIG_DFL);
		raise(sig);
	}
	return cli_signal_exit_code();
}

char *cli_plan_summary(const ecplan_plan *plan)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	if (plan->nchanges > 1)
		ecplan_strbuf_addf(&sb, "%zu changes: ", plan->nchanges);
	for (size_t i = 0; i < plan->nchanges; i++) {
		const ecplan_plan *c = ecplan_plan_change(plan, i);
		ecplan_strbuf_addf(&sb, "%s%s.%s: %s -> %s", i ? "; " : "", c->schema, c->table, c->column,
				   c->new_column);
	}
	return ecplan_strbuf_detach(&sb);
}

json_t *cli_changes_json(const ecplan_plan *plan)
{
	json_t *a = json_array();
	for (size_t i = 0; i < plan->nchanges; i++) {
		const ecplan_plan *c = ecplan_plan_change(plan, i);
		char *table = ecplan_xstrfmt("%s.%s", c->schema, c->table);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o}", "table", table, "column", c->column,
						   "new_column", c->new_column,
						   "type", c->type ? json_string(c->type) : json_null()));
		free(table);
	}
	return a;
}
