/* ecplan verify: count rows where the two columns disagree, list the first ones. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ecplan/catalog.h"
#include "ecplan/db.h"
#include "ecplan/render.h"

int cmd_verify(int argc, char **argv)
{
	const cli_command *self = cli_find_command("verify");
	const char *db = NULL;
	int rc;
	ecplan_plan *plan = cli_parse_plan_args(self, argc, argv, &db, NULL, &rc);
	if (!plan)
		return rc;
	PGconn *conn = NULL;
	ecplan_catalog *cat = NULL;
	PGresult *res = NULL;
	ecplan_error err;
	ecplan_error_clear(&err);
	rc = EXIT_RUNTIME;
	if (cli_connect(&conn, db) < 0)
		goto done;
	if (ecplan_catalog_load(&cat, conn, plan, &err) < 0) {
		cli_print_error(&err);
		goto done;
	}
	if (!cat->table_exists || !cat->column_exists || !cat->new_column_exists) {
		fprintf(stderr, "ecplan: nothing to verify: %s\nhint: verify compares \"%s\" and \"%s\" "
				"between expand and contract\n",
			!cat->table_exists ? "the table does not exist"
			: !cat->column_exists ? "the old column is gone (contracted?)"
					      : "the new column does not exist yet (run expand first)",
			plan->column, plan->new_column);
		rc = cat->table_exists && !cat->column_exists ? EXIT_IMPOSSIBLE : EXIT_PRECONDITION;
		goto done;
	}
	char *sql = ecplan_render_verify(plan, cat);
	ecplan_db_set_session_timeouts(conn, -1, 0, NULL);
	int q = ecplan_db_query(&res, conn, sql, 0, NULL, &err);
	free(sql);
	if (q < 0) {
		cli_print_error(&err);
		goto done;
	}
	long long divergent = atoll(PQgetvalue(res, 0, 2));
	printf("rows: %s\nnew differs from up(old): %s\nold differs from down(new): %s\ndivergent (both differ): %lld\n",
	       PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), divergent);
	rc = divergent == 0 ? EXIT_DONE : EXIT_PRECONDITION;
	if (divergent && cat->nkey) {
		PGresult *sample = NULL;
		char *ssql = ecplan_render_divergent_sample(plan, cat, 10);
		if (ecplan_db_query(&sample, conn, ssql, 0, NULL, NULL) == 0) {
			printf("first divergent rows (key: old | new):\n");
			for (int i = 0; i < PQntuples(sample); i++) {
				printf("  ");
				for (int k = 0; k < (int)cat->nkey; k++)
					printf("%s%s", k ? ", " : "", PQgetvalue(sample, i, k));
				printf(": %s | %s\n", PQgetisnull(sample, i, (int)cat->nkey) ? "NULL" : PQgetvalue(sample, i, (int)cat->nkey),
				       PQgetisnull(sample, i, (int)cat->nkey + 1) ? "NULL" : PQgetvalue(sample, i, (int)cat->nkey + 1));
			}
		}
		PQclear(sample);
		free(ssql);
	}
	if (divergent)
		fprintf(stderr, "ecplan: %lld rows have \"%s\" and \"%s\" out of agreement\n"
				"hint: rows written to \"%s\" before the sync trigger existed (or with it disabled) "
				"stay out of agreement; fix them, or roll the plan back and advance again\n",
			divergent, plan->column, plan->new_column, plan->new_column);
done:
	PQclear(res);
	ecplan_catalog_free(cat);
	ecplan_db_close(conn);
	ecplan_plan_free(plan);
	return rc;
}
