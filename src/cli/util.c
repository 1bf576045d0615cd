/* Helpers shared by the commands: errors, exit codes, plan loading. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
