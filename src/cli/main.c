/* ecplan command-line entry point: a table of commands, each a small main. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ecplan/suggest.h"
#include "ecplan/db.h"
#include "ecplan/strbuf.h"

static int cmd_help(int argc, char **argv);

const cli_command cli_commands[] = {
	{ "validate", cmd_validate, "PLAN.json... [--json]",
	  "check plan files against format ecplan/v1 (no database needed)",
	  "Reads each plan file and reports every problem with its file, line, column\n"
	  "and JSON path. Exits 0 when all plans are valid, 2 otherwise.\n"
	  "--json prints {valid, plans: [{file, valid, name, schema, table, column,\n"
	  "new_column, errors}]} on stdout and the errors as one JSON object on stderr.\n" },
	{ "render", cmd_render, "PLAN.json [--phase PHASE] [--rollback] [--db CONNINFO]",
	  "print the SQL of every phase, with the lock each statement takes",
	  "Prints the ordered steps of each phase (or of one, with --phase) as the SQL\n"
	  "ecplan sends: the session's SET lock_timeout and statement_timeout, BEGIN,\n"
	  "SET LOCAL timeouts and COMMIT around each transactional step, index builds\n"
	  "outside a transaction block; with the lock each statement takes as a comment.\n"
	  "SQL linters such as squawk read it as the server would.\n"
	  "With --rollback, prints the steps that undo the phases instead.\n"
	  "Without --db, what depends on the catalog (the key, the indexes, the old\n"
	  "column's type and default) is shown as a placeholder and listed at the end;\n"
	  "with --db CONNINFO (or ECPLAN_DB / DATABASE_URL set) it is read from the\n"
	  "database; the PG* variables alone do not make render connect.\n"
	  "Nothing is changed in the database.\n" },
	{ "advance", cmd_advance, "PLAN.json [--to PHASE | --all] [--db CONNINFO] [--quiet] [--json]",
	  "run the next phase (or up to PHASE, or all), then exit",
	  "Registers the plan on first use (once a phase has started, a file with the\n"
	  "same name that changes a field defining the change exits 8; changed\n"
	  "operational settings are registered: see \"ecplan help update\"), refuses a\n"
	  "paused plan (exit 12), takes the plan's runner lock (a second runner\n"
	  "exits 4), checks that every ${env.X} a webhook uses is set (exit 2),\n"
	  "checks the preconditions of the phase (exit 3), fires the phase's webhooks\n"
	  "(a failed gate exits 5) and runs its steps. An interrupted phase resumes\n"
	  "where it stopped. DDL waits at most safety.lock_timeout_ms per try and is\n"
	  "retried with backoff up to safety.lock_retries times (then exit 6).\n"
	  "Index builds and VALIDATE wait without lock_timeout for older snapshots and\n"
	  "locks, naming the sessions they wait for, up to safety.max_index_wait_s in\n"
	  "total (then the build is cancelled, its leftover dropped: exit 6).\n"
	  "Phases: expand, sync, backfill, switch, contract. --quiet prints only errors;\n"
	  "on a terminal the backfill shows a progress line, otherwise a log line every\n"
	  "100 batches.\n"
	  "Ctrl-C or SIGTERM cancels the statement in flight (an index build, a batch),\n"
	  "rolls its transaction back, records an \"interrupted\" event, prints where it\n"
	  "was (backfill rows, time, rate) and how to resume, then ends by the signal\n"
	  "(130 / 143). A second signal ends it at once.\n"
	  "--to PHASE is the idempotent form for CI: a plan already past PHASE is left\n"
	  "alone and the command exits 0, so a re-run deploy stage is a no-op.\n"
	  "--json prints no progress and ends with {plan, command, ok, exit_code,\n"
	  "state_before, state, changed, running_phase, next, last_error} on stdout;\n"
	  "errors go to stderr as one JSON object.\n" },
	{ "check", cmd_check, "PLAN.json [--json] [--db CONNINFO]",
	  "show the preconditions of the next phase and a backfill estimate (read-only)",
	  "Says what kind each change is (rename, type change, key change) and what\n"
	  "happens to every object around its column, lists every precondition of the\n"
	  "plan's next phase with pass/FAIL, and for phases up to backfill estimates\n"
	  "the backfill from the table size and a timed sample batch. Changes nothing:\n"
	  "once the new column exists the sample is the real batch UPDATE, rolled back,\n"
	  "which holds row locks on up to batch_size rows for its few milliseconds\n"
	  "(waiting at most lock_timeout_ms) and leaves dead tuples for autovacuum;\n"
	  "before that it only computes \"up\" (a lower bound).\n"
	  "Exits 3 when a precondition fails.\n"
	  "--json prints {plan, table, column, new_column, state, registered, next,\n"
	  "kind, changes, preconditions: [{name, ok, detail}], ok, estimate} on stdout.\n" },
	{ "status", cmd_status, "[NAME | PLAN.json] [--json] [--db CONNINFO]",
	  "show one plan, or every plan in the database",
	  "With --json prints one object for a plan, or an array for all plans, with\n"
	  "the fields name, table, column, new_column, phase (the state), next, running,\n"
	  "backfill {rows_done, rows_total, percent, rows_per_second, eta_seconds},\n"
	  "pending_webhooks, last_error and updated_at (and a few more): runner is null\n"
	  "or {pid, host, backend_pid, started_at, application_name, client_addr} of\n"
	  "the ecplan process holding the plan; pending_gates lists failed gate events\n"
	  "awaiting re-delivery; phase_work_done is true when only the running phase's\n"
	  "<phase>.after gate is left; paused is true after \"ecplan pause\";\n"
	  "throttled is null or why the running backfill waits (backfill.throttle),\n"
	  "throttled_seconds the time it waited. rows_per_second and eta_seconds\n"
	  "honour pause_ms and max_rows_per_second (backfill.rate_limited).\n" },
	{ "wait", cmd_wait, "NAME --until PHASE [--timeout S] [--interval S] [--quiet] [--json] [--db CONNINFO]",
	  "wait until a plan reaches a phase (for CI pipelines)",
	  "Polls the plan's state every --interval seconds (default 2) until it has\n"
	  "completed PHASE (or reached the state PHASE names, e.g. rolled_back), and\n"
	  "prints a progress line on stderr per poll (state, running phase, backfill\n"
	  "rows, rate and ETA; --quiet or --json silences it). --timeout defaults to\n"
	  "3600 s (0: no limit); on timeout exits 7. It fails fast instead of waiting\n"
	  "for what cannot come without someone acting:\n"
	  "  2   the plan is not registered (check the name and --db)\n"
	  "  1   its last attempt failed (prints last_error) or its phase was\n"
	  "      interrupted, and no runner holds it\n"
	  "  5   a gate webhook delivery failed and no runner holds it\n"
	  "  10  the plan was rolled back (state rolled_back)\n"
	  "  11  the plan was rolled back below PHASE (or a rollback is running)\n"
	  "With --json prints the plan's `status --json` object on stdout at the end.\n"
	  "SIGINT/SIGTERM ends it by the signal (130/143); it changes nothing.\n" },
	{ "rollback", cmd_rollback, "PLAN.json [--to STATE] [--db CONNINFO] [--quiet] [--json]",
	  "undo phases, newest first, down to planned by default",
	  "Undoes switch (old column authoritative again), backfill (rebuilt indexes\n"
	  "dropped concurrently, NOT NULL check dropped), sync (trigger and function\n"
	  "dropped) and expand (new column dropped), newest first, until the plan is\n"
	  "at STATE (planned by default: the plan ends rolled_back). Fires the\n"
	  "rollback.before and rollback.after webhooks. After contract: exit 9;\n"
	  "a contract that stopped before its drop (exit 6, say) is undone back\n"
	  "to switched.\n"
	  "--json: as for advance (no progress, a result object on stdout, errors as\n"
	  "one JSON object on stderr). SIGINT/SIGTERM: as for advance.\n" },
	{ "history", cmd_history, "NAME [--json] [--db CONNINFO]",
	  "every attempt, step, error and webhook delivery, with times",
	  "Prints the plan's event log from the database, oldest first.\n" },
	{ "verify", cmd_verify, "PLAN.json [--json] [--db CONNINFO]",
	  "count rows where the two columns disagree",
	  "Counts rows where new IS DISTINCT FROM up(old), rows where old IS DISTINCT\n"
	  "FROM down(new), and divergent rows (both); for a key change also the\n"
	  "filled rows that share a value of the new primary key. Exits 0 when no\n"
	  "row is divergent and none shares a key value, 3 otherwise.\n"
	  "--json prints {plan, rows, new_differs, old_differs, divergent,\n"
	  "first_divergent: [{key, old, new}], kind} on stdout, and key_duplicates\n"
	  "for a key change.\n" },
	{ "webhook", cmd_webhook, "test PLAN.json --event EVENT",
	  "send a test delivery to the plan's webhooks for EVENT",
	  "Sends one delivery (marked \"test\": true in the payload) to every webhook of\n"
	  "the plan that subscribes to EVENT, with retries, and prints each attempt.\n"
	  "Exits 0 when all were delivered, 5 otherwise. No database is used.\n" },
	{ "forget", cmd_forget, "NAME [--json] [--db CONNINFO]",
	  "remove a registered plan that never started a phase",
	  "Removes the plan's row, events and webhook deliveries from schema ecplan when\n"
	  "the plan never started a phase (e.g. registered under a mistyped name).\n"
	  "Anything else is refused with the reason: a plan that started phases exits 9\n"
	  "(roll it back instead), one held by a runner exits 4, an unknown one exits 2.\n"
	  "--json prints {\"forgotten\": NAME}.\n" },
	{ "init", cmd_init, "[--print-sql] [--grant ROLE]... [--db CONNINFO]",
	  "create or upgrade ecplan's schemas as an admin; grant a table owner its needs",
	  "Creates schema ecplan (ecplan's state, at the current version: also after\n"
	  "upgrading ecplan) and schema ecplan_archive, as a role that may (an admin).\n"
	  "With --grant ROLE (repeatable), then grants ROLE what it needs to run plans\n"
	  "on the tables it owns: USAGE and CREATE on both schemas and the use of\n"
	  "ecplan's tables. Then ROLE needs no CREATE on the database, no TEMP and no\n"
	  "superuser; \"advance\" checks every privilege a plan needs before its first\n"
	  "change (exit 3, naming each missing one and the GRANT that fixes it).\n"
	  "--print-sql prints that SQL (and the GRANTs) instead of running it.\n" },
	{ "pause", cmd_pause, "NAME | PLAN.json [--json] [--db CONNINFO]",
	  "pause a plan: a running backfill waits between batches",
	  "Sets the plan's paused flag in the state table. A running backfill stops\n"
	  "after its current batch, records a \"paused\" event and waits, polling the\n"
	  "flag every second, with no transaction open and no lock on the table.\n"
	  "\"ecplan advance\" on a paused plan runs nothing and exits 12. Pausing a\n"
	  "paused plan changes nothing; a contracted plan exits 9, an unknown one 2.\n"
	  "--json prints {plan, paused, changed, running}.\n" },
	{ "resume", cmd_resume, "NAME | PLAN.json [--json] [--db CONNINFO]",
	  "resume a paused plan",
	  "Clears the plan's paused flag: a waiting backfill records a \"resumed\"\n"
	  "event and goes on within a second; advance runs the plan again.\n"
	  "--json prints {plan, paused, changed, running}.\n" },
	{ "update", cmd_update, "PLAN.json [--json] [--db CONNINFO]",
	  "register changed operational settings of a started plan",
	  "Registers the plan file when only operational settings differ from the\n"
	  "registered plan: backfill.* (throttle included), safety.*, webhooks, checks,\n"
	  "contract.min_soak_s, description. The change is recorded in the history with\n"
	  "the old and new value of every JSON path (header values hidden). It needs no\n"
	  "runner lock: a running backfill takes the new backfill settings at its next\n"
	  "batch; the others apply from the next command (\"advance\" registers them\n"
	  "too). A change to a field that defines the change (table, change.*,\n"
	  "contract.archive, format, name) is drift: exit 8, nothing registered.\n"
	  "--json prints {plan, changed, running, changes: [{path, registered, file}]}.\n" },
	{ "help", cmd_help, "[COMMAND]", "show help for ecplan or one command",
	  "Without COMMAND prints the list of commands; with one prints its usage,\n"
	  "what it does and its options (the same text as \"ecplan COMMAND --help\").\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

const cli_command *cli_find_command(const char *name)
{
	for (const cli_command *c = cli_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* Where a password belongs, for every help text that mentions --db. */
static const char password_text[] =
	"Passwords: give them with PGPASSWORD, ~/.pgpass (or PGPASSFILE) or in\n"
	"ECPLAN_DB, not in --db: ecplan hides a --db password from the process list\n"
	"(ps shows ***) once it starts, but it stays in shell history and is visible\n"
	"for the first moment.\n";

void cli_print_help(const cli_command *cmd)
{
	printf("usage: ecplan %s %s\n\n%s\n%s", cmd->name, cmd->usage, cmd->summary, cmd->help);
	if (strstr(cmd->usage, "--db"))
		printf("\n%s", password_text);
	printf("\n%s", cli_exit_codes_text);
}

static void print_main_help(FILE *out)
{
	fprintf(out,
		"usage: ecplan <command> [options]\n\n"
		"Runs zero-downtime PostgreSQL column changes (rename, type change, NOT NULL)\n"
		"as expand-contract plans: expand, sync, backfill, switch, contract.\n"
		"Needs PostgreSQL 13 or later.\n\n"
		"Commands:\n");
	for (const cli_command *c = cli_commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fprintf(out,
		"\nConnection (commands that use a database): --db CONNINFO (a libpq keyword\n"
		"string or URI), else $ECPLAN_DB, else $DATABASE_URL, else the libpq\n"
		"defaults (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).\n%s\n"
		"Run \"ecplan help <command>\" or \"ecplan <command> --help\" for details.\n\n%s",
		password_text, cli_exit_codes_text);
}

/* "unknown command", with the closest command when there is one. */
static int unknown_command(const char *name)
{
	const char *names[32];
	size_t n = 0;
	for (const cli_command *c = cli_commands; c->name && n < 31; c++)
		names[n++] = c->name;
	names[n] = NULL;
	const char *s = ecplan_suggest(name, names);
	if (s)
		return cli_fail(ECPLAN_EINVALID, NULL, "run \"ecplan help\" for the list",
				"unknown command \"%s\"; did you mean \"%s\"?", name, s);
	return cli_fail(ECPLAN_EINVALID, NULL, "run \"ecplan help\" for the list", "unknown command \"%s\"",
			name);
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		print_main_help(stdout);
		return EXIT_DONE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		cli_print_help(cli_find_command("help"));
		return EXIT_DONE;
	}
	if (argc > 2)
		return cli_usage_error(cli_find_command("help"), "give at most one command");
	const cli_command *c = cli_find_command(argv[1]);
	if (!c)
		return unknown_command(argv[1]);
	cli_print_help(c);
	return EXIT_DONE;
}

/* The real --db values, whose argv bytes now show "***" for a password. */
static char *db_values[8];

/*
 * Hides passwords given with --db from the process list (ps, /proc/PID/cmdline)
 * for the rest of the run, as psql and other database tools do: the argument's
 * own bytes are overwritten with the masked text (NUL-padded) and argv points
 * to a private copy of the real value.
 */
static void mask_db_arguments(int argc, char **argv)
{
	size_t n = 0;
	for (int i = 1; i < argc && n < sizeof(db_values) / sizeof(db_values[0]); i++) {
		char *val = NULL;
		char **slot = NULL;
		if (!strcmp(argv[i], "--db") && i + 1 < argc) {
			slot = &argv[i + 1];
			val = argv[i + 1];
		} else if (!strncmp(argv[i], "--db=", 5)) {
			slot = &argv[i];
			val = argv[i] + 5;
		}
		if (!val)
			continue;
		char *masked = ecplan_db_mask_password(val);
		if (!masked)
			continue;
		char *copy = ecplan_xstrdup(*slot);
		size_t len = strlen(val), mlen = strlen(masked);
		/* A 1-2 character password makes the masked text longer: cut it. */
		memcpy(val, masked, mlen < len ? mlen : len);
		if (mlen < len)
			memset(val + mlen, '\0', len - mlen);
		free(masked);
		*slot = copy;
		db_values[n++] = copy;
	}
}

int main(int argc, char **argv)
{
	mask_db_arguments(argc, argv);
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
	for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json"))
			cli_json = true;
	const cli_command *c = cli_find_command(argv[1]);
	if (!c)
		return unknown_command(argv[1]);
	if (c->fn != cmd_help && cli_wants_help(argc - 1, argv + 1)) {
		cli_print_help(c);
		return EXIT_DONE;
	}
	return c->fn(argc - 1, argv + 1);
}
