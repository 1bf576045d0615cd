/* ecplan forget: remove a registered plan that never started a phase. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "ecplan/db.h"
#include "ecplan/state.h"

int cmd_forget(int argc, char **argv)
{
	const cli_command *self = cli_find_command("forget");
	bool as_json = false;
	const char *db = NULL;
	int first = cli_parse_json_db(self, argc, argv, &as_json, &db);
	if (first < 0)
		return EXIT_USAGE;
	if (argc - first != 1)
		return cli_usage_error(self, "give one plan name");
	char *name = cli_plan_name(argv[first]);
	if (!name)
		return EXIT_USAGE;
	PGconn *conn = NULL;
	ecplan_error err;
	ecplan_error_clear(&err);
	bool exists = false;
	int rc = EXIT_RUNTIME;
	if (cli_connect_state(&conn, db, &exists) < 0)
		goto done;
	if (!exists) {
		rc = cli_fail(ECPLAN_ENOTFOUND, NULL, "\"ecplan status\" lists the registered plans; check --db",
			      "plan \"%s\" is not registered in this database", name);
		goto done;
	}
	if (ecplan_state_forget(conn, name, &err) < 0) {
		cli_print_error(&err);
		rc = cli_exit_code(err.code);
		goto done;
	}
	if (as_json)
		printf("{\"forgotten\": \"%s\"}\n", name); /* plan names are [a-z0-9_-] */
	else
		printf("plan \"%s\" forgotten (it had not started any phase)\n", name);
	rc = EXIT_DONE;
done:
	free(name);
	ecplan_db_close(conn);
	return rc;
}
