/*
 * ecplan pause / resume: set or clear a plan's paused flag in the state
 * table. A running backfill stops between batches (no transaction open, no
 * lock on the table) and waits; advance refuses a paused plan (exit 12).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "ecplan/db.h"
#include "ecplan/state.h"
#include "ecplan/strbuf.h"
#include "ecplan/watch.h"

static int set_paused(const char *cmd, bool paused, int argc, char **argv)
{
	const cli_command *self = cli_find_command(cmd);
	bool as_json = false;
	const char *db = NULL;
	int first = cli_parse_json_db(self, argc, argv, &as_json, &db);
	if (first < 0)
		return EXIT_USAGE;
	if (argc - first != 1)
		return cli_usage_error(self, "give one plan name or plan file");
	char *name = cli_plan_name(argv[first]);
	if (!name)
		return EXIT_USAGE;
	PGconn *conn = NULL;
	ecplan_error err;
	ecplan_error_clear(&err);
	bool exists = false, changed = false, running = false;
	int rc = EXIT_RUNTIME;
	if (cli_connect_state(&conn, db, &exists) < 0)
		goto done;
	if (!exists) {
		rc = cli_fail(ECPLAN_ENOTFOUND, NULL, "\"ecplan status\" lists the registered plans; check --db",
			      "plan \"%s\" is not registered in this database", name);
		goto done;
	}
	char host[256] = "?";
	gethostname(host, sizeof(host) - 1);
	char *who = ecplan_xstrfmt("\"ecplan %s\" (pid %ld on host \"%s\")", cmd, (long)getpid(), host);
	int lrc = ecplan_state_ensure_schema(conn, &err);
	if (lrc == 0)
		lrc = ecplan_state_set_paused(&changed, conn, name, paused, who, &err);
	free(who);
	if (lrc < 0) {
		cli_print_error(&err);
		rc = cli_exit_code(err.code);
		goto done;
	}
	ecplan_runner_info holder;
	if (ecplan_watch_runner(&holder, conn, name, NULL) == 0)
		running = holder.held;
	ecplan_runner_info_release(&holder);
	if (as_json) {
		json_t *o = json_pack("{s:s, s:b, s:b, s:b}", "plan", name, "paused", paused, "changed", changed,
				      "running", running);
		cli_print_json(o);
		json_decref(o);
	} else if (!changed) {
		printf("plan \"%s\" is already %s\n", name, paused ? "paused" : "not paused");
	} else if (paused) {
		printf("plan \"%s\" paused%s\n", name,
		       running ? ": the running backfill stops after its current batch and waits (it holds no "
				 "lock on the table meanwhile)"
			       : "; \"ecplan advance\" refuses it (exit 12) until \"ecplan resume\"");
	} else {
		printf("plan \"%s\" resumed%s\n", name,
		       running ? ": the running backfill goes on within a second" : "");
	}
	rc = EXIT_DONE;
done:
	free(name);
	ecplan_db_close(conn);
	return rc;
}

int cmd_pause(int argc, char **argv)
{
	return set_paused("pause", true, argc, argv);
}

int cmd_resume(int argc, char **argv)
{
	return set_paused("resume", false, argc, argv);
}
