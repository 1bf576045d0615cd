/* Helpers shared by the commands: errors, exit codes, plan loading. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <getopt.h>

#include "cli.h"
#include "ecplan/db.h"
#include "ecplan/state.h"
#include "ecplan/strbuf.h"

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
	"  8  the plan file differs from the plan registered in the database (drift)\n"
	"  9  the requested move is not possible (e.g. rollback after contract)\n";

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
	default: return EXIT_RUNTIME;
	}
}

void cli_print_error(const ecplan_error *err)
{
	char *text = ecplan_error_format(err);
	fprintf(stderr, "ecplan: %s", text);
	free(text);
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("ecplan: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: ecplan %s %s\nhint: run \"ecplan help %s\" for details\n",
		cmd->name, cmd->usage, cmd->name);
	return EXIT_USAGE;
}

ecplan_plan *cli_load_plan(const char *path)
{
	ecplan_diags diags = ECPLAN_DIAGS_INIT;
	ecplan_plan *plan = NULL;
	if (ecplan_plan_load_file(&plan, path, &diags) < 0) {
		for (size_t i = 0; i < diags.count; i++)
			cli_print_error(&diags.items[i]);
		if (diags.count > 1)
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
		fprintf(stderr, "ecplan: \"%s\" is neither a plan name nor a plan file\n"
				"hint: plan names are 1-63 characters of [a-z0-9_-]; files end in .json\n", arg);
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
			cli_usage_error(self, "unknown or incomplete option \"%s\"", argv[optind - 1]);
			return -1;
		}
	}
	return optind;
}

/* Parses [--db X] PLAN.json; returns the plan or NULL (usage printed, *rc set). */
ecplan_plan *cli_parse_plan_args(const cli_command *self, int argc, char **argv, const char **db,
				    int *rc)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	int c;
	optind = 1;
	opterr = 0;
	*rc = EXIT_USAGE;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'd') {
			cli_usage_error(self, "unknown or incomplete option \"%s\"", argv[optind - 1]);
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
