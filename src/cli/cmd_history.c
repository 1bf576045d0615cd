/* ecplan history: the plan's event log, oldest first. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "ecplan/db.h"
#include "ecplan/state.h"

int cmd_history(int argc, char **argv)
{
	const cli_command *self = cli_find_command("history");
	bool as_json = false;
	const char *db = NULL;
	if (cli_parse_json_db(self, argc, argv, &as_json, &db) < 0)
		return EXIT_USAGE;
	if (optind != argc - 1)
		return cli_usage_error(self, "give one plan name");
	char *name = cli_plan_name(argv[optind]);
	if (!name)
		return EXIT_USAGE;
	PGconn *conn = NULL;
	PGresult *res = NULL;
	ecplan_error err;
	ecplan_error_clear(&err);
	int rc = EXIT_RUNTIME;
	bool exists = false;
	if (cli_connect_state(&conn, db, &exists) < 0)
		goto done;
	if (exists) {
		const char *params[1] = { name };
		if (ecplan_db_query(&res, conn,
			"SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), kind,"
			" coalesce(phase, ''), message, data::text FROM ecplan.events WHERE plan = $1 ORDER BY id",
			1, params, &err) < 0) {
			cli_print_error(&err);
			goto done;
		}
	}
	int n = res ? PQntuples(res) : 0;
	if (n == 0 && !as_json) {
		rc = cli_fail(ECPLAN_ENOTFOUND, NULL, "\"ecplan status\" lists the registered plans; check --db",
			      "no history for plan \"%s\" in this database", name);
		goto done;
	}
	json_t *arr = json_array();
	for (int i = 0; i < n; i++) {
		json_t *data = PQgetisnull(res, i, 4) ? json_null() : json_loads(PQgetvalue(res, i, 4), 0, NULL);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:s, s:o}",
			"at", PQgetvalue(res, i, 0), "kind", PQgetvalue(res, i, 1),
			"phase", PQgetvalue(res, i, 2)[0] ? PQgetvalue(res, i, 2) : NULL,
			"message", PQgetvalue(res, i, 3), "data", data ? data : json_null()));
		if (!as_json)
			printf("%s  %-12s %-9s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			       PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	}
	if (as_json) {
		char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
	}
	json_decref(arr);
	rc = EXIT_DONE;
done:
	PQclear(res);
	free(name);
	ecplan_db_close(conn);
	return rc;
}
