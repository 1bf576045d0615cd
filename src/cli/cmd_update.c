/*
 * ecplan update: registers a plan file whose operational settings
 * (backfill.*, safety.*, webhooks, checks, contract.min_soak_s, description)
 * changed after the plan started. It needs no runner lock: a running
 * backfill picks the new batch and throttle settings up at its next batch.
 * A change to a field that defines the change is drift (exit 8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "ecplan/db.h"
#include "ecplan/state.h"
#include "ecplan/watch.h"

int cmd_update(int argc, char **argv)
{
	const cli_command *self = cli_find_command("update");
	const char *db = NULL;
	bool as_json = false;
	int rc = EXIT_USAGE;
	ecplan_plan *plan = cli_parse_plan_args(self, argc, argv, &db, &as_json, &rc);
	if (!plan)
		return rc;
	PGconn *conn = NULL;
	ecplan_plan_row *row = NULL;
	char *changes = NULL, *lines = NULL;
	ecplan_error err;
	ecplan_error_clear(&err);
	bool exists = false, running = false;
	rc = EXIT_RUNTIME;
	if (cli_connect_state(&conn, db, &exists) < 0)
		goto done;
	if (exists && ecplan_state_load(&row, conn, plan->name, &err) < 0) {
		cli_print_error(&err);
		goto done;
	}
	if (!row) {
		rc = cli_fail(ECPLAN_ENOTFOUND, NULL, "\"ecplan advance PLAN.json\" registers a plan; check --db",
			      "plan \"%s\" is not registered in this database", plan->name);
		goto done;
	}
	int c = ecplan_state_compare(&changes, plan, row, &err);
	bool started = row->running != ECPLAN_PHASE_NONE || row->rollback_attempts > 0;
	for (int i = 0; i < ECPLAN_PHASE_COUNT; i++)
		started |= row->attempts[i] > 0;
	if (c < 0 && !started)
		ecplan_error_hint(&err, "the plan has not started a phase: \"ecplan advance %s\" replaces it "
					"with this file", plan->source);
	if (c < 0) {
		cli_print_error(&err);
		rc = cli_exit_code(err.code);
		goto done;
	}
	if (c == 1 && ecplan_state_register_settings(conn, plan, changes, &err) < 0) {
		cli_print_error(&err);
		rc = cli_exit_code(err.code);
		goto done;
	}
	ecplan_runner_info holder;
	if (ecplan_watch_runner(&holder, conn, plan->name, NULL) == 0)
		running = holder.held;
	ecplan_runner_info_release(&holder);
	if (as_json) {
		json_t *o = json_pack("{s:s, s:b, s:b, s:o}", "plan", plan->name, "changed", c == 1,
				      "running", running,
				      "changes", changes ? json_loads(changes, 0, NULL) : json_array());
		cli_print_json(o);
		json_decref(o);
	} else if (c == 0) {
		printf("plan \"%s\": the file is the registered plan; nothing to update\n", plan->name);
	} else {
		lines = ecplan_state_describe_changes(changes);
		printf("plan \"%s\": new settings registered:%s\n", plan->name, lines);
		if (running)
			printf("the running backfill takes the backfill settings at its next batch; the others "
			       "apply from the next command\n");
	}
	rc = EXIT_DONE;
done:
	free(changes);
	free(lines);
	ecplan_plan_row_free(row);
	ecplan_plan_free(plan);
	ecplan_db_close(conn);
	return rc;
}
