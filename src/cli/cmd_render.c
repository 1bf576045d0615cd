/* ecplan render: the SQL of every phase, with locks and transaction notes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/render.h"
#include "ecplan/render_text.h"

int cmd_render(int argc, char **argv)
{
	const cli_command *self = cli_find_command("render");
	static const struct option opts[] = {
		{ "phase", required_argument, NULL, 'p' },
		{ "rollback", no_argument, NULL, 'r' },
		{ "db", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	ecplan_phase only = ECPLAN_PHASE_NONE;
	bool undo = false;
	const char *db = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			only = ecplan_phase_parse(optarg);
			if (only == ECPLAN_PHASE_NONE)
				return cli_usage_error(self, "unknown phase \"%s\" (phases: expand, sync, "
							     "backfill, switch, contract)", optarg);
			break;
		case 'r': undo = true; break;
		case 'd': db = optarg; break;
		default:
			return cli_option_error(self, opts, argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error(self, optind >= argc ? "no plan file given" : "give one plan file");
	ecplan_plan *plan = cli_load_plan(argv[optind]);
	if (!plan)
		return EXIT_USAGE;
	ecplan_catalog **cats = NULL;
	/* The catalog is read only when a database is named: render must work
	 * without one. */
	if (db || getenv("ECPLAN_DB") || getenv("DATABASE_URL")) {
		PGconn *conn = NULL;
		ecplan_error err;
		ecplan_error_clear(&err);
		if (cli_connect(&conn, db) < 0) {
			ecplan_plan_free(plan);
			return EXIT_RUNTIME;
		}
		int rc = ecplan_catalog_load_plan(&cats, conn, plan, &err);
		ecplan_db_close(conn);
		if (rc < 0) {
			cli_print_error(&err);
			ecplan_catalogs_free(cats, plan);
			ecplan_plan_free(plan);
			return cli_exit_code(rc);
		}
		for (size_t i = 0; i < plan->nchanges; i++) {
			if (cats[i]->table_exists && cats[i]->column_exists)
				continue;
			const ecplan_plan *ch = ecplan_plan_change(plan, i);
			fprintf(stderr, "ecplan: %s (%s.%s.%s)\nhint: check \"table\" and \"%s.column\" in the plan, and --db\n",
				!cats[i]->table_exists ? "the table does not exist in that database"
						       : "the column does not exist in that table",
				ch->schema, ch->table, ch->column, ch->json_path);
			ecplan_catalogs_free(cats, plan);
			ecplan_plan_free(plan);
			return EXIT_PRECONDITION;
		}
	}
	const ecplan_catalog *const *ccats = (const ecplan_catalog *const *)cats;
	if (plan->nchanges > 1) {
		printf("-- ecplan %s: plan \"%s\" with %zu changes:\n", ECPLAN_VERSION, plan->name, plan->nchanges);
		for (size_t i = 0; i < plan->nchanges; i++) {
			const ecplan_plan *ch = ecplan_plan_change(plan, i);
			printf("--   %s.%s: %s -> %s\n", ch->schema, ch->table, ch->column, ch->new_column);
		}
	} else {
		printf("-- ecplan %s: plan \"%s\" on %s.%s: %s -> %s\n", ECPLAN_VERSION, plan->name,
		       plan->schema, plan->table, plan->column, plan->new_column);
	}
	for (size_t i = 0; cats && i < plan->nchanges; i++) {
		/* The inventory, as comments: what each phase does to each object. */
		char *inv = ecplan_depend_describe(cats[i]);
		if (plan->nchanges > 1)
			printf("--\n-- objects that depend on or name %s.%s.%s:\n", ecplan_plan_change(plan, i)->schema,
			       ecplan_plan_change(plan, i)->table, ecplan_plan_change(plan, i)->column);
		else
			printf("--\n-- objects that depend on or name the column:\n");
		for (char *line = strtok(inv, "\n"); line; line = strtok(NULL, "\n"))
			printf("--   %s\n", line);
		free(inv);
	}
	for (int i = 0; i < ECPLAN_PHASE_COUNT; i++) {
		ecplan_phase p = undo ? (ecplan_phase)(ECPLAN_PHASE_SWITCH - i) : (ecplan_phase)i;
		if (p < 0 || (undo && p == ECPLAN_PHASE_CONTRACT))
			continue;
		if (only != ECPLAN_PHASE_NONE && only != p)
			continue;
		ecplan_steps steps;
		if (undo)
			ecplan_render_plan_undo(&steps, plan, ccats, p);
		else
			ecplan_render_plan_phase(&steps, plan, ccats, p);
		char *text = ecplan_render_plan_steps_text(&steps, plan, ccats, p, undo);
		printf("\n%s", text);
		free(text);
		ecplan_steps_release(&steps);
	}
	if (undo && only == ECPLAN_PHASE_CONTRACT)
		printf("\n-- contract cannot be rolled back; the old column's values are archived in "
		       "ecplan_archive.\"%s\"\n", plan->name);
	ecplan_catalogs_free(cats, plan);
	ecplan_plan_free(plan);
	return EXIT_DONE;
}
