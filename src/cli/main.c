/* ecplan command-line entry point: a table of commands, each a small main. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int cmd_help(int argc, char **argv);

const cli_command cli_commands[] = {
	{ "validate", cmd_validate, "PLAN.json...",
	  "check plan files against format ecplan/v1 (no database needed)",
	  "Reads each plan file and reports every problem with its file, line, column\n"
	  "and JSON path. Exits 0 when all plans are valid, 2 otherwise.\n" },
	{ "render", cmd_render, "PLAN.json [--phase PHASE] [--rollback] [--db CONNINFO]",
	  "print the SQL of every phase, with the lock each statement takes",
	  "Prints the ordered steps of each phase (or of one, with --phase) as SQL,\n"
	  "with the lock each statement takes and whether it runs in a transaction.\n"
	  "With --rollback, prints the steps that undo the phases instead.\n"
	  "Without --db, what depends on the catalog (the key, the indexes, the old\n"
	  "column's type and default) is shown as a placeholder and listed at the end;\n"
	  "with --db CONNINFO (or ECPLAN_DB / DATABASE_URL) it is read from the database.\n"
	  "Nothing is changed in the database.\n" },
	{ "help", cmd_help, "[COMMAND]", "show help for ecplan or one command", "" },
	{ NULL, NULL, NULL, NULL, NULL }
};

const cli_command *cli_find_command(const char *name)
{
	for (const cli_command *c = cli_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

void cli_print_help(const cli_command *cmd)
{
	printf("usage: ecplan %s %s\n\n%s\n%s", cmd->name, cmd->usage, cmd->summary, cmd->help);
	printf("\n%s", cli_exit_codes_text);
}

static void print_main_help(FILE *out)
{
	fprintf(out,
		"usage: ecplan <command> [options]\n\n"
		"Runs zero-downtime PostgreSQL column changes (rename, type change, NOT NULL)\n"
		"as expand-contract plans: expand, sync, backfill, switch, contract.\n\n"
		"Commands:\n");
	for (const cli_command *c = cli_commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fprintf(out,
		"\nConnection (commands that use a database): --db CONNINFO (a libpq keyword\n"
		"string or URI), else $ECPLAN_DB, else $DATABASE_URL, else the libpq\n"
		"defaults (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).\n\n"
		"Run \"ecplan help <command>\" or \"ecplan <command> --help\" for details.\n\n%s",
		cli_exit_codes_text);
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		print_main_help(stdout);
		return EXIT_DONE;
	}
	const cli_command *c = cli_find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "ecplan: unknown command \"%s\"\nhint: run \"ecplan help\" for the list\n",
			argv[1]);
		return EXIT_USAGE;
	}
	cli_print_help(c);
	return EXIT_DONE;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_main_help(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("ecplan %s\n", ECPLAN_VERSION);
		return EXIT_DONE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		print_main_help(stdout);
		return EXIT_DONE;
	}
	const cli_command *c = cli_find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "ecplan: unknown command \"%s\"\nhint: run \"ecplan help\" for the list\n",
			argv[1]);
		return EXIT_USAGE;
	}
	if (c->fn != cmd_help && cli_wants_help(argc - 1, argv + 1)) {
		cli_print_help(c);
		return EXIT_DONE;
	}
	return c->fn(argc - 1, argv + 1);
}
