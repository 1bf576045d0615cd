/* ecplan init: create (or upgrade) ecplan's schemas as an admin, and grant a
 * table owner what it needs; or print that SQL. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ecplan/db.h"
#include "ecplan/privs.h"
#include "ecplan/state.h"

int cmd_init(int argc, char **argv)
{
	const cli_command *self = cli_find_command("init");
	static const struct option opts[] = {
		{ "print-sql", no_argument, NULL, 'p' },
		{ "grant", required_argument, NULL, 'g' },
		{ "db", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = NULL;
	const char **roles = calloc((size_t)argc + 1, sizeof(char *));
	size_t nroles = 0;
	bool print = false;
	int c, rc = EXIT_DONE;
	if (!roles)
		return EXIT_RUNTIME;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			print = true;
			break;
		case 'g':
			if (!*optarg) {
				free(roles);
				return cli_usage_error(self, "--grant needs a role name");
			}
			roles[nroles++] = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		default:
			free(roles);
			return cli_usage_error(self, "unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		free(roles);
		return cli_usage_error(self, "unexpected argument \"%s\"", argv[optind]);
	}
	if (print) {
		char *sql = ecplan_state_init_sql();
		printf("-- ecplan %s: schema ecplan (state) and ecplan_archive (contract.archive).\n"
		       "-- Run as an admin (a role with CREATE on the database); idempotent.\n%s",
		       ECPLAN_VERSION, sql);
		free(sql);
		printf("\n-- What a role that owns the tables it changes needs (run as the owner of schema\n"
		       "-- ecplan, i.e. the admin above), here for %s:\n",
		       nroles ? "the roles given with --grant" : "\"table_owner\" (name yours with --grant ROLE)");
		if (!nroles)
			roles[nroles++] = "table_owner";
		for (size_t i = 0; i < nroles; i++) {
			char *g = ecplan_privs_grant_sql(roles[i]);
			printf("%s", g);
			free(g);
		}
		printf("-- The role must also own each table it changes (or have its owner's privileges:\n"
		       "-- GRANT owner TO role), have USAGE on the table's schema, CREATE there too when\n"
		       "-- the backfill rebuilds indexes on the column, and REFERENCES on the tables a\n"
		       "-- foreign key from the column refers to; \"ecplan advance\" checks all of it before\n"
		       "-- expand. Nothing else: no CREATE on the database, no TEMP, no superuser.\n"
		       "-- (\"ecplan forget\" also needs DELETE on ecplan.plans, ecplan.events and\n"
		       "-- ecplan.deliveries.)\n");
		free(roles);
		return EXIT_DONE;
	}
	PGconn *conn = NULL;
	ecplan_error err;
	ecplan_error_clear(&err);
	if (cli_connect(&conn, db) < 0) {
		free(roles);
		return EXIT_RUNTIME;
	}
	if (ecplan_state_init(conn, &err) < 0) {
		cli_print_error(&err);
		rc = cli_exit_code(err.code);
		goto done;
	}
	printf("schema ecplan is at version %d; schema ecplan_archive exists\n", ECPLAN_STATE_SCHEMA_VERSION);
	for (size_t i = 0; i < nroles; i++) {
		ecplan_error_clear(&err);
		if (ecplan_privs_grant(conn, roles[i], &err) < 0) {
			cli_print_error(&err);
			rc = cli_exit_code(err.code);
			goto done;
		}
		printf("granted role \"%s\" what it needs on schemas ecplan and ecplan_archive\n", roles[i]);
	}
done:
	ecplan_db_close(conn);
	free(roles);
	return rc;
}
